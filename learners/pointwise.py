"""Pointwise MLP blocks: ``L2(act(L1 x))`` with an elementwise activation.

The baseline the multiplicative blocks are compared with: a one-hidden-layer
perceptron (Rumelhart, Hinton and Williams, 1986) with ReLU, tanh, sigmoid or
GELU (Hendrycks and Gimpel, "Gaussian Error Linear Units", 2016) units.
"""

from __future__ import annotations

import torch
from torch import nn

from learners._base import Block, make_activation

#: Activations a pointwise block accepts.
POINTWISE = ("relu", "tanh", "sigmoid", "gelu")


class MLPBlock(Block):
    """``layers = Sequential(Linear(d_in, hidden), act, Linear(hidden, d_out))``.

    Args:
        d_in, d_out, hidden: sizes.
        act: one of ``relu``, ``tanh``, ``sigmoid``, ``gelu``.
        bias: give both linear maps biases (default ``True``).
    """

    def __init__(
        self, d_in: int, d_out: int, hidden: int, act: str = "relu", bias: bool = True
    ) -> None:
        super().__init__(d_in, d_out, hidden)
        self.layers = nn.Sequential(
            nn.Linear(d_in, hidden, bias=bias),
            make_activation(act, POINTWISE),
            nn.Linear(hidden, d_out, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*b, d_in) -> (*b, d_out)``."""
        return self.layers(x)
