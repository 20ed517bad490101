"""Gated linear unit blocks: ``P(act(W x) * (V x))``.

SwiGLU (``act = SiLU``), GeGLU (``act = GELU``) and ReGLU (``act = ReLU``)
from Shazeer, "GLU Variants Improve Transformer" (2020), sec. 2, after
Dauphin et al., "Language Modeling with Gated Convolutional Networks" (2017).
As there, the linear maps have no biases by default.
"""

from __future__ import annotations

import torch
from torch import nn

from learners._base import Block

#: Gate activations by name.
ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}


class GatedBlock(Block):
    """``P(act(W x) * (V x))``; ``W, V: d_in -> hidden``, ``P: hidden -> d_out``.

    Args:
        d_in, d_out, hidden: sizes.
        act: gate activation, one of ``silu``, ``gelu``, ``relu``.
        bias: give the three linear maps biases (default ``False``, as in
            Shazeer 2020).
    """

    def __init__(
        self, d_in: int, d_out: int, hidden: int, act: str = "silu", bias: bool = False
    ) -> None:
        super().__init__(d_in, d_out, hidden)
        if act not in ACTIVATIONS:
            raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {act!r}")
        self.act = ACTIVATIONS[act]()
        self.W = nn.Linear(d_in, hidden, bias=bias)
        self.V = nn.Linear(d_in, hidden, bias=bias)
        self.P = nn.Linear(hidden, d_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*b, d_in) -> (*b, d_out)``."""
        return self.P(self.act(self.W(x)) * self.V(x))
