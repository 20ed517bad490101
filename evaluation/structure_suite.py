"""``dynsys bench --suite structure``: do learned operators line up with the truth?

Three sections, each a grid of cells (task x architecture x seed); a finished
cell is one JSON file ``DIR/cells/<id>.json``, so a rerun into the same
directory with the same settings reuses it.

* ``modular``: a depth-1 model (parameters matched to a bilinear block of
  width ``reference_hidden``) is fit by ``learners.train`` to ``a + b mod p``
  on a random share of the pairs. The learned operator is the table of its
  outputs over all pairs, ``F[a, b, k]``; it is compared with the addition
  table (alignment, Fourier energy on the true modes ``f = g = h``, test
  accuracy). For bilinear blocks the interaction tensor's ``(a, b)`` block is
  Fourier-analysed as well.
* ``dynamics``: a ``learners.OneStep`` operator is trained on trajectories of
  a system whose one-step operator is known: ``cyclic-shift`` (several k),
  ``circle-rotation`` (SO(2)), ``so3-rotation`` and ``linear-symplectic``
  (``expm(dt J S)``). The learned operator is the stacked outputs on the
  one-hot basis (cyclic shift) or the mean Jacobian of the step at held-out
  states; for flows both sides are turned into generators ``(J - I) / dt``.
* ``flow``: the gradient-flow check of :mod:`evaluation.gradient_flow` for
  ``U V^T``, a bilinear layer and every architecture fit to the same data.

Outputs: ``results.csv`` (one row per cell), ``report.md`` (means and spreads
over seeds) and ``plots/*.png``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation import _suite
from evaluation import gradient_flow as gf
from evaluation import structure as st
from evaluation._suite import group_rows, save_figure, subplots, write_text

ARCHS = [
    "bilinear",
    "bilinear-nobias",
    "swiglu",
    "geglu",
    "reglu",
    "relu",
    "tanh",
    "sigmoid",
    "gelu",
]

#: Settings of the full run; a TOML file or dict overrides any of them.
DEFAULTS: dict[str, Any] = {
    "archs": ARCHS,
    "seeds": 3,
    "p": 97,
    "train_fraction": 0.5,
    "modular_hidden": 128,
    "modular_epochs": 150,
    "modular_lr": 3e-3,
    "modular_weight_decay": 1e-2,
    "modular_batch": 256,
    "systems": [
        {"name": "cyclic-shift", "params": {"n": 8, "k": 1}},
        {"name": "cyclic-shift", "params": {"n": 8, "k": 2}},
        {"name": "cyclic-shift", "params": {"n": 8, "k": 3}},
        {"name": "circle-rotation", "params": {}},
        {"name": "so3-rotation", "params": {}},
        {"name": "linear-symplectic", "params": {"n": 2}},
    ],
    "reference_hidden": 32,
    "n_traj": 64,
    "steps": 40,
    "epochs": 100,
    "lr": 3e-3,
    "n_probe": 64,
    "flow_modes": [3.0, 2.0, 1.0, 0.5],
    "flow_dim": 8,
    "flow_hidden": 32,
    "flow_init": 1e-3,
    "flow_t_max": 20.0,
    "flow_lr": 0.02,
}

#: What ``quick`` changes (a run of about a minute).
QUICK: dict[str, Any] = {
    "archs": ["bilinear", "swiglu", "relu", "tanh"],
    "seeds": 1,
    "p": 23,
    "train_fraction": 0.8,
    "modular_hidden": 48,
    "modular_batch": 128,
    "modular_epochs": 150,
    "systems": [
        {"name": "cyclic-shift", "params": {"n": 8, "k": 3}},
        {"name": "so3-rotation", "params": {}},
        {"name": "linear-symplectic", "params": {"n": 2}},
    ],
    "n_traj": 32,
    "steps": 20,
    "epochs": 40,
    "flow_t_max": 15.0,
    "flow_lr": 0.03,
}


def settings(
    quick: bool = False,
    config: str | os.PathLike | dict | None = None,
    seeds: int | None = None,
) -> dict[str, Any]:
    """Defaults, then quick changes, then ``config`` (TOML path or dict), then seeds.

    Raises:
        ValueError: an unknown setting or a bad value.
        FileNotFoundError: ``config`` names a missing file.
    """
    s = _suite.merge_settings(
        "structure", DEFAULTS, dict(QUICK) if quick else None, config, seeds
    )
    _check_settings(s)
    return s


def _check_settings(s: dict[str, Any]) -> None:
    import dynsys
    import learners

    _suite.check_name_setting(s, "archs", learners.available())
    _suite.check_int_settings(s, _INT_SETTINGS)
    _suite.check_positive_settings(s, _POSITIVE_SETTINGS)
    if not isinstance(s["systems"], list):
        raise ValueError(f"setting systems must be a list, got {s['systems']!r}")
    for entry in s["systems"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"each systems entry needs a name, got {entry!r}")
        dynsys.get_system(entry["name"], **entry.get("params", {}))  # validates
    dynsys.get_system("modular-addition", p=s["p"], train_fraction=s["train_fraction"])
    d, modes = s["flow_dim"], s["flow_modes"]
    try:  # the targets validate the strengths against the dimension
        gf.linear_target(modes, d, d)
        gf.bilinear_target(modes, d, len(modes))
    except (ValueError, TypeError) as err:
        raise ValueError(f"settings flow_modes, flow_dim: {err}") from None
    if s["flow_hidden"] < len(modes):
        raise ValueError(
            f"setting flow_hidden must be >= the number of flow_modes "
            f"{len(modes)}, got {s['flow_hidden']}"
        )


_INT_SETTINGS = (
    "seeds",
    "p",
    "modular_hidden",
    "modular_epochs",
    "modular_batch",
    "reference_hidden",
    "n_traj",
    "steps",
    "epochs",
    "n_probe",
    "flow_dim",
    "flow_hidden",
)
_POSITIVE_SETTINGS = (
    "train_fraction",
    "modular_lr",
    "lr",
    "flow_init",
    "flow_t_max",
    "flow_lr",
)


# --------------------------------------------------------------------------
# Cells


def _cells(s: dict[str, Any]) -> list[tuple]:
    """Every ``(section, task, arch, seed)`` of the run, in report order."""
    seeds = range(s["seeds"])
    cells = [
        ("modular", f"modular-addition p={s['p']}", a, i)
        for a in s["archs"]
        for i in seeds
    ]
    for entry in s["systems"]:
        cells += [
            ("dynamics", _system_label(entry), a, i) for a in s["archs"] for i in seeds
        ]
    exact = [("flow", "linear", "U V^T (exact flow)", i) for i in seeds]
    exact += [("flow", "bilinear", "bilinear layer (exact flow)", i) for i in seeds]
    nets = [
        ("flow", target, a, i)
        for target in ("linear", "bilinear")
        for a in s["archs"]
        for i in seeds
    ]
    return cells + exact + nets


def _system_label(entry: dict) -> str:
    params = ",".join(f"{k}={v}" for k, v in sorted(entry.get("params", {}).items()))
    return f"{entry['name']}({params})" if params else entry["name"]


def _cell_id(cell: tuple) -> str:
    raw = "-".join(str(c) for c in cell)
    return "".join(ch if ch.isalnum() or ch in "-=,." else "_" for ch in raw)


def run_cell(cell: tuple, s: dict[str, Any]) -> dict[str, Any]:
    """Compute one cell; returns a JSON-able dict (``row`` and ``curves``).

    Args:
        cell: ``(section, task, arch, seed)`` from the run's grid.
        s: settings from :func:`settings`.
    """
    section, task, arch, seed = cell
    torch.manual_seed(seed)
    start = time.perf_counter()
    if section == "modular":
        row, curves = _modular_cell(arch, seed, s)
    elif section == "dynamics":
        entry = next(e for e in s["systems"] if _system_label(e) == task)
        row, curves = _dynamics_cell(entry, arch, seed, s)
    else:
        row, curves = _flow_cell(task, arch, seed, s)
    row = {"section": section, "task": task, "arch": arch, "seed": seed} | row
    row["seconds"] = time.perf_counter() - start
    return {"row": row, "curves": curves}


def _matched_model(arch: str, d_in: int, d_out: int, hidden: int, seed: int):
    import learners

    ref = learners.count_params(learners.make_model("bilinear", d_in, d_out, hidden))
    return learners.make_model(arch, d_in, d_out, match_params=ref, seed=seed)


def _train(target, data, seed: int, **kw) -> float:
    """Train; a diverged fit is data (the last finite parameters are kept)."""
    import learners

    try:
        history = learners.train(target, data, seed=seed, patience=None, **kw)
        return float(history.best_loss)
    except learners.TrainingError as exc:
        return float(exc.history.best_loss) if exc.history else math.nan


def _frequency_summary(spectrum: torch.Tensor, top: int = 3) -> str:
    """Key frequencies ``f`` (with ``p - f`` folded in), strongest first."""
    p = len(spectrum)
    folded = {
        f: float(spectrum[f] + (spectrum[p - f] if 2 * f != p else 0.0))
        for f in range(1, p // 2 + 1)
    }
    best = sorted(folded, key=folded.get, reverse=True)[:top]
    return " ".join(str(f) for f in best)


def _modular_cell(arch: str, seed: int, s: dict) -> tuple[dict, dict]:
    import dynsys

    task = dynsys.get_system(
        "modular-addition", p=s["p"], train_fraction=s["train_fraction"]
    )
    p, X, Y = task.p, task.inputs(), task.targets()
    tr, te = task.split(seed)
    model = _matched_model(arch, 2 * p, p, s["modular_hidden"], seed)
    loss = _train(
        model,
        (X[tr], Y[tr]),
        seed,
        epochs=s["modular_epochs"],
        lr=s["modular_lr"],
        weight_decay=s["modular_weight_decay"],
        val_fraction=0.0,
        batch_size=s["modular_batch"],
    )
    model = model.double().eval()
    F = st.grid_outputs(model, X).reshape(p, p, p)
    T = task.table()
    # The constant mode f = g = h = 0 (the mean 1/p of the table) is removed, so
    # that the energy measures the interaction rather than the offset.
    four = st.addition_fourier(F - F.mean())
    hit = (F.reshape(p * p, p).argmax(-1) == Y.argmax(-1)).double()
    row = {
        "n_params": sum(q.numel() for q in model.parameters()),
        "train_loss": loss,
        "train_acc": float(hit[tr].mean()),
        "test_acc": float(hit[te].mean()) if len(te) else math.nan,
        "alignment": st.operator_alignment(F, T),
        "rel_error": float((F - T).norm() / T.norm()),
        "true_mode_energy": four["diag_energy"],
        "key_freqs": _frequency_summary(four["spectrum"]),
        "erank_learned": st.effective_rank(F.reshape(p * p, p)),
        "erank_true": st.effective_rank(T.reshape(p * p, p)),
    }
    spectrum = four["spectrum"]
    curves = {"fourier": (spectrum / spectrum.sum().clamp_min(1e-300)).tolist()}
    block = model.blocks[0]
    if len(model.blocks) == 1 and _is_bilinear(block):
        _add_tensor_measures(block, p, row, curves)
    return row, curves


def _add_tensor_measures(block, p: int, row: dict, curves: dict) -> None:
    """Fourier energy and spectrum of a bilinear block's interaction tensor."""
    B = st.bilinear_tensor(block).quadratic  # (p, 2p, 2p)
    cross = 2.0 * B[:, :p, p:].permute(1, 2, 0)  # the a-b interaction, (a, b, k)
    cross = cross - cross.mean()
    row["tensor_true_mode_energy"] = st.addition_fourier(cross)["diag_energy"]
    curves["tensor_sv"] = st.interaction_spectrum(B)["output_sv"].tolist()


