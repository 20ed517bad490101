"""Benchmark plots (matplotlib figures outside pyplot), one set per system.

* ``drift_<system>.png``: relative invariant drift against time, log-log, one
  line per architecture and mode (median over trajectories, then over seeds);
  a power law ``t^p`` is a straight line of slope ``p``.
* ``group_residual_<system>.png``: distance of the predicted state from its
  group against time (systems with group-valued parts).
* ``volume_<system>.png``: accumulated ``log|det J|`` of the learned one-step
  map against time (0 for a volume-preserving map).
* ``phase_<system>.png``: phase portraits of planar systems, predicted over
  the true trajectory, one panel per architecture.
"""

from __future__ import annotations

import math
from pathlib import Path

from evaluation._suite import colour, save_figure, subplots

_STYLES = {"one-step": "-", "neural-ode": "--"}


def _by_system(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in records:
        out.setdefault(rec["row"]["system"], []).append(rec)
    return out


def _seed_median(records: list[dict], key: str, t_key: str = "t"):
    """``{(arch, mode): (t, curve)}``: median over seeds of each cell's curve."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        if rec["curves"].get(key) is not None:
            groups.setdefault((rec["row"]["arch"], rec["row"]["mode"]), []).append(rec)
    out = {}
    for label, members in groups.items():
        t = members[0]["curves"][t_key]
        cols = zip(*(m["curves"][key] for m in members), strict=True)
        curve = [_median([math.inf if v is None else v for v in col]) for col in cols]
        out[label] = (t, curve)
    return out


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[(len(values) - 1) // 2]


def _colour(archs: list[str], arch: str):
    return colour(archs.index(arch))


def _line_plot(records, key, t_key, title, ylabel, path, loglog=True) -> bool:
    """One line per architecture and mode; returns False if nothing to plot."""
    data = _seed_median(records, key, t_key)
    if not data:
        return False
    dt = records[0]["curves"].get("dt", 1.0)
    archs = sorted({a for a, _ in data})
    fig, ax = subplots(figsize=(6.4, 4.2))
    for (arch, mode), (t, curve) in sorted(data.items()):
        pts = [
            (ti * dt, c)
            for ti, c in zip(t, curve, strict=True)
            if ti > 0 and math.isfinite(c) and (c > 0 or not loglog)
        ]
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(
                x,
                y,
                _STYLES.get(mode, ":"),
                color=_colour(archs, arch),
                label=f"{arch} ({mode})",
                lw=1.4,
            )
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)
    return True


def phase_plot(records: list[dict], system: str, path: Path) -> bool:
    """Phase portraits of the first test trajectory, one panel per arch/mode."""
    recs = [r for r in records if r["curves"].get("phase") and r["row"]["seed"] == 0]
    if not recs:
        return False
    n = len(recs)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, rec in zip(axes.flat, recs, strict=False):
        ph = rec["curves"]["phase"]
        for pts, style in (
            (ph["ref"], dict(color="0.6", lw=2.5, label="true")),
            (ph["pred"], dict(color="C3", lw=0.8, label="learned")),
        ):
            xy = [p for p in pts if p is not None]
            if xy:
                x, y = zip(*xy, strict=True)
                ax.plot(x, y, **style)
        _limit_to(ax, [p for p in ph["ref"] if p is not None])
        ax.set_title(f"{rec['row']['arch']} ({rec['row']['mode']})", fontsize=9)
        ax.set_xlabel(ph["labels"][0])
        ax.set_ylabel(ph["labels"][1])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(
        f"{system}: phase portrait, first held-out trajectory (seed 0)", y=1.02
    )
    fig.tight_layout()
    save_figure(fig, path)
    return True


def _limit_to(ax, ref: list) -> None:
    """Axes around the true orbit (with margin), so a diverged one cannot hide it."""
    if not ref:
        return
    for axis, values in (
        (ax.set_xlim, [p[0] for p in ref]),
        (ax.set_ylim, [p[1] for p in ref]),
    ):
        lo, hi = min(values), max(values)
        pad = 0.5 * (hi - lo) + 1e-9
        axis(lo - pad, hi + pad)


#: Line plots per system: (file prefix, curve key, time key, title, y label,
#: log-log axes).
LINE_PLOTS = [
    (
        "drift",
        "drift",
        "t",
        "invariant drift",
        "relative drift (worst invariant)",
        True,
    ),
    (
        "group_residual",
        "group_residual",
        "t",
        "distance from the group",
        "group residual",
        True,
    ),
    (
        "volume",
        "log_volume",
        "volume_t",
        "phase-space volume",
        "accumulated log|det J|",
        False,
    ),
]


def write_plots(plot_dir: Path, records: list[dict]) -> list[Path]:
    """Write every plot of every system; returns the files written."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for system, recs in _by_system(records).items():
        for kind, key, t_key, title, ylabel, loglog in LINE_PLOTS:
            path = plot_dir / f"{kind}_{system}.png"
            if _line_plot(recs, key, t_key, f"{system}: {title}", ylabel, path, loglog):
                written.append(path)
        path = plot_dir / f"phase_{system}.png"
        if phase_plot(recs, system, path):
            written.append(path)
    return written
