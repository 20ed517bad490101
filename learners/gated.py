"""Gated linear unit blocks: ``P(act(W x) * (V x))``.

SwiGLU (``act = SiLU``), GeGLU (``act = GELU``) and ReGLU (``act = ReLU``)
from Shazeer, "GLU Variants Improve Transformer" (2020), sec. 2, after
Dauphin et al., "Language Modeling with Gated Convolutional Networks" (2017).
Shazeer's maps have no biases; here they have them by default, because a
bias-free block is positively homogeneous of degree 2 (ReGLU) or nearly so
and cannot represent the affine maps that one-step dynamics need
(``bias=False`` gives the original form).
"""

from __future__ import annotations

import torch
from torch import nn

from learners._base import Block, make_activation

#: Gate activations a gated block accepts.
GATES = ("silu", "gelu", "relu")


class GatedBlock(Block):
    """``P(act(W x) * (V x))``; ``W, V: d_in -> hidden``, ``P: hidden -> d_out``.

    Args:
        d_in, d_out, hidden: sizes.
        act: gate activation, one of ``silu``, ``gelu``, ``relu``.
        bias: give the three linear maps biases (default ``True``).
    """

    def __init__(
        self, d_in: int, d_out: int, hidden: int, act: str = "silu", bias: bool = True
    ) -> None:
        super().__init__(d_in, d_out, hidden)
        self.act = make_activation(act, GATES)
        self.W = nn.Linear(d_in, hidden, bias=bias)
        self.V = nn.Linear(d_in, hidden, bias=bias)
        self.P = nn.Linear(hidden, d_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*b, d_in) -> (*b, d_out)``."""
        return self.P(self.act(self.W(x)) * self.V(x))
