"""``dynsys bench --suite unlearning``: remove one component, keep the rest.

For every target of :mod:`evaluation.unlearning`, architecture and seed, one
task trains a depth-1 model (parameter count matched to a bilinear block of
width ``reference_hidden``) on the full target with ``learners.train``, then
edits it twice, each time from the trained weights:

* ``surgery``: the forgotten component's input subspace is identified from
  the model (interaction tensor for bilinear blocks, averaged Jacobian
  otherwise) and projected out of the first-layer weights; no training.
* ``gradient``: ``unlearn_steps`` Adam steps of descent on the retained
  error and capped ascent on the forget error.

Each (task, method) gives one row of ``results.csv`` with the forget and
retain errors of the untrained, trained and edited model, the selectivity,
the alignment of the identified subspace with the true one (surgery), and for
the vector-field target the retained oscillator's energy drift over a long
RK4 rollout before and after the edit. A trained model whose forget or
retain error is above :data:`FIT_THRESHOLD` is flagged ``fitted = False``
and left out of the summary. ``report.md`` averages over seeds;
``plots/`` holds forget against retain error, the selectivity per
architecture and method, and the energy drift.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evaluation import _suite
from evaluation import unlearning as U
from evaluation._suite import colour, group_rows, save_figure, subplots, write_text

#: Settings of the full run; a config file or dict overrides any of them.
DEFAULTS: dict[str, Any] = {
    "targets": ["linear-modes", "modular-frequencies", "two-oscillators"],
    "archs": [
        "bilinear",
        "bilinear-nobias",
        "swiglu",
        "geglu",
        "reglu",
        "relu",
        "tanh",
        "sigmoid",
        "gelu",
    ],
    "seeds": 3,
    "reference_hidden": 32,
    "n_train": 512,
    "n_test": 512,
    "epochs": 1500,
    "lr": 3e-2,
    "batch_size": 512,
    "n_unlearn": 256,
    "unlearn_steps": 200,
    "unlearn_lr": 1e-3,
    "forget_weight": 1.0,
    "n_rollout": 16,
    "rollout_steps": 4000,
}
#: What ``quick=True`` changes.
QUICK: dict[str, Any] = {
    "archs": ["bilinear", "swiglu", "geglu", "relu", "tanh", "sigmoid"],
    "seeds": 1,
    "epochs": 400,
    "n_rollout": 8,
    "rollout_steps": 500,
}
METHODS = ("surgery", "gradient")
#: A trained model with forget or retain error above this did not fit the
#: target; its edits are tabulated but left out of the summary.
FIT_THRESHOLD = 0.1
#: Marker file: the settings a directory's task files were computed with.
MARKER = "unlearning.json"


def settings(
    quick: bool = False,
    config: str | os.PathLike | dict | None = None,
    seeds: int | None = None,
) -> dict[str, Any]:
    """The run settings: defaults, then quick changes, then ``config``, ``seeds``.

    Args:
        quick: apply :data:`QUICK`.
        config: a TOML file (keys at top level or under ``[unlearning]``) or a
            dict, with keys of :data:`DEFAULTS`.
        seeds: number of seeds, overriding everything else.

    Raises:
        ValueError: unknown keys, or values of the wrong type or range.
        FileNotFoundError: the config file does not exist.
    """
    out = _suite.merge_settings(
        "unlearning", DEFAULTS, QUICK if quick else None, config, seeds
    )
    _check_settings(out)
    return out


def _check_settings(s: dict[str, Any]) -> None:
    import learners

    _suite.check_int_settings(
        s,
        (
            "seeds",
            "reference_hidden",
            "n_train",
            "n_test",
            "epochs",
            "batch_size",
            "n_unlearn",
            "n_rollout",
            "rollout_steps",
        ),
    )
    _suite.check_int_settings(s, ("unlearn_steps",), minimum=0)
    _suite.check_positive_settings(s, ("lr", "unlearn_lr", "forget_weight"))
    _suite.check_name_setting(s, "targets", U.available_targets())
    _suite.check_name_setting(s, "archs", learners.available())


def run(
    out_dir: str | os.PathLike,
    quick: bool = False,
    jobs: int = 1,
    config: str | os.PathLike | dict | None = None,
    progress: Callable[[int], None] | None = None,
    seeds: int | None = None,
    force: bool = False,
) -> Path:
    """Run the unlearning benchmark and write report.md, results.csv, plots/.

    Args:
        out_dir: output directory (created; its parent must exist). A
            directory written by an earlier run with the same settings is
            resumed: finished tasks (``tasks/*.json``) are reused.
        quick: the short variant (about a minute on one core).
        jobs: worker processes.
        config: settings file or dict (see :func:`settings`).
        progress: called with 1 after every finished (or reused) task.
        seeds: number of seeds (overrides the settings).
        force: recompute every task; allow a non-empty foreign directory.

    Returns:
        ``out_dir`` as a :class:`Path`.

    Raises:
        ValueError: bad settings or ``jobs``; ``out_dir`` holds tasks computed
            with other settings (without ``force``).
        FileExistsError: ``out_dir`` is a file, or a non-empty directory not
            written by this suite (without ``force``).
    """
    s = settings(quick, config, seeds)
    _suite.check_jobs(jobs)
    out = _suite.prepare_resumable(Path(out_dir), MARKER, s, force, ("tasks", "plots"))
    tasks = [
        (t, a, seed)
        for t in s["targets"]
        for a in s["archs"]
        for seed in range(s["seeds"])
    ]
    rows: list[dict[str, Any]] = []
    todo = []
    for task in tasks:
        path = _task_path(out, *task)
        if force or not path.is_file():
            todo.append(task)
            continue
        rows += json.loads(path.read_text())
        if progress is not None:
            progress(1)
    with _suite.one_torch_thread():
        jobs_args = [(out, *task, s) for task in todo]
        for _, result in _suite.run_parallel(_save_task, jobs_args, jobs):
            rows += result
            if progress is not None:
                progress(1)
    order = {key: i for i, key in enumerate(tasks)}
    rows.sort(
        key=lambda r: (
            order[(r["target"], r["arch"], r["seed"])],
            METHODS.index(r["method"]),
        )
    )
    _write_outputs(out, s, rows)
    return out


def _task_path(out: Path, target_name: str, arch: str, seed: int) -> Path:
    return out / "tasks" / f"{target_name}__{arch}__seed{seed}.json"


def _save_task(
    out: Path, target_name: str, arch: str, seed: int, s: dict[str, Any]
) -> list[dict[str, Any]]:
    """:func:`run_task`, its rows also written to ``tasks/`` (for resuming)."""
    rows = run_task(target_name, arch, seed, s)
    write_text(
        _task_path(out, target_name, arch, seed), json.dumps(rows, default=float)
    )
    return rows


def _train(arch: str, target: U.EntangledTarget, seed: int, s: dict):
    """A depth-1 model of ``arch`` trained on the full target; ``(model, x)``."""
    import learners

    ref = learners.count_params(
        learners.make_model(
            "bilinear", target.d_in, target.d_out, hidden=s["reference_hidden"]
        )
    )
    model = learners.make_model(
        arch, target.d_in, target.d_out, match_params=ref, seed=seed
    ).double()
    x = target.sample(s["n_train"], 10_000 + seed)
    untrained = copy_state(model)
    try:
        learners.train(
            model,
            (x, target.operator(x)),
            epochs=s["epochs"],
            lr=s["lr"],
            batch_size=s["batch_size"],
            dtype="float64",
            val_fraction=0.0,
            patience=None,
            seed=seed,
        )
    except learners.TrainingError:
        pass  # a diverged fit is data: the last finite parameters are kept
    return model, untrained, x


def copy_state(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen deep copy of ``model`` (the untrained reference)."""
    import copy

    return copy.deepcopy(model).requires_grad_(False)


def run_task(
    target_name: str, arch: str, seed: int, s: dict[str, Any]
) -> list[dict[str, Any]]:
    """Train one model, edit it by each method, and measure; one row per method.

    Args:
        target_name: a name from :func:`evaluation.unlearning.available_targets`.
        arch: a ``learners`` architecture.
        seed: model seed (initialisation, data, minibatch order).
        s: settings from :func:`settings`.

    Returns:
        Two rows (``surgery``, ``gradient``) of plain numbers and strings.
    """
    torch.manual_seed(seed)
    target = U.make_target(target_name)
    start = time.perf_counter()
    model, untrained, x = _train(arch, target, seed, s)
    base = _base_row(target, arch, seed, model, untrained, s)
    base["train_seconds"] = time.perf_counter() - start
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        edited, extra = _edit(method, model, target, x, s)
        row = {**base, "method": method, **extra}
        row["forget_after"], row["retain_after"] = U.component_errors(
            edited, target, _test_inputs(target, seed, s)
        )
        row["selectivity"] = U.selectivity(
            row["forget_before"],
            row["forget_after"],
            row["retain_before"],
            row["retain_after"],
        )
        if target.invariants is not None:
            row["drift_after"] = _drift(edited, target, seed, s)
        row["edit_seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def _test_inputs(target: U.EntangledTarget, seed: int, s: dict) -> torch.Tensor:
    return target.sample(s["n_test"], 20_000 + seed)


def _drift(model, target: U.EntangledTarget, seed: int, s: dict) -> float:
    x0 = target.sample(s["n_rollout"], 30_000 + seed)
    return U.retained_drift(model, target, x0, s["rollout_steps"])


def _base_row(target, arch, seed, model, untrained, s) -> dict[str, Any]:
    import learners

    xt = _test_inputs(target, seed, s)
    row: dict[str, Any] = {
        "target": target.name,
        "forgotten": target.component().name,
        "arch": arch,
        "seed": seed,
        "hidden": model.config["hidden"],
        "n_params": learners.count_params(model),
    }
    row["forget_untrained"], row["retain_untrained"] = U.component_errors(
        untrained, target, xt
    )
    row["forget_before"], row["retain_before"] = U.component_errors(model, target, xt)
    row["fitted"] = max(row["forget_before"], row["retain_before"]) < FIT_THRESHOLD
    if target.invariants is not None:
        row["drift_true"] = _drift(None, target, seed, s)
        row["drift_before"] = _drift(model, target, seed, s)
    return row


def _edit(
    method: str, model, target: U.EntangledTarget, x: torch.Tensor, s: dict
) -> tuple[torch.nn.Module, dict[str, Any]]:
    from evaluation.structure import subspace_alignment

    x = x[: s["n_unlearn"]]
    if method == "surgery":
        basis, _ = U.identify_input_subspace(model, target, x)
        align = subspace_alignment(basis, target.component().input_basis)
        return U.surgery(model, input_basis=basis), {"identify_alignment": align}
    edited = U.gradient_unlearn(
        model,
        target,
        x,
        steps=s["unlearn_steps"],
        lr=s["unlearn_lr"],
        forget_weight=s["forget_weight"],
    )
    return edited, {}


def _write_outputs(out: Path, s: dict, rows: list[dict[str, Any]]) -> None:
    from evaluation.report import write_tables

    write_tables(out, rows)
    plots = write_plots(out / "plots", rows)
    write_text(out / "report.md", report(s, rows, plots))


def _mean_sd(values: list[float]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if any(math.isnan(v) for v in vals):
        return "nan"
    if any(math.isinf(v) for v in vals):
        return "inf"
    m = statistics.fmean(vals)
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{m:.3g} ± {sd:.1g}" if len(vals) > 1 else f"{m:.3g}"


#: Report columns: (row key, heading).
_COLUMNS = [
    ("forget_untrained", "F untrained"),
    ("forget_before", "F before"),
    ("forget_after", "F after"),
    ("retain_before", "R before"),
    ("retain_after", "R after"),
    ("selectivity", "S"),
    ("identify_alignment", "align"),
    ("drift_before", "drift before"),
    ("drift_after", "drift after"),
]


def _target_table(rows: list[dict]) -> str:
    """Markdown table: one line per (arch, method), mean ± sd over seeds."""
    cols = [
        (k, h) for k, h in _COLUMNS if any(k in r and not _is_nan(r[k]) for r in rows)
    ]
    lines = [
        "| arch | params | method | " + " | ".join(h for _, h in cols) + " |",
        "|---" * (3 + len(cols)) + "|",
    ]
    for (arch, method), group in group_rows(rows, "arch", "method").items():
        cells = [_mean_sd([r.get(k) for r in group]) for k, _ in cols]
        if not all(r["fitted"] for r in group):
            arch = f"{arch} (not fitted)"
        lines.append(
            f"| {arch} | {group[0]['n_params']} | {method} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _summary(rows: list[dict]) -> list[str]:
    """One line per method: mean selectivity per architecture, best first."""
    lines = []
    fitted = [r for r in rows if r["fitted"]]
    for (method,), group in group_rows(fitted, "method").items():
        per_arch = {
            a: statistics.fmean(r["selectivity"] for r in g)
            for (a,), g in group_rows(group, "arch").items()
        }
        ranked = sorted(per_arch.items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{a} {v:.3f}" for a, v in ranked)
        lines.append(f"- **{method}**, mean S over targets and seeds: {text}")
    misfits = sorted(
        {(r["target"], r["arch"], r["seed"]) for r in rows}
        - {(r["target"], r["arch"], r["seed"]) for r in fitted}
    )
    if misfits:
        names = "; ".join(f"{t} {a} seed {s}" for t, a, s in misfits)
        lines.append(f"- left out (trained F or R above {FIT_THRESHOLD}): {names}")
    return lines


def report(s: dict[str, Any], rows: list[dict[str, Any]], plots: list[Path]) -> str:
    """The Markdown report of a run (settings, formula, tables, plots)."""
    parts = [
        "# Selective unlearning",
        "",
        f"Targets {', '.join(s['targets'])}; architectures {', '.join(s['archs'])}; "
        f"{s['seeds']} seed(s); depth-1 models with the parameter count of a "
        f"bilinear block of width {s['reference_hidden']}; {s['epochs']} epochs "
        f"(lr {s['lr']}); gradient unlearning {s['unlearn_steps']} Adam steps "
        f"(lr {s['unlearn_lr']}, forget weight {s['forget_weight']}); energy "
        f"drift over {s['rollout_steps']} RK4 steps.",
        "",
        "F: forget error, relative squared error in the forgotten component's "
        "output subspace; R: retain error, the same in its complement (both 1 "
        "for a zero output). Selectivity "
        "`S = clip((F1-F0)/(1-F0),0,1) * clip(1-(R1-R0)/(1-R0),0,1)`: 1 for a "
        "perfect edit, 0 for no forgetting or a destroyed model. align: mean "
        "cos^2 of the principal angles between the identified and the true "
        "input subspace. drift: median over trajectories of the largest "
        "relative energy drift of the retained oscillator.",
        "",
        "## Summary",
        "",
        *_summary(rows),
    ]
    for (target,), group in group_rows(rows, "target").items():
        parts += [
            "",
            f"## {target} (forgotten: {group[0]['forgotten']})",
            "",
            _target_table(group),
        ]
        if "drift_true" in group[0]:
            parts += [
                "",
                "Energy drift of the true field under the same "
                f"integrator: {group[0]['drift_true']:.2e}.",
            ]
    parts += ["", "## Plots", ""]
    parts += [f"![{p.stem}](plots/{p.name})" for p in plots]
    return "\n".join(parts) + "\n"


def write_plots(plot_dir: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Write the forget/retain, selectivity and drift plots; returns their paths."""
    paths = [
        _forget_retain_plot(plot_dir / "forget_vs_retain.png", rows),
        _selectivity_plot(plot_dir / "selectivity.png", rows),
    ]
    if any("drift_after" in r for r in rows):
        paths.append(_drift_plot(plot_dir / "energy_drift.png", rows))
    else:  # no dynamics target: drop a stale plot of an earlier (--force) run
        (plot_dir / "energy_drift.png").unlink(missing_ok=True)
    return paths


def _panels(n: int, width: float = 4.6):
    fig, axes = subplots(
        1, n, figsize=(width * n, 4.2), squeeze=False, layout="constrained"
    )
    return fig, list(axes[0])


def _arch_colours(rows: list[dict]) -> dict[str, Any]:
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    return {a: colour(i) for i, a in enumerate(archs)}


def _floor(v: float) -> float:
    """Clamp to ``[1e-12, 1e6]`` for log axes (1e6 stands for blown up); NaN stays."""
    return v if math.isnan(v) else min(max(v, 1e-12), 1e6)


def _forget_retain_plot(path: Path, rows: list[dict]) -> Path:
    """Retain error (x) against forget error (y) after each edit, per target."""
    groups = group_rows(rows, "target")
    fig, axes = _panels(len(groups))
    colours, markers = _arch_colours(rows), {"surgery": "o", "gradient": "^"}
    for ax, ((target,), group) in zip(axes, groups.items(), strict=True):
        for r in group:
            before = (_floor(r["retain_before"]), _floor(r["forget_before"]))
            after = (_floor(r["retain_after"]), _floor(r["forget_after"]))
            ax.plot(
                *zip(before, after, strict=True),
                color=colours[r["arch"]],
                lw=0.6,
                alpha=0.5,
            )
            ax.scatter(
                *after,
                color=colours[r["arch"]],
                marker=markers[r["method"]],
                s=36,
                edgecolor="k",
                linewidth=0.4,
            )
        ax.axhline(1.0, color="grey", ls=":", lw=1)
        ax.axvline(1.0, color="grey", ls=":", lw=1)
        ax.set(
            xscale="log",
            yscale="log",
            title=target,
            xlabel="retain error R (after; line from before)",
            ylabel="forget error F",
        )
    handles = [axes[0].scatter([], [], color=c, label=a) for a, c in colours.items()]
    handles += [
        axes[0].scatter([], [], color="w", edgecolor="k", marker=m, label=meth)
        for meth, m in markers.items()
    ]
    axes[-1].legend(handles=handles, fontsize=7, loc="lower right")
    fig.suptitle(
        "Edits: forget error should reach 1 (dotted), retain error should not move",
        fontsize=10,
    )
    save_figure(fig, path)
    return path


def _bar_axes(ax, archs: list[str], series: dict[str, list[tuple]], log: bool):
    """Grouped bars: ``series[label] = [(mean, sd) per arch]``."""
    width = 0.8 / len(series)
    for i, (label, vals) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(archs))]
        means = [_floor(m) if log else m for m, _ in vals]
        yerr = None if log else [sd for _, sd in vals]  # sd >= mean breaks log axes
        ax.bar(xs, means, width, yerr=yerr, label=label, capsize=2)
    ax.set_xticks(range(len(archs)), archs, rotation=45, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")


def _stat(group: list[dict], key: str) -> tuple[float, float]:
    """Mean and sd over the fitted rows of ``group`` (NaN if none fitted).

    A non-finite value (a diverged rollout) makes the mean infinite.
    """
    vals = [r[key] for r in group if r["fitted"]]
    if not vals:
        return math.nan, 0.0
    if not all(math.isfinite(v) for v in vals):
        return math.inf, 0.0
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return statistics.fmean(vals), sd


def _selectivity_plot(path: Path, rows: list[dict]) -> Path:
    groups = group_rows(rows, "target")
    fig, axes = _panels(len(groups))
    for ax, ((target,), group) in zip(axes, groups.items(), strict=True):
        archs = list(dict.fromkeys(r["arch"] for r in group))
        series = {
            m: [
                _stat(group_rows(group, "arch", "method")[(a, m)], "selectivity")
                for a in archs
            ]
            for m in METHODS
        }
        _bar_axes(ax, archs, series, log=False)
        for j in range(len(archs)):
            if math.isnan(series[METHODS[0]][j][0]):
                ax.text(j, 0.02, "not fitted", rotation=90, ha="center", fontsize=7)
        ax.set(ylim=(0, 1.05), title=target, ylabel="selectivity S")
    axes[-1].legend(fontsize=8)
    save_figure(fig, path)
    return path


def _drift_plot(path: Path, rows: list[dict]) -> Path:
    dyn = [r for r in rows if "drift_after" in r]
    groups = group_rows(dyn, "target")
    fig, axes = _panels(len(groups), width=6.0)
    for ax, ((target,), group) in zip(axes, groups.items(), strict=True):
        archs = list(dict.fromkeys(r["arch"] for r in group))
        by = group_rows(group, "arch", "method")
        series = {"trained": [_stat(by[(a, "surgery")], "drift_before") for a in archs]}
        series |= {
            m: [_stat(by[(a, m)], "drift_after") for a in archs] for m in METHODS
        }
        _bar_axes(ax, archs, series, log=True)
        ax.axhline(
            _floor(group[0]["drift_true"]), color="k", ls=":", lw=1, label="true field"
        )
        ax.set(
            title=f"{target}: retained energy drift",
            ylabel="max relative drift (median; 1e6 = diverged)",
        )
        ax.legend(fontsize=8)
    save_figure(fig, path)
    return path
