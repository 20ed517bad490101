"""evaluation: long rollouts of learned operators, structure metrics, benchmarks.

``rollout`` iterates a learned one-step map over many steps; ``score`` compares
the rollout with the ground truth on state error, geodesic error on the group
parts, invariant drift, constraint residuals, phase-space volume,
symplecticity and valid prediction time; ``bench`` runs a grid of systems x
architectures x modes x seeds and writes tables, a report and plots.
"""

from __future__ import annotations

from evaluation._base import (
    BenchConfig,
    Cell,
    RolloutSpec,
    Scores,
    SystemSpec,
    TrainSpec,
)
from evaluation.grid import bench
from evaluation.metrics import (
    drift_exponent,
    jacobian_metrics,
    score,
    step_jacobians,
    symplecticity_defect,
)
from evaluation.rollout import divergence_step, rollout

__all__ = [
    "BenchConfig",
    "Cell",
    "RolloutSpec",
    "Scores",
    "SystemSpec",
    "TrainSpec",
    "bench",
    "divergence_step",
    "drift_exponent",
    "jacobian_metrics",
    "rollout",
    "score",
    "step_jacobians",
    "symplecticity_defect",
]
