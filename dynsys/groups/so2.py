"""SO(2), the rotations of the plane.

Tangent coordinate: the angle ``theta``; ``hat(theta) = [[0, -theta], [theta, 0]]``,
``exp(theta) = [[cos, -sin], [sin, cos]]`` (Sola, Deray & Atchuthan 2018,
arXiv:1812.01537, app. A). The group is abelian, so ``Ad = 1``,
``ad = 0`` and both Jacobians are 1 (Sola app. A).

``log`` is ``atan2(R10 - R01, R00 + R11)``, which is exact on rotations and,
for any ``2 x 2`` matrix, returns the angle of its nearest rotation; the angle
lies in ``(-pi, pi]`` (``+pi`` at exactly pi). ``project`` uses the same
closed form: ``tr(R(t)^T A) = (A00 + A11) cos t + (A10 - A01) sin t`` is largest
at that angle, so ``R(angle)`` is the rotation nearest to ``A`` in Frobenius norm.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynsys.groups._base import LieGroup
from dynsys.groups._projection import rotation_residual

__all__ = ["SO2"]


def scalar_matrix(a: Tensor, b: Tensor) -> Tensor:
    """``a I + b K`` with ``K = [[0, -1], [1, 0]]``: ``(*b,), (*b,) -> (*b, 2, 2)``."""
    return torch.stack((torch.stack((a, -b), -1), torch.stack((b, a), -1)), -2)


def rot2(theta: Tensor) -> Tensor:
    """``(*b,) -> (*b, 2, 2)`` rotation matrices."""
    return scalar_matrix(torch.cos(theta), torch.sin(theta))


def angle2(R: Tensor) -> Tensor:
    """``(*b, 2, 2) -> (*b,)`` angle of the nearest rotation, in ``(-pi, pi]``."""
    # "+ 0.0" maps a -0.0 sine to +0.0 so that exactly pi gives +pi.
    y = (R[..., 1, 0] - R[..., 0, 1]) + 0.0
    return torch.atan2(y, R[..., 0, 0] + R[..., 1, 1])


class SO2(LieGroup):
    """Planar rotations as ``2 x 2`` matrices; tangent = angle, shape ``(*b, 1)``.

    ``residual(R) = ||R^T R - I||_F + |det R - 1|``; ``project`` returns the
    nearest rotation (closed-form polar factor). ``sample`` draws uniform
    angles in ``[-pi, pi)``.
    """

    name = "SO2"
    dim = 1
    matrix_size = 2

    def hat(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "hat")
        return scalar_matrix(torch.zeros_like(xi[..., 0]), xi[..., 0])

    def vee(self, X: Tensor) -> Tensor:
        self._check_matrix(X, "vee", "X")
        return (0.5 * (X[..., 1, 0] - X[..., 0, 1]))[..., None]

    def exp(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "exp")
        return rot2(xi[..., 0])

    def log(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "log")
        self._check_in_group(g, "log")
        return angle2(g)[..., None]

    def inverse(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "inverse")
        return g.transpose(-1, -2)

    def adjoint(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "adjoint")
        return torch.ones_like(g[..., :1, :1])

    def ad(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "ad")
        return torch.zeros_like(xi[..., None])

    def left_jacobian(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian")
        return torch.ones_like(xi[..., None])

    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian_inv")
        return self.left_jacobian(xi)

    def dexp_inv(self, xi: Tensor, v: Tensor) -> Tensor:
        self._check_vector(xi, "dexp_inv")
        self._check_vector(v, "dexp_inv", "v")
        self._check_pair(xi, v, "dexp_inv", ("xi", "v"), 1)
        return torch.broadcast_to(v, torch.broadcast_shapes(v.shape, xi.shape)).clone()

    def residual(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "residual")
        return rotation_residual(g)

    def project(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "project")
        return rot2(angle2(g))

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        return rot2((2.0 * u - 1.0) * math.pi)
