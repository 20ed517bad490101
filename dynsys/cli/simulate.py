"""``dynsys simulate``: integrate a ground-truth system and save the trajectory.

    dynsys simulate SYSTEM [--param K=V ...] --batch B --steps N [--dt H]
        [--integrator M] [--save-every K] [--seed S] [--x0 FILE.npy]
        --out FILE.npz [--plot] [--force]

Prints a summary (largest relative invariant drift, largest constraint
residual, wall time); ``--plot`` also writes ``FILE.png``. Every output is
checked before work starts and written atomically.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np
import torch

from dynsys.cli._common import CLIError, check_output_path, parse_params, progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``dynsys simulate`` and its options on the subcommand parser."""
    p = sub.add_parser(
        "simulate",
        help="integrate a ground-truth system and save the trajectory (.npz)",
    )
    p.add_argument("system", help="system name (see `dynsys list systems`)")
    p.add_argument(
        "--param",
        action="append",
        metavar="K=V",
        default=[],
        help="system parameter, e.g. --param inertia=1,2,3 (repeatable)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="number of trajectories (initial states from sample())",
    )
    p.add_argument("--steps", type=int, required=True, help="number of steps")
    p.add_argument(
        "--dt", type=float, default=None, help="step size (default: the system's)"
    )
    p.add_argument(
        "--integrator", default=None, help="integrator name (default: the system's)"
    )
    p.add_argument(
        "--save-every",
        type=int,
        default=1,
        metavar="K",
        help="keep every K-th step (K must divide --steps)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the initial states")
    p.add_argument(
        "--x0",
        default=None,
        metavar="FILE.npy",
        help="initial states (batch, state_dim) instead of sampling",
    )
    p.add_argument("--out", required=True, help="output trajectory file (.npz)")
    p.add_argument("--plot", action="store_true", help="also write FILE.png")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check every input, integrate, then write the trajectory (and plot).

    Returns:
        0 on success (user errors raise CLIError/ValueError for ``main``).
    """
    import dynsys
    from dynsys.trajectory import atomic_write

    out = check_output_path(args.out, args.force, suffix=".npz")
    png = check_output_path(out.with_suffix(".png"), args.force) if args.plot else None
    system = dynsys.get_system(args.system, **parse_params(args.param))
    _check_numbers(args)
    x0 = _initial_states(args, system)
    _check_integrator(system, args.integrator)
    _check_memory(args.steps // args.save_every + 1, x0.shape[0], system.state_dim)

    start = time.perf_counter()
    with progress_bar(args.steps, desc=f"simulate {system.name}") as bar:
        traj = dynsys.simulate(
            system,
            x0,
            args.steps,
            dt=args.dt,
            integrator=args.integrator,
            save_every=args.save_every,
            seed=args.seed,
            progress=lambda k: bar.update(k - bar.n),
        )
    wall = time.perf_counter() - start
    drift, resid = traj.invariant_drift(), traj.constraint_residuals()

    image = _render(traj, drift, resid) if png is not None else None
    traj.save(out, force=args.force)
    if image is not None:
        atomic_write(png, lambda fh: fh.write(image))
    print(_summary(traj, drift, resid, wall, out, png))
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    """Reject bad counts and steps before any work starts."""
    if args.batch is not None and args.batch < 1:
        raise CLIError(f"--batch must be >= 1, got {args.batch}")
    if args.batch is None and args.x0 is None:
        raise CLIError("give --batch B (or initial states with --x0 FILE.npy)")
    if args.steps < 1:
        raise CLIError(f"--steps must be >= 1, got {args.steps}")
    if args.dt is not None and not (np.isfinite(args.dt) and args.dt > 0):
        raise CLIError(f"--dt must be a finite number > 0, got {args.dt}")
    if args.save_every < 1 or args.steps % args.save_every:
        raise CLIError(
            f"--save-every must be a positive divisor of --steps "
            f"({args.steps}), got {args.save_every}"
        )
    if args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")


def _initial_states(args: argparse.Namespace, system) -> torch.Tensor:
    """``system.sample(batch, seed)``, or the array in ``--x0``."""
    if args.x0 is None:
        return system.sample(args.batch, seed=args.seed)
    arr = _read_npy(args.x0)
    if (
        not isinstance(arr, np.ndarray)
        or arr.ndim != 2
        or arr.shape[1] != system.state_dim
    ):
        shape = getattr(arr, "shape", None)
        raise CLIError(
            f"--x0 must hold an array of shape (batch, "
            f"{system.state_dim}) for {system.name}, got {shape}"
        )
    if args.batch is not None and arr.shape[0] != args.batch:
        raise CLIError(f"--x0 holds {arr.shape[0]} states but --batch is {args.batch}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise CLIError(f"--x0 must be a floating-point array, got {arr.dtype}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise CLIError(f"--x0 must hold finite numbers; state {bad} has NaN or inf")
    return torch.from_numpy(arr.astype(np.float64))


def _read_npy(name: str) -> np.ndarray:
    """The array in the ``.npy`` file ``name``, with one-line errors.

    Raises:
        CLIError: no such file, a directory, or not a plain ``.npy`` array.
    """
    path = Path(name)
    if path.is_dir():
        raise CLIError(f"--x0 {name!r} is a directory, not a .npy file")
    if not path.is_file():
        raise CLIError(f"--x0 file {name!r} does not exist")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        # numpy's message for pickled data advises loading it unsafely: never.
        raise CLIError(
            f"--x0 {name!r} is not a .npy file of plain numbers "
            "(save one with numpy.save(path, array))"
        ) from None
    if not isinstance(arr, np.ndarray):  # an .npz archive (an open NpzFile)
        arr.close()
        raise CLIError(f"--x0 {name!r} is an .npz archive; give a single .npy array")
    return arr


def _available_memory() -> int | None:
    """Bytes of memory available for a new process, else None when unknown.

    Linux's ``MemAvailable`` (free memory plus reclaimable page cache; proc(5)),
    falling back to free physical pages from ``sysconf``.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(frames: int, batch: int, state_dim: int) -> None:
    """Refuse a run whose saved frames cannot fit in memory, before it starts.

    The frames are held as float64 and copied once when saved, so a run needs
    about twice ``frames * batch * state_dim * 8`` bytes.

    Raises:
        CLIError: naming the size needed, the memory available and the remedy.
    """
    need = 2 * frames * batch * state_dim * 8
    have = _available_memory()
    if have is not None and need > have:
        raise CLIError(
            f"{frames} frames x {batch} trajectories x {state_dim} float64 need "
            f"about {need / 1e9:.3g} GB but {have / 1e9:.3g} GB of memory is "
            "available; raise --save-every or lower --steps or --batch"
        )


