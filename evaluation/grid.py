"""The benchmark grid runner: train, roll out and score every cell of a suite.

Each cell simulates ``train.n_traj`` short windows of ``train.window`` steps
from one set of initial conditions, trains one operator on them, and rolls it
out ``window * horizon`` steps from ``rollout.n_test`` held-out initial
conditions (a different seed of ``System.sample``), scored with
:func:`evaluation.score` against the ground truth simulated from the same
states. A finished cell is one JSON file ``DIR/cells/<cell_id>.json`` written
atomically by whichever process ran it, so an interrupted run keeps every
finished cell and a rerun into the same directory skips them. Cells run on a
local process pool (``spawn`` start method, one torch thread per worker).
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evaluation import _suite
from evaluation._base import BenchConfig, Cell
from evaluation._suite import write_json
from evaluation.config import load_config
from evaluation.metrics import score
from evaluation.rollout import rollout

#: Marker file that identifies a directory as a benchmark output.
MARKER = "bench.json"
#: Frames kept per curve in a cell file (log-spaced), for plots.
CURVE_POINTS = 80
#: Frames kept of the first test trajectory, for phase portraits.
PHASE_POINTS = 1500


def bench(
    config: BenchConfig | str | os.PathLike,
    out: str | os.PathLike,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    plots: bool = True,
) -> list[dict[str, Any]]:
    """Run a benchmark grid and write its tables, report and plots.

    Args:
        config: a :class:`BenchConfig`, a built-in suite name or a TOML path.
        out: output directory (created; an existing benchmark directory is
            resumed, its finished cells reused).
        jobs: worker processes (1 runs in this process).
        progress: called with the number of cells finished since its last call
            (first with the number already finished in ``out``).
        force: recompute every cell, and allow writing into a non-empty
            directory that is not a benchmark output.
        plots: write ``plots/*.png``.

    Returns:
        One result row per cell (see :func:`run_cell`).

    Raises:
        ValueError: bad configuration or ``jobs < 1``; a finished cell in
            ``out`` computed with different settings (without ``force``).
        FileExistsError: ``out`` is a non-empty non-benchmark directory.
        PermissionError: ``out`` is not writable.
    """
    if isinstance(config, BenchConfig):
        from evaluation.config import check_config

        check_config(config)
    else:
        config = load_config(config)
    _suite.check_jobs(jobs)
    cells = config.cells()
    out = prepare_out_dir(out, config, force)
    todo = [c for c in cells if force or not _finished(out, c)]
    if progress is not None and len(todo) < len(cells):
        progress(len(cells) - len(todo))
    for _ in run_cells(todo, out, jobs):
        if progress is not None:
            progress(1)
    rows = [_load_cell(out, c)["row"] for c in cells]
    write_outputs(out, config, cells, plots)
    return rows


def prepare_out_dir(out, config: BenchConfig, force: bool) -> Path:
    """Check and create the output directory before any work starts."""
    out = Path(out)
    out = _suite.prepare_out_dir(
        out,
        force,
        reusable=(out / MARKER).exists(),
        subdirs=("cells",),
        make_parents=True,
    )
    write_json(out / MARKER, {"suite": config.name, "format": 1})
    return out


def _cell_file(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.cell_id}.json"


def _load_cell(out: Path, cell: Cell) -> dict:
    return json.loads(_cell_file(out, cell).read_text())


def _finished(out: Path, cell: Cell) -> bool:
    """Whether ``cell`` is done in ``out``; a stale spec is an error."""
    path = _cell_file(out, cell)
    if not path.exists():
        return False
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    if _comparable(stored.get("spec")) != _comparable(cell.spec()):
        raise ValueError(
            f"cell {cell.cell_id} in {str(out)!r} was computed with "
            "other settings; pass --force or choose another --out"
        )
    return True


def _comparable(spec: dict | None) -> dict | None:
    """A cell spec as JSON values, without the system's mode list (adding a
    mode to a system must not invalidate its finished cells)."""
    if spec is None:
        return None
    spec = json.loads(json.dumps(spec))
    spec.get("system", {}).pop("modes", None)
    return spec


def run_cells(cells: list[Cell], out: Path, jobs: int):
    """Run cells, yielding each cell as it finishes (its file is then written).

    On Ctrl-C the queued cells are dropped; running ones finish and save.
    """
    for (cell, _), _ in _suite.run_parallel(
        run_and_save, [(c, str(out)) for c in cells], jobs
    ):
        yield cell


def run_and_save(cell: Cell, out: str) -> str:
    """Run one cell and write its file; returns the cell id."""
    result = run_cell(cell)
    write_json(_cell_file(Path(out), cell), result)
    return cell.cell_id


@functools.lru_cache(maxsize=8)
def _ground_truth(
    name: str,
    params_json: str,
    dt: float | None,
    seed: int,
    n_traj: int,
    window: int,
    n_test: int,
    steps: int,
):
    """Training windows and held-out reference of one system and seed (cached)."""
    import dynsys

    system = dynsys.get_system(name, **json.loads(params_json))
    dt = dt or system.dt
    x_train = system.sample(n_traj, seed=2 * seed)
    x_test = system.sample(n_test, seed=2 * seed + 1)
    train = dynsys.simulate(system, x_train, steps=window, dt=dt)
    ref = dynsys.simulate(system, x_test, steps=steps, dt=dt)
    return system, train, ref


def run_cell(cell: Cell) -> dict[str, Any]:
    """Train, roll out and score one cell.

    Returns:
        ``{"spec", "row", "curves"}``: the cell's settings, its result row
        (system, arch, mode, seed, hidden, n_params, train_loss, every summary
        metric of :func:`evaluation.score`, wall times) and compact curves for
        the plots.
    """
    start = time.perf_counter()
    params_json = json.dumps(cell.spec()["system"]["params"], sort_keys=True)
    system, train, ref = _ground_truth(
        cell.system.name,
        params_json,
        cell.system.dt,
        cell.seed,
        cell.train.n_traj,
        cell.train.window,
        cell.rollout.n_test,
        cell.steps,
    )
    op, loss = _train(cell, train)
    trained = time.perf_counter()
    dtype = getattr(torch, cell.rollout.dtype)
    pred = rollout(op, ref.states[0], cell.steps, dtype=dtype)
    scores = score(
        system,
        pred,
        ref,
        op=op,
        vpt_threshold=cell.rollout.vpt_threshold,
        jacobian_points=cell.rollout.jacobian_points,
    )
    row = _result_row(cell, op, loss, scores.summary)
    row |= {"train_time": trained - start, "wall_time": time.perf_counter() - start}
    return {
        "spec": cell.spec(),
        "row": _json_safe(row),
        "curves": curves(system, scores, pred, ref.states),
    }


def _result_row(cell: Cell, op, loss: float, summary: dict) -> dict[str, Any]:
    """The cell's identity, model size, training loss and score summary."""
    return {
        "system": cell.system.key,
        "system_name": cell.system.name,
        "arch": cell.arch,
        "mode": cell.mode,
        "seed": cell.seed,
        "hidden": op.model.config["hidden"],
        "n_params": sum(p.numel() for p in op.model.parameters()),
        "train_window": cell.train.window,
        "rollout_steps": cell.steps,
        "train_loss": loss,
        **summary,
    }


def _train(cell: Cell, train) -> tuple[torch.nn.Module, float]:
    """Build and train the cell's operator; returns it and its final loss."""
    import learners

    d = train.states.shape[-1]
    model = learners.make_model(
        cell.arch,
        d,
        d,
        depth=cell.train.depth,
        match_params=cell.train.params,
        seed=cell.seed,
    )
    op = (
        learners.OneStep(model)
        if cell.mode == "one-step"
        else learners.NeuralODE(model, method="rk4")
    )
    try:
        history = learners.train(
            op,
            train,
            epochs=cell.train.epochs,
            lr=cell.train.lr,
            seed=cell.seed,
            batch_size=cell.train.batch_size,
            unroll=cell.train.unroll,
        )
    except learners.TrainingError as exc:  # parameters of the last good epoch
        history = exc.history
    losses = getattr(history, "train_loss", None) or [math.nan]
    return op, float(losses[-1])


def _json_safe(row: dict) -> dict:
    """Replace non-finite floats by strings JSON can hold (``"inf"``, ``"nan"``)."""
    return {
        k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in row.items()
    }


def curves(system, scores, pred: torch.Tensor, ref: torch.Tensor) -> dict:
    """Compact per-step curves for the plots: batch medians at log-spaced frames.

    Returns:
        ``{"t": frames, "drift": ..., "group_residual": ..., "state_error": ...,
        "volume_t": ..., "log_volume": ..., "phase": {...}}`` (lists; NaN as
        ``None``).
    """
    frames = pred.shape[0]
    t = torch.unique(
        torch.cat(
            [
                torch.zeros(1),
                torch.logspace(0, math.log10(max(frames - 1, 1)), CURVE_POINTS),
            ]
        ).long()
    )
    out: dict[str, Any] = {"t": t.tolist(), "dt": scores.dt}
    for key in ("drift", "group_residual", "state_error"):
        parts = [v for k, v in scores.series.items() if k.split("/")[0] == key]
        if parts:
            worst = torch.stack(parts).amax(0)[t]
            out[key] = _median_curve(worst)
    if "log_volume" in scores.jacobian_series:
        out["volume_t"] = (scores.jacobian_steps + 1).tolist()
        # Signed quantity: median over the trajectories still finite.
        vol = scores.jacobian_series["log_volume"].nanmedian(dim=1).values
        out["log_volume"] = [v if math.isfinite(v) else None for v in vol.tolist()]
    out["phase"] = phase_portrait(system, pred, ref)
    return out


def _median_curve(x: torch.Tensor) -> list:
    x = torch.nan_to_num(x.double(), nan=math.inf).median(dim=1).values
    return [float(v) if math.isfinite(v) else None for v in x.tolist()]


def phase_pair(system) -> tuple[int, int, str, str] | None:
    """Coordinates of a planar phase portrait, or ``None`` if not planar.

    Kepler: the orbit ``(q1, q2)``; other Hamiltonian systems: ``(q1, p1)``;
    two-dimensional states: ``(x1, x2)``.
    """
    n_dof = int(getattr(system, "n_dof", 0) or 0)
    if system.name == "kepler":
        return 0, 1, "q1", "q2"
    if getattr(system, "is_hamiltonian", False) and n_dof >= 1:
        return 0, n_dof, "q1", "p1"
    if system.state_dim == 2:
        return 0, 1, "x1", "x2"
    return None


def phase_portrait(system, pred: torch.Tensor, ref: torch.Tensor) -> dict | None:
    """First test trajectory's planar coordinates, predicted and true."""
    pair = phase_pair(system)
    if pair is None:
        return None
    i, j, xlabel, ylabel = pair
    stride = max(1, math.ceil(pred.shape[0] / PHASE_POINTS))

    def pts(x):
        xy = x[::stride, 0][:, [i, j]].double()
        return [
            [float(a), float(b)] if math.isfinite(a) and math.isfinite(b) else None
            for a, b in xy.tolist()
        ]

    return {"labels": [xlabel, ylabel], "pred": pts(pred), "ref": pts(ref)}


def write_outputs(
    out: Path, config: BenchConfig, cells: list[Cell], plots: bool = True
) -> None:
    """Write results.csv, results.json, report.md and plots from the cell files."""
    from evaluation import report

    records = [_load_cell(out, c) for c in cells]
    report.write_tables(out, [r["row"] for r in records])
    report.write_report(out, config, [r["row"] for r in records])
    if plots:
        from evaluation import plots as plots_mod

        plots_mod.write_plots(out / "plots", records)
