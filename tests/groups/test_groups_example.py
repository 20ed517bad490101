"""The add-a-group example runs as a script and its group passes check_group."""

from __future__ import annotations

import math
import runpy
import sys
from pathlib import Path

import pytest
import torch

from dynsys.groups import _registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "add_a_lie_group.py"


@pytest.fixture
def scratch_registry(monkeypatch):
    """Only the built-in groups, and the example's registrations vanish after.

    Starting from the built-ins keeps the printed list independent of groups
    that other tests registered at run time in the same process.
    """
    builtin = ("se2", "se3", "so2", "so3", "sp")
    monkeypatch.setattr(
        _registry, "_FACTORIES", {k: _registry._FACTORIES[k] for k in builtin}
    )


def test_example_script_runs_and_registers_so4(scratch_registry, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--quick"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "registered groups: se2, se3, so2, so3, so4, sp" in out
    assert "check_group passed for torch.float64" in out


def test_example_group_is_so4(scratch_registry):
    SO4 = runpy.run_path(str(EXAMPLE))["SO4"]
    G = SO4()
    assert (G.dim, G.matrix_size) == (6, 4)
    # exp of t times the first generator is the rotation by t in the (x1, x2) plane.
    t = 0.7
    R = G.exp(torch.tensor([t, 0, 0, 0, 0, 0], dtype=torch.float64))
    want = torch.eye(4, dtype=torch.float64)
    want[:2, :2] = torch.tensor(
        [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=torch.float64
    )
    torch.testing.assert_close(R, want, atol=1e-15, rtol=0)
    assert G.residual(R).item() < 1e-15


@pytest.mark.xfail(
    raises=ValueError,
    strict=True,
    reason="MatrixLieGroup.log is the principal matrix log, undefined for an "
    "eigenvalue -1, although SO(4) has a logarithm there",
)
def test_generic_log_of_a_half_turn(scratch_registry):
    G = runpy.run_path(str(EXAMPLE))["SO4"]()
    xi = torch.tensor([math.pi, 0, 0, 0, 0, 0.3], dtype=torch.float64)
    torch.testing.assert_close(G.exp(G.log(G.exp(xi))), G.exp(xi))