def _is_bilinear(block: torch.nn.Module) -> bool:
    has_layers = all(
        isinstance(getattr(block, n, None), torch.nn.Linear) for n in "WVP"
    )
    return has_layers and getattr(block, "act", None) is None


def _true_step(system) -> Callable[[torch.Tensor], torch.Tensor]:
    if system.is_discrete:
        return system.step_map
    dt = torch.tensor(system.dt, dtype=torch.float64)
    return lambda x: system.exact_solution(x, dt)


def _operators(system, op, s: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Learned and true operators ``(d, d)`` (see the module docstring)."""
    d = system.state_dim
    eye = torch.eye(d, dtype=torch.float64)
    if system.name == "cyclic-shift" and system.params["embedding"] == "one-hot":
        with torch.no_grad():  # columns are the images of the basis states
            return op.step(eye).T, system.step_map(eye).T
    probe = system.sample(s["n_probe"], seed=10_000 + seed)
    J_learned = st.jacobians(op.step, probe).mean(0).detach()
    J_true = st.jacobians(_true_step(system), probe).mean(0).detach()
    if system.is_discrete:
        return J_learned, J_true
    return (J_learned - eye) / system.dt, (J_true - eye) / system.dt


def _dynamics_cell(entry: dict, arch: str, seed: int, s: dict) -> tuple[dict, dict]:
    import dynsys
    import learners

    system = dynsys.get_system(entry["name"], **entry.get("params", {}))
    traj = dynsys.simulate(system, system.sample(s["n_traj"], seed=seed), s["steps"])
    d = system.state_dim
    op = learners.OneStep(_matched_model(arch, d, d, s["reference_hidden"], seed))
    loss = _train(op, traj, seed, epochs=s["epochs"], lr=s["lr"])
    op = op.double().eval()
    L, T = _operators(system, op, s, seed)
    rank_T = int(torch.linalg.matrix_rank(T, rtol=1e-8))
    row = {
        "n_params": sum(q.numel() for q in op.model.parameters()),
        "train_loss": loss,
        "alignment": st.operator_alignment(L, T),
        "rel_error": float((L - T).norm() / T.norm()),
        "true_mode_energy": st.mode_energy(L, T),
        "subspace_alignment": st.subspace_alignment(L, T) if rank_T < d else math.nan,
        "erank_learned": st.effective_rank(L),
        "erank_true": st.effective_rank(T),
    }
    if system.name == "cyclic-shift":
        row["fourier_diag_energy"] = st.fourier_operator(L)["diag_energy"]
    curves = {
        "sv_learned": st.singular_values(L).tolist(),
        "sv_true": st.singular_values(T).tolist(),
    }
    return row, curves


def _flow_cell(target_kind: str, arch: str, seed: int, s: dict) -> tuple[dict, dict]:
    d, modes = s["flow_dim"], s["flow_modes"]
    make = gf.linear_target if target_kind == "linear" else gf.bilinear_target
    target = make(
        modes, d_in=d, d_out=d if target_kind == "linear" else len(modes), seed=seed
    )
    t_max = s["flow_t_max"]
    if arch.startswith("U V^T"):
        res = gf.factorised_flow(
            target, s["flow_hidden"], s["flow_init"], t_max, seed=seed
        )
    elif arch.startswith("bilinear layer"):
        # A cubic start: c(0) ~ init^3, so a larger scale for the same clock.
        res = gf.bilinear_flow(
            target, s["flow_hidden"], s["flow_init"] ** (1 / 3), 2 * t_max, seed=seed
        )
    else:
        import learners

        d_out = target.U.shape[0] if target_kind == "linear" else target.A.shape[0]
        model = learners.make_model(arch, d, d_out, s["flow_hidden"], seed=seed)
        res = gf.network_flow(
            model, target, lr=s["flow_lr"], t_max=t_max, n_times=60, seed=seed
        )
    final = res.diagonal[-1]
    row = {
        "cross_ratio_init": float(res.cross[0] / res.s.max()),
        "cross_ratio_peak": res.cross_ratio(),
        "cross_ratio_final": res.final_cross_ratio(),
        "mode_error": float(np.max(np.abs(final - res.s) / res.s)),
        "final_loss": float(res.loss[-1]),
    }
    curves = {
        "t": res.times.tolist(),
        "c": res.diagonal.tolist(),
        "cross": res.cross.tolist(),
        "s": res.s.tolist(),
    }
    return row, curves


# --------------------------------------------------------------------------
# Running and resuming

#: Marker file: the settings a directory's cells were computed with.
MARKER = "structure.json"


def run(
    out_dir: str | os.PathLike,
    quick: bool = False,
    jobs: int = 1,
    config: str | os.PathLike | dict | None = None,
    progress: Callable[[int], None] | None = None,
    seeds: int | None = None,
    force: bool = False,
) -> Path:
    """Run the structure suite and write ``report.md``, ``results.csv``, ``plots/``.

    Args:
        out_dir: output directory (created). A directory written by an earlier
            run with the same settings is resumed: finished cells are reused.
        quick: the short variant (about a minute on one core).
        jobs: worker processes (1 runs in this process).
        config: a TOML file (top level or a ``[structure]`` table) or a dict
            overriding :data:`DEFAULTS`.
        progress: called with 1 after each finished cell.
        seeds: number of seeds, overriding the settings.
        force: recompute every cell; allow a non-empty foreign directory.

    Returns:
        ``out_dir`` as a :class:`Path`.

    Raises:
        ValueError: bad settings or ``jobs``; ``out_dir`` holds cells computed
            with other settings (without ``force``).
        FileExistsError: ``out_dir`` is a file, or a non-empty directory not
            written by this suite (without ``force``).
        FileNotFoundError: the parent of ``out_dir`` does not exist.
    """
    s = settings(quick, config, seeds)
    _suite.check_jobs(jobs)
    out = _suite.prepare_resumable(Path(out_dir), MARKER, s, force, ("cells", "plots"))
    cells = _cells(s)
    results: dict[tuple, dict] = {}
    with _suite.one_torch_thread():
        for cell, result in _run_cells(cells, s, out, jobs, force):
            results[cell] = result
            if progress is not None:
                progress(1)
    ordered = [results[c] for c in cells]
    _write_outputs(out, s, ordered)
    return out


def _cached(out: Path, cell: tuple) -> dict | None:
    path = out / "cells" / f"{_cell_id(cell)}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _save_cell(out: Path, cell: tuple, s: dict) -> dict:
    """Compute a cell and write its JSON file; returns it."""
    result = run_cell(cell, s)
    write_text(
        out / "cells" / f"{_cell_id(cell)}.json", json.dumps(result, default=float)
    )
    return result


def _run_cells(cells: list[tuple], s: dict, out: Path, jobs: int, force: bool):
    """Yield ``(cell, result)``: cached ones first, then computed ones."""
    todo = []
    for cell in cells:
        hit = None if force else _cached(out, cell)
        if hit is None:
            todo.append(cell)
        else:
            yield cell, hit
    tasks = [(out, cell, s) for cell in todo]
    for (_, cell, _), result in _suite.run_parallel(_save_cell, tasks, jobs):
        yield cell, result


# --------------------------------------------------------------------------
# Tables and report

_MODULAR_COLS = [
    ("n_params", "params", "{:.0f}"),
    ("test_acc", "test acc", "{:.3f}"),
    ("alignment", "alignment", "{:.3f}"),
    ("true_mode_energy", "energy in true modes", "{:.3f}"),
    ("tensor_true_mode_energy", "tensor energy in true modes", "{:.3f}"),
    ("erank_learned", "eff. rank", "{:.1f}"),
]
_DYNAMICS_COLS = [
    ("n_params", "params", "{:.0f}"),
    ("alignment", "alignment", "{:.4f}"),
    ("rel_error", "rel. error", "{:.3g}"),
    ("true_mode_energy", "energy in true modes", "{:.4f}"),
    ("fourier_diag_energy", "Fourier diagonal energy", "{:.4f}"),
    ("subspace_alignment", "subspace alignment", "{:.4f}"),
    ("erank_learned", "eff. rank (true)", "{:.2f}"),
]
_FLOW_COLS = [
    ("cross_ratio_init", "initial cross / max s", "{:.2e}"),
    ("cross_ratio_peak", "peak cross / max s", "{:.2e}"),
    ("cross_ratio_final", "final cross / max c", "{:.2e}"),
    ("mode_error", "max rel. mode error", "{:.2e}"),
    ("final_loss", "final loss", "{:.2e}"),
]


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _mean_sd(values: list, fmt: str) -> str:
    vals = [float(v) for v in values if _is_number(v)]
    if not vals:
        return "-"
    text = fmt.format(statistics.fmean(vals))
    return text + (f" ± {fmt.format(statistics.stdev(vals))}" if len(vals) > 1 else "")


def _table(rows: list[dict], key: str, header: str, cols: list[tuple]) -> str:
    """Markdown table, one line per ``key`` value, mean ± sd over seeds."""
    cols = [c for c in cols if any(_is_number(r.get(c[0])) for r in rows)]
    lines = [
        f"| {header} | " + " | ".join(h for _, h, _ in cols) + " |",
        "|---" * (1 + len(cols)) + "|",
    ]
    for (name,), group in group_rows(rows, key).items():
        cells = []
        for k, _, fmt in cols:
            cell = _mean_sd([r.get(k) for r in group], fmt)
            if k == "erank_learned" and _is_number(group[0].get("erank_true")):
                cell += f" ({group[0]['erank_true']:.2f})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    """``results.csv``: one line per cell, the union of all columns."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


FAMILIES = {
    "bilinear": "bilinear",
    # Without biases the block is a pure quadratic form: no linear term at all.
    "bilinear-nobias": "bilinear-nobias",
    "swiglu": "gated",
    "geglu": "gated",
    "reglu": "gated",
    "relu": "pointwise",
    "tanh": "pointwise",
    "sigmoid": "pointwise",
    "gelu": "pointwise",
}


def _family_means(rows: list[dict], key: str) -> str:
    parts = []
    for fam in ("bilinear", "bilinear-nobias", "gated", "pointwise", "exact"):
        vals = [
            r[key]
            for r in rows
            if _is_number(r.get(key)) and FAMILIES.get(r["arch"], "exact") == fam
        ]
        if vals:
            parts.append(f"{fam} {statistics.fmean(vals):.3g}")
    return ", ".join(parts) or "-"


def findings(rows: list[dict]) -> list[str]:
    """One-line summaries by architecture family (means over tasks and seeds)."""
    by = {k[0]: v for k, v in group_rows(rows, "section").items()}
    lines = []
    mod = by.get("modular", [])
    if mod:
        lines.append(
            f"Modular addition, test accuracy: {_family_means(mod, 'test_acc')}."
        )
        lines.append(
            "Modular addition, energy of the output table in the true "
            f"Fourier modes: {_family_means(mod, 'true_mode_energy')}."
        )
    dyn = by.get("dynamics", [])
    if dyn:
        lines.append(
            "Known-operator systems, alignment with the true operator: "
            f"{_family_means(dyn, 'alignment')}."
        )
        lines.append(
            "Known-operator systems, energy outside the true modes: "
            f"{_family_means(_outside(dyn), 'outside')}."
        )
    for target, group in group_rows(by.get("flow", []), "task").items():
        lines.append(
            f"Gradient flow ({target[0]} target), peak cross term / max s: "
            f"{_family_means(group, 'cross_ratio_peak')}."
        )
    return lines


def _outside(rows: list[dict]) -> list[dict]:
    return [
        r | {"outside": 1.0 - r["true_mode_energy"]}
        for r in rows
        if _is_number(r.get("true_mode_energy"))
    ]


def report(s: dict, rows: list[dict], plots: list[Path]) -> str:
    """The Markdown report of a run."""
    by = {k[0]: v for k, v in group_rows(rows, "section").items()}
    parts = [
        "# Structure suite: do learned operators line up with the true ones?",
        "",
        f"Architectures: {', '.join(s['archs'])}; seeds: {s['seeds']}; "
        f"models matched in parameter count to a bilinear block.",
        "",
        "## Findings (means by family)",
        "",
    ]
    parts += [f"- {line}" for line in findings(rows)]
    if "modular" in by:
        parts += [
            "",
            f"## Modular addition, p = {s['p']} (train share {s['train_fraction']})",
            "",
            "Learned operator: the output table F[a, b, k] over all pairs. "
            "Energy in true modes: share of |F|^2 on the Fourier modes "
            "f = g = h that carry the addition table.",
            "",
            _table(by["modular"], "arch", "arch", _MODULAR_COLS),
        ]
    for (task,), group in group_rows(by.get("dynamics", []), "task").items():
        parts += ["", f"## {task}", "", _table(group, "arch", "arch", _DYNAMICS_COLS)]
    if "flow" in by:
        parts += [
            "",
            "## Gradient flow of the mode coefficients",
            "",
            f"Target strengths s = {s['flow_modes']}, dimension {s['flow_dim']}; "
            "cross terms are the off-diagonal mode coordinates.",
            "",
        ]
        for (target,), group in group_rows(by["flow"], "task").items():
            parts += [
                f"### {target} target",
                "",
                _table(group, "arch", "model", _FLOW_COLS),
                "",
            ]
    parts += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots]
    return "\n".join(parts) + "\n"


