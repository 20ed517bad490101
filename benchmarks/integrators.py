"""Throughput and invariant error of our integrators against torchdiffeq and scipy.

Run from the repository root:

    .venv/bin/python benchmarks/integrators.py [--quick] [--threads N]

For the Kepler problem (e = 0.6) and the free rigid body, at batch sizes 1, 64
and 4096, it prints trajectory-steps per second (median of ``--repeats`` runs)
and the largest relative energy drift at the end, for

- our methods, eager and with ``compile=True`` (``torch.compile`` chunks of
  32 steps, one static graph per batch shape, batches above 1024 advanced in
  tiles of 1024);
- ``torchdiffeq.odeint(method="rk4")`` with the same fixed step on the same
  batch (ratio column ``x tdq``: ours / torchdiffeq for the same method);
- ``scipy.integrate.solve_ivp(method="DOP853")`` one trajectory at a time, at
  the loosest ``rtol`` whose energy error matches ours (column ``x scipy``:
  scipy's seconds per trajectory / ours, at batch 4096).

Compile time is excluded from throughput and printed separately (Inductor
keeps compiled kernels in an on-disk cache, so a second run of this script
compiles faster). The figures are for one thread: ``--threads`` changes it
for both sides.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

# This file is named like the package it measures: drop its own folder from
# the import path so that ``import integrators`` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchdiffeq  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import dynsys  # noqa: E402
import integrators  # noqa: E402

SCIPY_RTOLS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13)


def invariant_error(system, x0: torch.Tensor, x1: torch.Tensor) -> float:
    """Largest relative energy drift ``|E1 - E0| / |E0|`` over the batch."""
    e0, e1 = system.invariants(x0)["energy"], system.invariants(x1)["energy"]
    return ((e1 - e0).abs() / e0.abs().clamp_min(1e-12)).max().item()


def median_time(fn, repeats: int) -> tuple[float, torch.Tensor]:
    """Median wall time of ``fn()`` and its last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run_ours(system, x0, dt, steps, method, compile_, repeats):
    """(seconds, final state, compile seconds) for one of our methods."""

    def go():
        return integrators.integrate(
            system, x0, dt, steps, method, save_every=steps, compile=compile_
        )[1][-1]

    start = time.perf_counter()
    go()  # warm-up; compiles when compile_ is set
    warm = time.perf_counter() - start
    seconds, x1 = median_time(go, repeats)
    return seconds, x1, max(0.0, warm - seconds) if compile_ else 0.0


def run_torchdiffeq(system, x0, dt, steps, repeats):
    """(seconds, final state) for torchdiffeq's fixed-step rk4."""
    t = torch.tensor([0.0, dt * steps], dtype=x0.dtype)

    def go():
        return torchdiffeq.odeint(
            system.vector_field, x0, t, method="rk4", options={"step_size": dt}
        )[-1]

    go()
    return median_time(go, repeats)


def scipy_table(system, x0, t_end, n_traj):
    """Seconds per trajectory and invariant error of DOP853 for each rtol."""
    fun = _numpy_field(system)
    rows = []
    for rtol in SCIPY_RTOLS:
        start, finals = time.perf_counter(), []
        for x in x0[:n_traj].numpy():
            sol = solve_ivp(
                fun, (0.0, t_end), x, method="DOP853", rtol=rtol, atol=rtol * 1e-3
            )
            finals.append(sol.y[:, -1])
        per_traj = (time.perf_counter() - start) / n_traj
        x1 = torch.from_numpy(np.stack(finals))
        rows.append((rtol, per_traj, invariant_error(system, x0[:n_traj], x1)))
    return rows


def _numpy_field(system):
    def fun(t, x):
        with torch.no_grad():
            return system.vector_field(t, torch.from_numpy(x)).numpy()

    return fun


def matched_scipy(table, error: float):
    """Loosest scipy row with an invariant error at most ``error`` (or the best)."""
    ok = [row for row in table if row[2] <= error]
    return (ok[0], True) if ok else (min(table, key=lambda r: r[2]), False)


def configs(quick: bool) -> dict:
    """Systems, step sizes, horizons and the methods measured on each."""
    t_end = 2.0 if quick else 10.0
    return {
        "kepler e=0.6": dict(
            system=dynsys.get_system("kepler", e=0.6),
            dt=0.005,
            t_end=t_end,
            ours=[("rk4", False), ("rk4", True), ("verlet", True), ("yoshida4", True)],
        ),
        "rigid-body": dict(
            system=dynsys.get_system("rigid-body"),
            dt=0.01,
            t_end=t_end,
            ours=[
                ("rk4", False),
                ("rk4", True),
                ("rkmk4", False),
                ("rigid-body-midpoint", False),
            ],
        ),
    }


def measure_batch(name, cfg, batch, repeats, scipy_rows):
    """Table rows for one system and batch size."""
    system, dt = cfg["system"], cfg["dt"]
    steps = round(cfg["t_end"] / dt)
    x0 = system.sample(batch, seed=0)
    tdq_s, tdq_x = run_torchdiffeq(system, x0, dt, steps, repeats)
    rows = [
        (
            name,
            batch,
            "rk4",
            "torchdiffeq",
            batch * steps / tdq_s,
            invariant_error(system, x0, tdq_x),
            "",
            "",
        )
    ]
    for method, comp in cfg["ours"]:
        sec, x1, comp_s = run_ours(system, x0, dt, steps, method, comp, repeats)
        err = invariant_error(system, x0, x1)
        vs_tdq = f"{tdq_s / sec:.1f}" if method == "rk4" else ""
        vs_scipy = ""
        if scipy_rows is not None:
            (rtol, per_traj, _), matched = matched_scipy(scipy_rows, err)
            mark = "" if matched else " (scipy best)"
            vs_scipy = f"{per_traj / (sec / batch):.0f} @rtol {rtol:g}{mark}"
        impl = f"ours compiled ({comp_s:.0f}s compile)" if comp else "ours eager"
        rows.append(
            (name, batch, method, impl, batch * steps / sec, err, vs_tdq, vs_scipy)
        )
    return rows


def print_table(rows) -> None:
    header = (
        "system",
        "batch",
        "method",
        "implementation",
        "traj-steps/s",
        "energy err",
        "x tdq",
        "x scipy (matched err)",
    )
    cells = [header] + [
        (s, str(b), m, i, f"{r:.3g}", f"{e:.1e}", t, c)
        for s, b, m, i, r, e, t, c in rows
    ]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    for j, row in enumerate(cells):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if j == 0:
            print("-|-".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short horizon, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 4096])
    parser.add_argument("--scipy-trajectories", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), float64, medians of {repeats} run(s)"
    )
    rows = []
    for name, cfg in configs(args.quick).items():
        x_sc = cfg["system"].sample(args.scipy_trajectories, seed=1)
        scipy_rows = scipy_table(cfg["system"], x_sc, cfg["t_end"], len(x_sc))
        for rtol, per_traj, err in scipy_rows:
            print(
                f"# scipy DOP853 {name}: rtol {rtol:g}: {per_traj * 1e3:.1f} ms/traj, "
                f"energy err {err:.1e}"
            )
        for batch in args.batches:
            rows += measure_batch(
                name,
                cfg,
                batch,
                repeats,
                scipy_rows if batch == max(args.batches) else None,
            )
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
