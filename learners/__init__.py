"""learners: bilinear, gated and pointwise networks as one-step or ODE operators.

``make_model`` builds a network of a registered architecture; ``OneStep`` and
``NeuralODE`` wrap it as a map on raw states; ``train`` fits either to a
trajectory or to ``(inputs, targets)`` pairs; ``save`` and ``load`` keep it.
See docs/internals.md ("Learners") for the contract other packages rely on.
"""

from __future__ import annotations

from learners._base import Block, Normalizer, Operator, TrainingError
from learners.bilinear import BilinearBlock
from learners.checkpoint import load, save
from learners.gated import GatedBlock
from learners.models import (
    ResidualStack,
    available,
    count_params,
    make_model,
    matched_hidden,
    register_architecture,
)
from learners.operators import NeuralODE, OneStep
from learners.pointwise import MLPBlock
from learners.training import TrainConfig, TrainingHistory, train

__all__ = [
    "BilinearBlock",
    "Block",
    "GatedBlock",
    "MLPBlock",
    "NeuralODE",
    "Normalizer",
    "OneStep",
    "Operator",
    "ResidualStack",
    "TrainConfig",
    "TrainingError",
    "TrainingHistory",
    "available",
    "count_params",
    "load",
    "make_model",
    "matched_hidden",
    "register_architecture",
    "save",
    "train",
]
