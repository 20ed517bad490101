"""SE(3), rigid motions of R^3, as ``4 x 4`` homogeneous matrices.

Tangent vectors put translation first: ``xi = (rho, omega)``, ``rho, omega`` in
R^3, ``hat(xi) = [[hat(omega), rho], [0, 0]]``. With ``J = J_l(omega)`` the SO(3)
left Jacobian:

* ``exp(xi) = [[exp(omega), J rho], [0, 1]]`` and ``log`` inverts it with
  ``rho = J^{-1} t`` (Barfoot 2017, sec. 7.1.3; Sola et al. 2018,
  app. D); the rotation part uses SO(3)'s log, so the angle-pi handling and
  the Taylor branches carry over, and ``J^{-1}`` stays finite up to angle
  ``2 pi``.
* ``Ad_g = [[R, hat(t) R], [0, R]]``, ``ad_xi = [[hat(omega), hat(rho)],
  [0, hat(omega)]]`` (Barfoot sec. 7.1.4, in this ordering).
* ``J_l(xi) = [[J, Q], [0, J]]``, ``J_l^{-1} = [[J^{-1}, -J^{-1} Q J^{-1}],
  [0, J^{-1}]]`` with ``Q(rho, omega)`` of Barfoot sec. 7.1.5; its three
  coefficient functions switch to Taylor series near 0 (``_series``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynsys.groups import _series as S
from dynsys.groups._euclidean import SpecialEuclidean, homogeneous, split
from dynsys.groups._projection import nearest_rotation
from dynsys.groups.so3 import (
    exp3,
    hat3,
    left_jacobian3,
    left_jacobian_inv3,
    log3,
    sample_rotations3,
    vee3,
)

__all__ = ["SE3"]


def _blocks(a: Tensor, b: Tensor, d: Tensor) -> Tensor:
    """``[[a, b], [0, d]]`` from ``(*b, 3, 3)`` blocks."""
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2], d.shape[:-2])
    a, b, d = (m.expand(*batch, 3, 3) for m in (a, b, d))
    top = torch.cat((a, b), -1)
    bottom = torch.cat((torch.zeros_like(d), d), -1)
    return torch.cat((top, bottom), -2)


def q_matrix(rho: Tensor, omega: Tensor) -> Tensor:
    """Barfoot's ``Q(rho, omega)`` (sec. 7.1.5), ``(*b, 3, 3)``."""
    P, W = hat3(rho), hat3(omega)
    x = (omega * omega).sum(-1)[..., None, None]
    WP, PW = W @ P, P @ W
    WPW = WP @ W
    return (
        0.5 * P
        + S.T_MINUS_SIN(x) * (WP + PW + WPW)
        + S.COS_TERM_4(x) * (W @ WP + PW @ W - 3.0 * WPW)
        + S.SIN_TERM_5(x) * (WPW @ W + W @ WPW)
    )


class SE3(SpecialEuclidean):
    """Rigid motions of R^3; tangent ``(rho1, rho2, rho3, omega1, omega2, omega3)``.

    ``residual`` = rotation residual ``||R^T R - I||_F + |det R - 1|`` plus the
    bottom-row error; ``project`` replaces ``R`` by its orthogonal polar factor
    (nearest rotation; SVD when ``det R <= 0``). ``sample``: Haar-uniform
    rotation, standard-normal translation.
    """

    name = "SE3"
    dim = 6
    matrix_size = 4

    def hat(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "hat")
        top = torch.cat((hat3(xi[..., 3:]), xi[..., :3, None]), -1)
        return torch.cat((top, torch.zeros_like(top[..., :1, :])), -2)

    def vee(self, X: Tensor) -> Tensor:
        self._check_matrix(X, "vee", "X")
        return torch.cat((X[..., :3, 3], vee3(X[..., :3, :3])), -1)

    def exp(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "exp")
        rho, omega = xi[..., :3], xi[..., 3:]
        t = (left_jacobian3(omega) @ rho[..., None])[..., 0]
        return homogeneous(exp3(omega), t)

    def log(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "log")
        self._check_in_group(g, "log")
        R, t = split(g)
        omega = log3(R)
        rho = (left_jacobian_inv3(omega) @ t[..., None])[..., 0]
        return torch.cat((rho, omega), -1)

    def adjoint(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "adjoint")
        R, t = split(g)
        return _blocks(R, hat3(t) @ R, R)

    def ad(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "ad")
        W = hat3(xi[..., 3:])
        return _blocks(W, hat3(xi[..., :3]), W)

    def left_jacobian(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian")
        J = left_jacobian3(xi[..., 3:])
        return _blocks(J, q_matrix(xi[..., :3], xi[..., 3:]), J)

    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian_inv")
        J_inv = left_jacobian_inv3(xi[..., 3:])
        Q = q_matrix(xi[..., :3], xi[..., 3:])
        return _blocks(J_inv, -J_inv @ Q @ J_inv, J_inv)

    def _nearest_rotation(self, R: Tensor) -> Tensor:
        return nearest_rotation(R)

    def _sample_rotations(self, n: int, generator: torch.Generator | None) -> Tensor:
        return sample_rotations3(n, generator)