def _check_integrator(system, name: str | None) -> None:
    """Fail before the progress bar starts if ``name`` cannot serve ``system``.

    Raises:
        ValueError: unknown integrator, or one the system does not support.
    """
    import integrators

    method = integrators.get(name if name is not None else system.default_integrator)
    if not method.supports(system):
        raise ValueError(
            f"integrator {method.name!r} cannot advance {system.name}; "
            f"methods that can: {', '.join(integrators.compatible(system))}"
        )


def _summary(
    traj, drift: dict, resid: dict, wall: float, out: Path, png: Path | None
) -> str:
    """The printed report: one line per invariant and per constraint."""
    meta = traj.meta
    lines = [
        f"{traj.system}: {traj.batch} trajectories x {meta['steps']} steps "
        f"(dt={meta['dt']:g}, {meta['integrator']}), {traj.frames} frames "
        f"saved to {out}"
    ]
    for name, series in drift.items():
        # An invariant that starts at 0 (e.g. the Laplace-Runge-Lenz component
        # normal to the apsides) has a relative drift over eps = 1e-12 only;
        # the absolute change is the meaningful figure there.
        i0 = torch.as_tensor(meta["invariants_t0"][name], dtype=torch.float64)
        change = series * i0.abs().clamp_min(1e-12)
        lines.append(
            f"  max relative drift  {name:<22s} {_max(series):.3e}"
            f"  (absolute {_max(change):.3e})"
        )
    for name, series in resid.items():
        lines.append(f"  max residual        {name:<22s} {_max(series):.3e}")
    if not drift and not resid:
        lines.append("  (the system declares no invariants or constraints)")
    lines.append(
        f"  wall time {wall:.2f} s "
        f"({meta['steps'] * traj.batch / max(wall, 1e-9):.3g} "
        "trajectory-steps/s)"
    )
    if png is not None:
        lines.append(f"  plot: {png}")
    return "\n".join(lines)


def _max(series: torch.Tensor) -> float:
    """Largest finite-or-not value (NaN if any trajectory diverged)."""
    return float(series.max()) if not bool(series.isnan().any()) else float("nan")


def _render(traj, drift: dict, resid: dict) -> bytes:
    """PNG bytes: states of trajectory 0, drift and residuals on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = max(1, traj.frames // 4000)  # thin long runs for plotting
    t = traj.times[::every].numpy()
    fig, axes = plt.subplots(3, 1, figsize=(9, 10))
    # States at full resolution over the first (up to) 2000 frames, where the
    # motion is visible; drift and residuals over the whole run.
    window = min(traj.frames, 2000)
    _plot_states(
        axes[0],
        traj.times[:window].numpy(),
        traj.states[:window, 0].numpy(),
        traj.system,
    )
    _plot_log(axes[1], t, drift, every, "max relative invariant drift")
    _plot_log(axes[2], t, resid, every, "max constraint residual")
    for ax in axes:
        ax.set_xlabel("time")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _block_max(values: np.ndarray, every: int) -> np.ndarray:
    """Maximum over consecutive blocks of ``every`` frames (keeps the peaks)."""
    pad = (-len(values)) % every
    padded = np.concatenate([values, np.full(pad, -np.inf)])
    return padded.reshape(-1, every).max(axis=1)


def _plot_states(ax, t: np.ndarray, states: np.ndarray, name: str) -> None:
    for j in range(min(states.shape[1], 22)):
        ax.plot(t, states[:, j], lw=0.7, label=f"x[{j}]")
    ax.set_title(f"{name}: state of trajectory 0, t = {t[0]:g} .. {t[-1]:g}")
    ax.set_ylabel("state")
    if states.shape[1] <= 12:
        ax.legend(fontsize=6, ncol=6, loc="upper right")


def _plot_log(ax, t: np.ndarray, series: dict, every: int, title: str) -> None:
    if not series:  # say so instead of an empty 0..1 frame
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "(the system declares none)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return
    floor = 1e-18  # exact zeros drawn at the floor of the log axis
    for name, values in series.items():
        worst = _block_max(values.max(dim=1).values.numpy(), every)[: len(t)]
        ax.semilogy(t, np.maximum(worst, floor), lw=0.8, label=name)
    ax.set_title(f"{title} over the batch")
    ax.axhline(
        np.finfo(np.float64).eps, color="grey", ls=":", lw=0.8, label="float64 eps"
    )
    ax.legend(fontsize=7, ncol=3, loc="lower right")
