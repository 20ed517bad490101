"""Contract of the evaluation package: scores, benchmark configurations, cells.

A benchmark is a grid ``system x architecture x mode x seed``. Each point of
the grid is a :class:`Cell`: simulate short training windows of the system,
train one learned operator on them, roll it out from held-out initial
conditions for many times the training window, and score the rollout against
the ground truth. :class:`BenchConfig` holds the grid and the shared settings;
it is validated completely before any training starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

#: Operator modes a benchmark cell may train.
MODES = ("one-step", "neural-ode")


@dataclass
class Scores:
    """The result of :func:`evaluation.score`.

    Attributes:
        series: per-step metrics, name -> tensor ``(frames, batch)``. Names:
            ``state_error``; ``geodesic_error/<part>`` and
            ``group_residual/<part>`` for each group-valued block;
            ``drift/<invariant>``; ``constraint/<name>``; ``normalised_error``.
        jacobian_series: metrics of the one-step map's Jacobian, name ->
            tensor ``(len(jacobian_steps), batch)``: ``log_det`` (per step),
            ``log_volume`` (accumulated), ``symplecticity`` (Hamiltonian
            systems only).
        jacobian_steps: frame indices ``(k,)`` at which Jacobians were taken.
        divergence_step: ``(batch,)`` first non-finite frame, -1 if none.
        vpt_steps: ``(batch,)`` valid prediction time in steps.
        summary: scalar summary, name -> float (see :func:`evaluation.score`).
        dt: time between frames.
    """

    series: dict[str, torch.Tensor]
    jacobian_series: dict[str, torch.Tensor]
    jacobian_steps: torch.Tensor
    divergence_step: torch.Tensor
    vpt_steps: torch.Tensor
    summary: dict[str, float]
    dt: float

    @property
    def frames(self) -> int:
        """Number of frames scored."""
        return int(self.series["state_error"].shape[0])


@dataclass(frozen=True)
class SystemSpec:
    """One system of a benchmark suite.

    Attributes:
        key: label used in file names and tables (unique in the suite).
        name: registered system name, e.g. ``"rigid-body"``.
        params: keyword parameters for ``dynsys.get_system``.
        modes: operator modes run on this system.
        dt: frame spacing, or ``None`` for the system's default.
    """

    key: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    modes: tuple[str, ...] = ("one-step",)
    dt: float | None = None


@dataclass(frozen=True)
class TrainSpec:
    """How each cell trains its operator.

    Attributes:
        n_traj: training trajectories per cell.
        window: steps per training trajectory (the "short window").
        epochs: training epochs.
        lr: learning rate.
        params: target parameter count; every architecture's hidden width is
            chosen to match it.
        depth: blocks per model.
        batch_size: training windows per minibatch.
        unroll: steps of the operator's own rollout in each training loss
            (1 is one-step regression; at most ``window``).
    """

    n_traj: int = 64
    window: int = 10
    epochs: int = 200
    lr: float = 3e-3
    params: int = 1500
    depth: int = 1
    batch_size: int = 256
    unroll: int = 1


@dataclass(frozen=True)
class RolloutSpec:
    """How each cell rolls out and scores its operator.

    Attributes:
        n_test: held-out initial conditions.
        horizon: rollout length in units of the training window (>= 1).
        jacobian_points: at most this many frames get a Jacobian.
        vpt_threshold: normalised-error threshold of the valid prediction time.
        dtype: ``"float32"`` or ``"float64"`` for the rollout.
    """

    n_test: int = 16
    horizon: int = 100
    jacobian_points: int = 64
    vpt_threshold: float = 0.5
    dtype: str = "float32"


@dataclass(frozen=True)
class BenchConfig:
    """A whole benchmark grid.

    Attributes:
        name: suite name.
        systems: the systems.
        archs: architecture names (``learners.available()``).
        seeds: seeds ``0 .. seeds-1`` per cell.
        train: training settings.
        rollout: rollout settings.
    """

    name: str
    systems: tuple[SystemSpec, ...]
    archs: tuple[str, ...]
    seeds: int
    train: TrainSpec
    rollout: RolloutSpec

    def cells(self) -> list[Cell]:
        """All grid points, system-major."""
        return [
            Cell(s, arch, mode, seed, self.train, self.rollout)
            for s in self.systems
            for mode in s.modes
            for arch in self.archs
            for seed in range(self.seeds)
        ]


@dataclass(frozen=True)
class Cell:
    """One grid point: train and score one operator."""

    system: SystemSpec
    arch: str
    mode: str
    seed: int
    train: TrainSpec
    rollout: RolloutSpec

    @property
    def cell_id(self) -> str:
        """File-name-safe identifier, unique in a suite."""
        return f"{self.system.key}__{self.arch}__{self.mode}__s{self.seed}"

    @property
    def steps(self) -> int:
        """Rollout length in steps."""
        return self.train.window * self.rollout.horizon

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description; a finished cell is reused only if equal."""
        out = asdict(self)
        out["system"]["params"] = _jsonable(out["system"]["params"])
        out["system"]["modes"] = list(out["system"]["modes"])
        return out


def _jsonable(value: Any) -> Any:
    """Tuples to lists, recursively, so that specs compare equal after JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