def _write_outputs(out: Path, s: dict, results: list[dict]) -> None:
    rows = [r["row"] for r in results]
    write_csv(out / "results.csv", rows)
    plots = write_plots(out / "plots", results, s)
    write_text(out / "report.md", report(s, rows, plots))


# --------------------------------------------------------------------------
# Plots


def write_plots(plot_dir: Path, results: list[dict], s: dict) -> list[Path]:
    """Write every plot of the run; returns their paths."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    seed0 = [r for r in results if r["row"]["seed"] == 0]
    paths = [
        _alignment_plot(plot_dir / "alignment.png", results, s["archs"]),
        _fourier_plot(plot_dir / "modular_fourier.png", seed0),
        _spectra_plot(plot_dir / "spectra.png", seed0),
        _flow_plot(plot_dir / "gradient_flow.png", seed0, s["archs"]),
        _cross_plot(plot_dir / "cross_terms.png", results),
    ]
    return [p for p in paths if p is not None]


def _heatmap(ax, values: np.ndarray, rows: list[str], cols: list[str], title: str):
    im = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        if math.isfinite(v):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if v < 0.6 else "k",
            )
    ax.set_title(title, fontsize=10)
    return im


def _alignment_plot(path: Path, results: list[dict], archs: list[str]) -> Path | None:
    rows = [r["row"] for r in results if r["row"]["section"] != "flow"]
    if not rows:
        return None
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    groups = group_rows(rows, "task", "arch")
    fig, axes = subplots(1, 2, figsize=(4 + 0.9 * len(archs), 1.2 + 0.45 * len(tasks)))
    for ax, key, title in (
        (axes[0], "alignment", "alignment with the true operator"),
        (axes[1], "true_mode_energy", "energy in the true modes"),
    ):
        grid = np.full((len(tasks), len(archs)), np.nan)
        for (task, arch), group in groups.items():
            vals = [g[key] for g in group if _is_number(g.get(key))]
            if vals and arch in archs:
                grid[tasks.index(task), archs.index(arch)] = statistics.fmean(vals)
        im = _heatmap(ax, grid, tasks, archs, title)
    axes[1].set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle("Learned vs true operators (mean over seeds)", fontsize=11, y=1.06)
    return save_figure(fig, path)


def _fourier_plot(path: Path, results: list[dict]) -> Path | None:
    mods = [r for r in results if r["row"]["section"] == "modular"]
    if not mods:
        return None
    n = len(mods)
    ncol = min(n, 3)
    fig, axes = subplots(
        -(-n // ncol),
        ncol,
        figsize=(3.6 * ncol, 2.4 * -(-n // ncol)),
        squeeze=False,
        sharey=True,
    )
    for ax, r in zip(axes.flat, mods, strict=False):
        spec = np.asarray(r["curves"]["fourier"])
        ax.bar(range(len(spec)), spec, width=1.0, color="C0")
        ax.set_title(
            f"{r['row']['arch']}: {r['row']['true_mode_energy']:.2f} on f=g=h",
            fontsize=9,
        )
        ax.set_xlabel("frequency f", fontsize=8)
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("share of diagonal energy", fontsize=8)
    fig.suptitle(
        "Modular addition: Fourier spectrum of the learned table (seed 0)", fontsize=10
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _by_task(results: list[dict], section: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in results:
        if r["row"]["section"] == section:
            groups.setdefault(r["row"]["task"], []).append(r)
    return groups


def _spectra_plot(path: Path, results: list[dict]) -> Path | None:
    dyn = _by_task(results, "dynamics")
    if not dyn:
        return None
    fig, axes = subplots(1, len(dyn), figsize=(3.3 * len(dyn), 2.8), squeeze=False)
    for ax, (task, group) in zip(axes[0], dyn.items(), strict=True):
        sv_true = group[0]["curves"]["sv_true"]
        ax.plot(range(1, len(sv_true) + 1), sv_true, "k--", lw=2, label="true")
        for i, r in enumerate(group):
            sv = r["curves"]["sv_learned"]
            ax.plot(
                range(1, len(sv) + 1),
                sv,
                marker=".",
                lw=1,
                color=f"C{i}",
                label=r["row"]["arch"],
            )
        top = max(max(sv_true), *(max(r["curves"]["sv_learned"]) for r in group))
        ax.set(title=task, xlabel="index", yscale="log", ylim=(1e-4 * top, 2 * top))
        ax.title.set_fontsize(9)
    axes[0, 0].set_ylabel("singular value")
    axes[0, -1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Singular values of learned and true operators (seed 0)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _flow_models(archs: list[str]) -> list[str]:
    """The exact flow and a few networks: first of each family present."""
    picks = []
    for fam in ("bilinear", "gated", "pointwise"):
        picks += [a for a in archs if FAMILIES.get(a) == fam][
            : 2 if fam == "pointwise" else 1
        ]
    return ["exact", *picks]


def _flow_plot(path: Path, results: list[dict], archs: list[str]) -> Path | None:
    flows = _by_task(results, "flow")
    if not flows:
        return None
    models = _flow_models(archs)
    fig, axes = subplots(
        len(flows),
        len(models),
        squeeze=False,
        sharey="row",
        figsize=(2.9 * len(models), 2.6 * len(flows)),
    )
    for row_axes, (target, group) in zip(axes, flows.items(), strict=True):
        for ax, model in zip(row_axes, models, strict=True):
            match = [
                r
                for r in group
                if (model == "exact") == ("exact" in r["row"]["arch"])
                and (model == "exact" or r["row"]["arch"] == model)
            ]
            if match:
                _flow_panel(ax, match[0], target)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Mode coefficients c_i(t) (solid) and the largest cross term (dashed), seed 0",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _flow_panel(ax, result: dict, target: str) -> None:
    c = result["curves"]
    t, diag = np.asarray(c["t"]), np.abs(np.asarray(c["c"]))
    floor = 1e-8
    for i, s_i in enumerate(c["s"]):
        ax.plot(t, np.maximum(diag[:, i], floor), color=f"C{i}", label=f"s={s_i:g}")
        ax.axhline(s_i, color=f"C{i}", lw=0.5, ls=":")
    ax.plot(
        t, np.maximum(np.asarray(c["cross"]), floor), "k--", lw=1.2, label="max cross"
    )
    ax.set(yscale="log", xlabel="t", title=f"{result['row']['arch']} ({target})")
    ax.title.set_fontsize(8)


def _cross_plot(path: Path, results: list[dict]) -> Path | None:
    rows = [r["row"] for r in results if r["row"]["section"] == "flow"]
    if not rows:
        return None
    targets = list(dict.fromkeys(r["task"] for r in rows))
    models = list(dict.fromkeys(r["arch"] for r in rows))
    fig, ax = subplots(figsize=(1.2 + 0.7 * len(models), 3.2))
    width = 0.8 / len(targets)
    for k, target in enumerate(targets):
        vals = []
        for m in models:
            v = [
                r["cross_ratio_peak"]
                for r in rows
                if r["task"] == target
                and r["arch"] == m
                and _is_number(r.get("cross_ratio_peak"))
            ]
            vals.append(statistics.fmean(v) if v else np.nan)
        ax.bar(
            np.arange(len(models)) + k * width, vals, width, label=f"{target} target"
        )
    ax.set_xticks(
        np.arange(len(models)) + 0.4 - width / 2,
        models,
        rotation=45,
        ha="right",
        fontsize=8,
    )
    ax.set(yscale="log", ylabel="peak cross term / max s")
    ax.legend(fontsize=8)
    ax.set_title("Largest cross term during training (mean over seeds)", fontsize=10)
    return save_figure(fig, path)
