"""Benchmark invariant conservation of chosen architectures on a chosen system.

Builds a small benchmark grid in code (``evaluation.BenchConfig``), runs it
with ``evaluation.bench`` (train on short windows, roll out 100 times longer
from held-out initial conditions, score) and prints, per architecture, the
final relative drift of every invariant the system declares, the drift growth
exponent and the valid prediction time. The full report and plots land in
``--out``.

    python examples/benchmark_invariants.py --system pendulum --arch bilinear relu
    python examples/benchmark_invariants.py --quick
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile

import dynsys
import learners
from evaluation import BenchConfig, RolloutSpec, SystemSpec, TrainSpec, bench


def make_config(
    systems: list[SystemSpec], archs: list[str], seeds: int, quick: bool
) -> BenchConfig:
    """A grid over ``systems x archs``; ``quick`` shrinks every size."""
    train = TrainSpec(n_traj=16, window=5, epochs=3, params=800, batch_size=32)
    roll = RolloutSpec(n_test=4, horizon=20, jacobian_points=8)
    if not quick:
        train = TrainSpec(n_traj=64, window=10, epochs=100, params=1200, batch_size=64)
        roll = RolloutSpec(n_test=16, horizon=100)
    return BenchConfig(
        name="example",
        systems=tuple(systems),
        archs=tuple(archs),
        seeds=seeds,
        train=train,
        rollout=roll,
    )


def invariant_table(rows: list[dict]) -> str:
    """Per system and architecture: seed medians of the drift metrics."""
    drift_keys = sorted(
        {k for r in rows for k in r if k.startswith("drift/") and k.endswith("_final")}
    )
    cols = [*drift_keys, "drift_exponent", "vpt_time", "diverged_fraction"]
    head = ["system", "arch", *(c.removeprefix("drift/") for c in cols)]
    lines = ["  ".join(f"{h:>14}" for h in head)]
    for key in dict.fromkeys((r["system"], r["arch"]) for r in rows):
        group = [r for r in rows if (r["system"], r["arch"]) == key]
        cells = [_seed_median(group, c) for c in cols]
        lines.append("  ".join(f"{v:>14}" for v in (*key, *cells)))
    return "\n".join(lines)


def _seed_median(rows: list[dict], key: str) -> str:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    if not values:
        return "-"
    value = statistics.median_low(values)
    return f"{value:.3e}" if math.isfinite(value) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--system", default="pendulum", choices=dynsys.available_systems()
    )
    parser.add_argument(
        "--arch", nargs="+", default=["bilinear", "relu"], choices=learners.available()
    )
    parser.add_argument(
        "--mode", default="one-step", choices=("one-step", "neural-ode")
    )
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--out", default=None, help="output directory (default: a temporary one)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 seed")
    args = parser.parse_args(argv)

    spec = SystemSpec(key=args.system, name=args.system, modes=(args.mode,))
    config = make_config([spec], args.arch, 1 if args.quick else args.seeds, args.quick)
    out = args.out or tempfile.mkdtemp(prefix="dynsys-bench-")
    rows = bench(config, out, plots=not args.quick)
    print(invariant_table(rows))
    print(f"report: {out}/report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
