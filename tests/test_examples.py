"""Every example script runs end to end in its short (``--quick``) mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
#: Extra arguments per example; every example takes ``--quick``.
EXTRA = {
    "long_rollout.py": ["--out", "drift.png"],
    "benchmark_invariants.py": ["--out", "bench"],
    "benchmark_new_group.py": ["--arch", "bilinear", "relu", "--out", "b"],
}


def test_examples_exist():
    assert {
        "long_rollout.py",
        "benchmark_invariants.py",
        "benchmark_new_group.py",
    } <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs(name, tmp_path):
    script = ROOT / "examples" / name
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DYNSYS_NO_PROGRESS": "1",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", *EXTRA.get(name, [])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()
    if name == "long_rollout.py":
        assert (tmp_path / "drift.png").stat().st_size > 0
        assert "energy drift" in proc.stdout
    if name.startswith("benchmark_"):
        out = tmp_path / ("bench" if name == "benchmark_invariants.py" else "b")
        assert (out / "results.csv").exists() and (out / "report.md").exists()
