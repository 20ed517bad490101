"""Bilinear blocks: ``P((W x + b) * (V x + c))``.

The elementwise product of two linear maps makes every output a quadratic
form of the input, with no pointwise nonlinearity. Without biases the block
is the form studied for its separable training dynamics: each hidden unit
``k`` contributes ``P[:, k] (w_k . x)(v_k . x)``, a rank-one symmetric
quadratic, so the whole block is a third-order tensor written as a sum of
rank-one terms (Pearce et al., "Bilinear MLPs enable weight-based mechanistic
interpretability", 2024; Shazeer, "GLU Variants Improve Transformer",
2020, sec. 2, the "Bilinear" variant). With biases, ``b`` and ``c`` add the linear
and constant terms, so the block also represents affine maps exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from learners._base import Block


class BilinearBlock(Block):
    """``P((W x + b) * (V x + c))``; ``W, V: d_in -> hidden``, ``P: hidden -> d_out``.

    Args:
        d_in, d_out, hidden: sizes.
        bias: give ``W``, ``V`` and ``P`` biases (``b``, ``c`` and the output
            bias). ``False`` is the pure bilinear form ``P(W x * V x)``.
    """

    def __init__(self, d_in: int, d_out: int, hidden: int, bias: bool = True) -> None:
        super().__init__(d_in, d_out, hidden)
        self.W = nn.Linear(d_in, hidden, bias=bias)
        self.V = nn.Linear(d_in, hidden, bias=bias)
        self.P = nn.Linear(hidden, d_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*b, d_in) -> (*b, d_out)``."""
        return self.P(self.W(x) * self.V(x))
