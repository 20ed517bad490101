"""Throughput of ``evaluation.rollout`` against a bare loop of forward calls.

The bare loop is ``x = op.step(x)`` under ``torch.no_grad()`` with nothing
kept; ``rollout`` also stores every frame and records divergence. The ratio
of their wall times (median of ``--repeats`` runs) is the overhead; the target
is at most 1.3x.

    .venv/bin/python benchmarks/rollout.py [--steps 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import learners
from evaluation import rollout


def bare_loop(op, x: torch.Tensor, steps: int) -> torch.Tensor:
    """The baseline: forward calls only."""
    with torch.no_grad():
        for _ in range(steps):
            x = op.step(x)
    return x


def median_times(fns, repeats: int) -> list[float]:
    """Median wall time of each of ``fns`` over ``repeats`` rounds.

    The functions run interleaved, one warm-up each, so that load from other
    processes on a shared machine hits them alike.
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - start)
    return [statistics.median(acc) for acc in times]


def near_identity(arch: str, mode: str, dtype: torch.dtype):
    """An untrained operator scaled to move states slowly, so that no rollout
    diverges (a diverged rollout stops early and would flatter the ratio)."""
    model = learners.make_model(arch, 12, 12, match_params=1200, seed=0)
    if mode == "one-step":
        op = learners.OneStep(model)
    else:
        op = learners.NeuralODE(model, dt=0.01)
    op.normalizer.delta_std.fill_(1e-4)
    return op.to(dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{'arch':<9} {'mode':<10} {'batch':>5} {'dtype':<8} {'bare ms/step':>12} "
        f"{'rollout ms/step':>15} {'ratio':>6}"
    )
    for arch, mode, batch, dtype in [
        ("bilinear", "one-step", 16, torch.float32),
        ("bilinear", "one-step", 256, torch.float32),
        ("relu", "one-step", 16, torch.float32),
        ("bilinear", "one-step", 16, torch.float64),
        ("bilinear", "neural-ode", 16, torch.float32),
    ]:
        op = near_identity(arch, mode, dtype)
        x0 = torch.randn(batch, 12, dtype=dtype) * 0.1
        steps = args.steps // (4 if mode == "neural-ode" else 1)
        bare, ours = median_times(
            [
                lambda op=op, x0=x0, s=steps: bare_loop(op, x0, s),
                lambda op=op, x0=x0, s=steps: rollout(op, x0, s),
            ],
            args.repeats,
        )
        finite = bool(torch.isfinite(rollout(op, x0, steps)).all())
        print(
            f"{arch:<9} {mode:<10} {batch:>5} {str(dtype)[6:]:<8} "
            f"{1e3 * bare / steps:>12.4f} {1e3 * ours / steps:>15.4f} "
            f"{ours / bare:>6.2f}  finite={finite}"
        )


if __name__ == "__main__":
    main()
