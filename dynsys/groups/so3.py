"""SO(3), the rotations of R^3, with closed-form exp, log and Jacobians.

Tangent coordinates are the rotation vector ``w`` (axis times angle);
``hat(w) = [[0, -w3, w2], [w3, 0, -w1], [-w2, w1, 0]]``.

Formulas, with ``theta = |w|`` and ``W = hat(w)``:

* exp (Rodrigues): ``R = I + sin(t)/t W + (1 - cos t)/t^2 W^2``
  (Barfoot 2017, sec. 7.1.3; Sola et al. 2018, app. B).
* left Jacobian: ``J_l = I + (1 - cos t)/t^2 W + (t - sin t)/t^3 W^2``
  (Barfoot sec. 7.1.5; Sola app. B, ``J_r`` with ``w -> -w``), and
  ``J_l^{-1} = I - W/2 + (1 - (t/2) cot(t/2))/t^2 W^2`` (Barfoot sec. 7.1.5).
* log: the angle is ``atan2(|s|, c)`` with ``s = vee(R - R^T)/2 = sin(t) a``
  and ``c = (tr R - 1)/2 = cos t`` (never ``arccos`` of the trace, which loses
  all digits near 0 and pi). Away from pi, ``w = t/sin(t) s``. Near pi the
  axis comes from the symmetric part ``(R + R^T)/2 - c I = (1 - c) a a^T``:
  the column with the largest diagonal entry, normalised, with that entry
  positive; the signed angle is then ``atan2(s . a, c)``, which fixes the sign
  of ``w`` by the antisymmetric part and gives ``+pi a`` at exactly pi
  (cf. Eade, "Lie groups for 2D and 3D transformations", sec. 3).
* ``Ad_R = R``, ``ad_w = hat(w)``.

Coefficient functions switch to Taylor series near 0 (see ``_series``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynsys.groups import _series as S
from dynsys.groups._base import LieGroup
from dynsys.groups._projection import nearest_rotation, rotation_residual

__all__ = ["SO3"]

# Below this cosine of the angle (theta > ~2.42 rad) log takes the axis from the
# symmetric part; above it from the antisymmetric part. Both are accurate in
# the overlap, so the choice only affects round-off.
_NEAR_PI_COS = -0.75


def hat3(w: Tensor) -> Tensor:
    """``(*b, 3) -> (*b, 3, 3)`` skew matrix with ``hat(w) v = w x v``."""
    w1, w2, w3 = w.unbind(-1)
    zero = torch.zeros_like(w1)
    rows = (
        torch.stack((zero, -w3, w2), -1),
        torch.stack((w3, zero, -w1), -1),
        torch.stack((-w2, w1, zero), -1),
    )
    return torch.stack(rows, -2)


def vee3(X: Tensor) -> Tensor:
    """``(*b, 3, 3) -> (*b, 3)``, the inverse of ``hat3`` on its antisymmetric part."""
    return 0.5 * torch.stack(
        (
            X[..., 2, 1] - X[..., 1, 2],
            X[..., 0, 2] - X[..., 2, 0],
            X[..., 1, 0] - X[..., 0, 1],
        ),
        -1,
    )


def _sq(w: Tensor) -> Tensor:
    """``theta**2 = |w|**2`` with a trailing unit axis pair for broadcasting."""
    return (w * w).sum(-1)[..., None, None]


def exp3(w: Tensor) -> Tensor:
    """Rodrigues' formula, ``(*b, 3) -> (*b, 3, 3)``."""
    x = _sq(w)
    W = hat3(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye + S.SINC(x) * W + S.ONE_MINUS_COS(x) * (W @ W)


def left_jacobian3(w: Tensor) -> Tensor:
    """``J_l(w)``, ``(*b, 3) -> (*b, 3, 3)`` (Barfoot sec. 7.1.5)."""
    x = _sq(w)
    W = hat3(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye + S.ONE_MINUS_COS(x) * W + S.T_MINUS_SIN(x) * (W @ W)


def left_jacobian_inv3(w: Tensor) -> Tensor:
    """``J_l(w)^{-1}``, ``(*b, 3) -> (*b, 3, 3)``; valid for ``|w| < 2 pi``."""
    x = _sq(w)
    W = hat3(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye - 0.5 * W + S.COT_TERM(x) * (W @ W)


def log3(R: Tensor) -> Tensor:
    """Rotation vector of ``R`` with angle in ``[0, pi]``, ``(*b, 3, 3) -> (*b, 3)``."""
    s = vee3(R)
    c = 0.5 * (R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0)
    near_pi = c < _NEAR_PI_COS
    w_pi = _log3_near_pi(R, s, c, near_pi)
    w_gen = _log3_general(s, c, near_pi)
    return torch.where(near_pi[..., None], w_pi, w_gen)


def _log3_general(s: Tensor, c: Tensor, near_pi: Tensor) -> Tensor:
    """``w = theta / sin(theta) s`` for angles away from pi."""
    x = (s * s).sum(-1)
    cut = S.ASIN_OVER_X.cutoff(s.dtype)
    small = (x < cut * cut) & (c > 0)
    # Where the Taylor branch (or the near-pi branch) is used, give the closed
    # form a harmless input so its gradient stays finite.
    x_safe = torch.where(small | near_pi, torch.ones_like(x), x)
    c_safe = torch.where(small | near_pi, torch.zeros_like(c), c)
    sin_t = torch.sqrt(x_safe)
    closed = torch.atan2(sin_t, c_safe) / sin_t
    series = S.ASIN_OVER_X.series(torch.where(small, x, torch.zeros_like(x)))
    return torch.where(small, series, closed)[..., None] * s


def _log3_near_pi(R: Tensor, s: Tensor, c: Tensor, near_pi: Tensor) -> Tensor:
    """Axis from the symmetric part, signed angle ``atan2(s . a, c)``."""
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    # A safe input (a rotation by pi about x) where this branch is not taken.
    R_safe = torch.where(
        near_pi[..., None, None], R, torch.diag(eye.new_tensor([1.0, -1.0, -1.0]))
    )
    c_safe = torch.where(near_pi, c, -torch.ones_like(c))
    s_safe = torch.where(near_pi[..., None], s, torch.zeros_like(s))
    B = 0.5 * (R_safe + R_safe.transpose(-1, -2)) - c_safe[..., None, None] * eye
    # Limitation: off the group, the column choice makes the gradient with
    # respect to R jump where two diagonal entries tie; on the group all
    # columns give the same axis and the derivative along the group is smooth.
    k = B.diagonal(dim1=-2, dim2=-1).argmax(-1)
    col = torch.take_along_dim(B, k[..., None, None], dim=-1).squeeze(-1)
    axis = col / torch.linalg.vector_norm(col, dim=-1, keepdim=True)
    # "+ 0.0" turns a -0.0 sine into +0.0 so that exactly pi maps to +pi a.
    sin_t = (s_safe * axis).sum(-1) + 0.0
    return torch.atan2(sin_t, c_safe)[..., None] * axis


class SO3(LieGroup):
    """Rotations of R^3 as ``3 x 3`` matrices; tangent = rotation vector.

    ``residual(R) = ||R^T R - I||_F + |det R - 1|``; ``project`` returns the
    orthogonal polar factor (Newton iteration; SVD with a det fix when
    ``det R <= 0``), the nearest rotation in Frobenius norm.
    ``sample`` draws Haar-uniform rotations (normalised Gaussian quaternions).
    """

    name = "SO3"
    dim = 3
    matrix_size = 3

    def hat(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "hat")
        return hat3(xi)

    def vee(self, X: Tensor) -> Tensor:
        self._check_matrix(X, "vee", "X")
        return vee3(X)

    def exp(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "exp")
        return exp3(xi)

    def log(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "log")
        self._check_in_group(g, "log")
        return log3(g)

    def inverse(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "inverse")
        return g.transpose(-1, -2)

    def adjoint(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "adjoint")
        return g.clone()

    def ad(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "ad")
        return hat3(xi)

    def left_jacobian(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian")
        return left_jacobian3(xi)

    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "left_jacobian_inv")
        return left_jacobian_inv3(xi)

    def dexp_inv(self, xi: Tensor, v: Tensor) -> Tensor:
        self._check_vector(xi, "dexp_inv")
        self._check_vector(v, "dexp_inv", "v")
        self._check_pair(xi, v, "dexp_inv", ("xi", "v"), 1)
        # J_r^{-1}(w) v = v + w x v / 2 + D(t) w x (w x v)  (J_r(w) = J_l(-w)).
        wxv = torch.linalg.cross(xi, v, dim=-1)
        d = S.COT_TERM((xi * xi).sum(-1, keepdim=True))
        return v + 0.5 * wxv + d * torch.linalg.cross(xi, wxv, dim=-1)

    def residual(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "residual")
        return rotation_residual(g)

    def project(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "project")
        return nearest_rotation(g)

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        return sample_rotations3(n, generator)


def sample_rotations3(n: int, generator: torch.Generator | None) -> Tensor:
    """Haar-uniform rotations from normalised Gaussian quaternions (Shoemake 1992)."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    a, b, c, d = q.unbind(-1)
    R = torch.stack(
        (
            torch.stack(
                (
                    a * a + b * b - c * c - d * d,
                    2 * (b * c - a * d),
                    2 * (b * d + a * c),
                ),
                -1,
            ),
            torch.stack(
                (
                    2 * (b * c + a * d),
                    a * a - b * b + c * c - d * d,
                    2 * (c * d - a * b),
                ),
                -1,
            ),
            torch.stack(
                (
                    2 * (b * d - a * c),
                    2 * (c * d + a * b),
                    a * a - b * b - c * c + d * d,
                ),
                -1,
            ),
        ),
        -2,
    )
    return R
