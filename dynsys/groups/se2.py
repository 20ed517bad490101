"""SE(2), rigid motions of the plane, as ``3 x 3`` homogeneous matrices.

Tangent vectors put translation first: ``xi = (v1, v2, omega)``,
``hat(xi) = [[0, -omega, v1], [omega, 0, v2], [0, 0, 0]]``. Write
``K = [[0, -1], [1, 0]]``, ``A = sin(w)/w``, ``B = (1 - cos w)/w^2`` and
``C = (w - sin w)/w^3``.

* ``exp(xi) = [[R(w), V v], [0, 1]]`` with ``V = A I + w B K``
  (Sola, Deray & Atchuthan 2018, arXiv:1812.01537, app. C; Eade, "Lie
  groups for 2D and 3D transformations", sec. 8.2).
* ``log``: ``w = atan2(R10 - R01, R00 + R11)`` and ``v = V^{-1} t`` with
  ``V^{-1} = (w/2) cot(w/2) I - (w/2) K`` (finite up to ``|w| = pi`` and beyond),
  computed as ``(1 - w^2 D) I - (w/2) K``, ``D = (1 - (w/2) cot(w/2))/w^2``.
* ``Ad_g = [[R, -K t], [0, 1]]``, ``ad_xi = [[w K, -K v], [0, 0]]``
  (Sola app. C).
* ``J_l(xi) = sum_k ad_xi^k/(k+1)! = [[V, u], [0, 1]]`` with
  ``u = w C v - B K v``, summed in closed form from that series (it is Sola's
  right Jacobian (app. C) with ``xi -> -xi``); ``J_l^{-1} = [[V^{-1},
  -V^{-1} u], [0, 1]]``.

``A, B, C, D`` switch to Taylor series near 0 (``_series``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynsys.groups import _series as S
from dynsys.groups._euclidean import SpecialEuclidean, homogeneous, split
from dynsys.groups.so2 import SO2, angle2, rot2, scalar_matrix

__all__ = ["SE2"]


def _perp(v: Tensor) -> Tensor:
    """``K v = (-v2, v1)`` for ``(*b, 2)``."""
    return torch.stack((-v[..., 1], v[..., 0]), -1)


def _apply(a: Tensor, b: Tensor, v: Tensor) -> Tensor:
    """``(a I + b K) v`` with ``a, b`` of shape ``(*b,)``."""
    return a[..., None] * v + b[..., None] * _perp(v)


def _v_inverse_coeffs(w: Tensor) -> tuple[Tensor, Tensor]:
    """``(a, b)`` with ``V(w)^{-1} = a I + b K``."""
    return 1.0 - w * w * S.COT_TERM(w * w), -0.5 * w


def _u_vector(v: Tensor, w: Tensor) -> Tensor:
    """Top-right column ``u = w C v - B K v`` of ``J_l``."""
    x = w * w
    return _apply(w * S.T_MINUS_SIN(x), -S.ONE_MINUS_COS(x), v)


class SE2(SpecialEuclidean):
    """Rigid motions of the plane; tangent ``(v1, v2, omega)``.

    ``residual`` = ``||R^T R - I||_F + |det R - 1|`` plus the bottom-row error;
    ``project`` replaces ``R`` by the nearest rotation (SO(2)'s closed form).
    ``sample``: uniform angle, standard-normal translation.
    """

    name = "SE2"
    dim = 3
    matrix_size = 3

    def hat(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "hat")
        w = xi[..., 2]
        top = torch.cat((scalar_matrix(torch.zeros_like(w), w), xi[..., :2, None]), -1)
        return torch.cat((top, torch.zeros_like(top[..., :1, :])), -2)

    def vee(self, X: Tensor) -> Tensor:
        self._check_matrix(X, "vee", "X")
        w = 0.5 * (X[..., 1, 0] - X[..., 0, 1])
        return torch.stack((X[..., 0, 2], X[..., 1, 2], w), -1)

    def exp(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "exp")
        v, w = xi[..., :2], xi[..., 2]
        x = w * w
        t = _apply(S.SINC(x), w * S.ONE_MINUS_COS(x), v)
        return homogeneous(rot2(w), t)

    def log(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "log")
        self._check_in_group(g, "log")
        R, t = split(g)
        w = angle2(R)
        v = _apply(*_v_inverse_coeffs(w), t)
        return torch.cat((v, w[..., None]), -1)

    def adjoint(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "adjoint")
        R, t = split(g)
        return homogeneous(R, -_perp(t))

    def ad(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "ad")
        return self.hat(torch.cat((-_perp(xi[..., :2]), xi[..., 2:]), -1))

    def left_jacobian(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian")
        v, w = xi[..., :2], xi[..., 2]
        x = w * w
        V = scalar_matrix(S.SINC(x), w * S.ONE_MINUS_COS(x))
        return homogeneous(V, _u_vector(v, w))

    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian_inv")
        v, w = xi[..., :2], xi[..., 2]
        a, b = _v_inverse_coeffs(w)
        return homogeneous(scalar_matrix(a, b), -_apply(a, b, _u_vector(v, w)))

    def _nearest_rotation(self, R: Tensor) -> Tensor:
        return rot2(angle2(R))

    def _sample_rotations(self, n: int, generator: torch.Generator | None) -> Tensor:
        return SO2()._sample(n, generator)
