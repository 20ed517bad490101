"""A long learned rollout: 10^6 steps of the free rigid body, invariants plotted.

Trains a one-step model on short windows of the rigid body (inertia 1, 2, 3),
rolls it out for a million steps from held-out initial conditions and plots
the relative drift of the body's energy and Casimir ``|m|^2`` against time on
log-log axes. The exact flow keeps both constant (Marsden and Ratiu,
Introduction to Mechanics and Symmetry, 1999, sec. 15.3); the ground-truth
integrator (a Lie-Poisson splitting) keeps them to round-off. A trajectory
that blows up is recorded as diverged, not raised.

    python examples/long_rollout.py [--arch tanh] [--steps 1000000] [--out drift.png]
    python examples/long_rollout.py --quick      # 500 steps, seconds
"""

from __future__ import annotations

import argparse
import math
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import dynsys  # noqa: E402
import learners  # noqa: E402
from evaluation import divergence_step, rollout  # noqa: E402


def train_operator(system, arch: str, epochs: int, seed: int = 0):
    """One-step operator trained on 64 windows of 10 steps."""
    data = dynsys.simulate(system, system.sample(64, seed=seed), steps=10)
    model = learners.make_model(
        arch, system.state_dim, system.state_dim, match_params=1200, seed=seed
    )
    op = learners.OneStep(model)
    learners.train(op, data, epochs=epochs, lr=3e-3, batch_size=64, seed=seed)
    return op


def drift_curves(system, pred: torch.Tensor) -> dict[str, torch.Tensor]:
    """Median over trajectories of ``|I(x_t) - I(x_0)| / |I(x_0)|``."""
    out = {}
    for name in ("energy", "casimir"):
        values = system.invariants(pred.double())[name]
        drift = (values - values[:1]).abs() / values[:1].abs()
        out[name] = torch.nan_to_num(drift, nan=math.inf).median(dim=1).values
    return out


def plot(curves: dict, dt: float, arch: str, path: str) -> None:
    frames = next(iter(curves.values())).shape[0]
    t = torch.unique(torch.logspace(0, math.log10(frames - 1), 400).long())
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, curve in curves.items():
        ok = torch.isfinite(curve[t]) & (curve[t] > 0)
        ax.loglog(t[ok] * dt, curve[t][ok], label=name)
    ax.set_xlabel("time")
    ax.set_ylabel("relative drift (median over trajectories)")
    ax.set_title(f"rigid body, learned {arch} one-step map, {frames - 1} steps")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="tanh", choices=learners.available())
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="long_rollout_drift.png")
    parser.add_argument("--quick", action="store_true", help="500 steps, 3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.epochs = 500, 3

    system = dynsys.get_system("rigid-body", inertia=(1.0, 2.0, 3.0))
    op = train_operator(system, args.arch, args.epochs)
    x0 = system.sample(args.batch, seed=12345)  # held out: another seed
    start = time.perf_counter()
    pred = rollout(op, x0, args.steps)
    wall = time.perf_counter() - start
    curves = drift_curves(system, pred)
    plot(curves, system.dt, args.arch, args.out)

    print(
        f"{args.steps} steps x {args.batch} trajectories in {wall:.1f} s "
        f"({1e6 * wall / args.steps:.1f} us/step)"
    )
    for name, curve in curves.items():
        print(f"{name:>8} drift: final {curve[-1]:.3e}, max {curve.max():.3e}")
    print(f"divergence steps: {divergence_step(pred).tolist()} (-1: never)")
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
