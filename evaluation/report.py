"""Benchmark tables and the Markdown report.

``results.csv`` and ``results.json`` hold one row per cell. ``report.md``
groups cells by system, averages each architecture and mode over seeds (mean
and sample standard deviation), and ranks architectures by final invariant
drift (lower first), ties broken by valid prediction time (longer first).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from evaluation._suite import write_text

#: Leading columns of results.csv, in order; the metric columns follow.
ID_COLUMNS = [
    "system",
    "system_name",
    "arch",
    "mode",
    "seed",
    "hidden",
    "n_params",
    "train_window",
    "rollout_steps",
    "train_loss",
]

#: Report columns: (row key, heading, format).
REPORT_COLUMNS = [
    ("n_params", "params", "{:.0f}"),
    ("train_loss", "train loss", "{:.1e}"),
    ("drift_final", "drift (final)", "{:.2e}"),
    ("drift_max", "drift (max)", "{:.2e}"),
    ("drift_exponent", "drift exponent", "{:.2f}"),
    ("vpt_time", "VPT (time)", "{:.4g}"),
    ("state_error_final", "error (final)", "{:.2e}"),
    ("geodesic_error_final", "geodesic err", "{:.2e}"),
    ("group_residual_final", "group residual", "{:.1e}"),
    ("log_volume_final", "log volume", "{:.2g}"),
    ("symplecticity_median", "sympl. defect", "{:.1e}"),
    ("diverged_fraction", "diverged", "{:.2f}"),
]


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """CSV columns: the id columns, then every other key in first-seen order."""
    cols = [c for c in ID_COLUMNS if any(c in r for r in rows)]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def write_tables(out: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``results.csv`` and ``results.json`` (one row per cell) atomically."""
    import json

    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=columns(rows), restval="", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "results.csv", buf.getvalue())
    write_text(out / "results.json", json.dumps(rows, indent=1))


def _number(value) -> float:
    """A row value as a float (``"inf"``, ``None`` and blanks handled)."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def aggregate(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, tuple]]:
    """Mean and spread over seeds, keyed by ``(system, arch, mode)``.

    Returns:
        ``{(system, arch, mode): {metric: (mean, std, n)}}``; non-finite
        values (a diverged rollout) make the mean infinite or NaN on purpose.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["system"], row["arch"], row["mode"]), []).append(row)
    out = {}
    for key, members in groups.items():
        stats = {}
        for col, _, _ in REPORT_COLUMNS:
            vals = [_number(r.get(col)) for r in members]
            if all(math.isnan(v) for v in vals):
                continue
            mean = statistics.fmean(vals)
            finite = all(math.isfinite(v) for v in vals)
            std = statistics.stdev(vals) if len(vals) > 1 and finite else 0.0
            stats[col] = (mean, std, len(vals))
        out[key] = stats
    return out


def _rank_key(stats: dict) -> tuple:
    drift = stats.get("drift_final", (math.nan,))[0]
    vpt = stats.get("vpt_time", (math.nan,))[0]
    return (
        math.isnan(drift),
        drift if not math.isnan(drift) else 0.0,
        -vpt if not math.isnan(vpt) else 0.0,
    )


def _cell(stats: dict, col: str, fmt: str) -> str:
    if col not in stats:
        return "-"
    mean, std, n = stats[col]
    if not math.isfinite(mean):
        return str(mean)
    text = fmt.format(mean)
    if n > 1 and col != "n_params" and math.isfinite(std):
        text += " ± " + fmt.format(std).lstrip()
    return text


def system_table(agg: dict, system: str) -> str:
    """Markdown table of one system, architectures ranked (see module doc)."""
    entries = sorted(
        ((k, v) for k, v in agg.items() if k[0] == system),
        key=lambda kv: _rank_key(kv[1]),
    )
    used = [c for c in REPORT_COLUMNS if any(c[0] in v for _, v in entries)]
    head = ["rank", "arch", "mode", *(h for _, h, _ in used)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rank, ((_, arch, mode), stats) in enumerate(entries, 1):
        cells = [str(rank), arch, mode, *(_cell(stats, c, f) for c, _, f in used)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overview_table(
    agg: dict, systems: list[str], archs: list[str], mode: str = "one-step"
) -> str:
    """Systems x architectures: mean final drift, mean VPT and diverged share."""
    lines = ["| system | " + " | ".join(archs) + " |", "|" + "---|" * (len(archs) + 1)]
    for system in systems:
        cells = []
        for arch in archs:
            stats = agg.get((system, arch, mode), {})
            drift = stats.get("drift_final", (math.nan,))[0]
            vpt = stats.get("vpt_time", (math.nan,))[0]
            div = stats.get("diverged_fraction", (0.0,))[0]
            vpt_text = f"{vpt:.0f}" if abs(vpt) >= 100 else f"{vpt:.3g}"
            text = f"{drift:.2g} / {vpt_text}"
            cells.append(text + (f" ({div:.0%} div.)" if div > 0 else ""))
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out: Path, config, rows: list[dict[str, Any]]) -> None:
    """Write ``report.md``: settings, then one ranked table per system."""
    agg = aggregate(rows)
    systems = list(dict.fromkeys(r["system"] for r in rows))
    seeds = len({r["seed"] for r in rows})
    modes = len({r["mode"] for r in rows})
    t, r = config.train, config.rollout
    wall = sum(_number(row.get("wall_time")) for row in rows)
    parts = [
        f"# Benchmark report: suite `{config.name}`",
        "",
        f"{len(rows)} cells: {len(systems)} systems x {len(config.archs)} "
        f"architectures x {modes} mode(s) x {seeds} seed(s); "
        f"total cell time {wall:.0f} s.",
        f"Training: {t.n_traj} trajectories of {t.window} steps, {t.epochs} epochs, "
        f"lr {t.lr}, about {t.params} parameters per model (depth {t.depth}). "
        f"Rollout: {r.n_test} held-out initial conditions, {r.horizon} x the "
        f"training window, {r.dtype}; VPT threshold {r.vpt_threshold}.",
        "",
        "Cells show mean ± standard deviation over seeds; architectures are "
        "ranked by final invariant drift (relative, worst invariant, median "
        "over trajectories), then by valid prediction time. `inf` marks a "
        "rollout that diverged.",
    ]
    parts += [
        "",
        f"## Overview ({'one-step'} mode)",
        "",
        "Final invariant drift / valid prediction time (time units), "
        "means over seeds; the share of diverged trajectories in "
        "brackets.",
        "",
        overview_table(agg, systems, list(config.archs)),
    ]
    for system in systems:
        parts += ["", f"## {system}", "", system_table(agg, system)]
    write_text(out / "report.md", "\n".join(parts) + "\n")
