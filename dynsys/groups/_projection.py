"""Residuals and projections back onto a matrix group.

Rotations. The nearest orthogonal matrix to ``A`` in Frobenius norm is the
orthogonal polar factor ``U`` of ``A = U H`` (Fan & Hoffman, Proc. AMS 6, 1955).
We compute it with the scaled Newton iteration
``X <- (gamma X + X^{-T} / gamma) / 2``, ``gamma = (||X^{-1}||_F / ||X||_F)^(1/2)``
(Higham, "Computing the polar decomposition - with applications", SIAM J. Sci.
Stat. Comput. 7, 1986, sec. 3), which converges quadratically, is exact in one
step on a rotation, and - unlike an SVD - has a finite gradient at matrices with
repeated singular values (every rotation). When ``det A <= 0`` the polar factor
is a reflection; there the nearest rotation ``U diag(1, .., 1, det(U V^T)) V^T``
comes from the SVD (Umeyama, IEEE TPAMI 13, 1991).

Symplectic matrices. ``Sp`` uses the generalised polar decomposition
``A = W S`` with ``W`` symplectic and ``S`` self-adjoint for the symplectic
form, computed by the Newton iteration ``X <- (X + X^{-#}) / 2`` with
``X^# = J^T X^T J`` (Higham, Mackey, Mackey & Tisseur, "Computing the polar
decomposition and the matrix sign decomposition in matrix groups", SIAM J.
Matrix Anal. Appl. 25, 2004, sec. 3). ``W`` is a group element near ``A`` and
equals ``A`` on the group, but it is not the Frobenius-nearest element.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

_MAX_ITERATIONS = 60


def rotation_residual(R: Tensor) -> Tensor:
    """``||R^T R - I||_F + |det R - 1|`` over the last two axes, ``(*b,)``."""
    n = R.shape[-1]
    eye = torch.eye(n, dtype=R.dtype, device=R.device)
    gram = R.transpose(-1, -2) @ R - eye
    return torch.linalg.matrix_norm(gram) + (torch.linalg.det(R) - 1.0).abs()


def newton_polar(A: Tensor, sharp: Callable[[Tensor], Tensor], scaled: bool) -> Tensor:
    """Iterate ``X <- (gamma X + (X^#)^{-1} / gamma) / 2`` from ``X = A`` to a
    fixed point.

    Args:
        A: ``(*b, n, n)`` nonsingular matrices.
        sharp: the adjoint ``X -> X^#`` of the scalar product defining the group.
        scaled: use Higham's Frobenius-norm scaling (orthogonal case only).

    Returns:
        ``(*b, n, n)``, the group factor of the (generalised) polar
        decomposition; NaN where ``A`` is singular or not finite (a diverged
        state is data, not an error).

    Raises:
        ValueError: if the iteration has not converged after 60 steps.
    """
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    _, info = torch.linalg.inv_ex(A.detach())
    valid = (info == 0) & torch.isfinite(A.detach()).all(-1).all(-1)
    X = torch.where(valid[..., None, None], A, eye)
    tol = 8.0 * torch.finfo(A.dtype).eps * A.shape[-1]
    for _ in range(_MAX_ITERATIONS):
        inv_sharp = torch.linalg.inv(sharp(X))
        if scaled:
            ratio = torch.linalg.matrix_norm(inv_sharp) / torch.linalg.matrix_norm(X)
            gamma = torch.sqrt(ratio)[..., None, None]
            X_new = 0.5 * (gamma * X + inv_sharp / gamma)
        else:
            X_new = 0.5 * (X + inv_sharp)
        step = (X_new - X).detach().abs().amax(dim=(-2, -1))
        scale = X_new.detach().abs().amax(dim=(-2, -1)).clamp_min(1.0)
        X = X_new
        if not bool((step > tol * scale).any()):
            return torch.where(valid[..., None, None], X, torch.nan)
    raise ValueError(
        "projection: the polar Newton iteration did not converge in "
        f"{_MAX_ITERATIONS} steps; is the input singular or far from the group?"
    )


def nearest_rotation(A: Tensor) -> Tensor:
    """Nearest rotation to each ``(*b, n, n)`` matrix in Frobenius norm (NaN
    where the input is not finite)."""
    n = A.shape[-1]
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    finite = torch.isfinite(A.detach()).all(-1).all(-1)[..., None, None]
    A = torch.where(finite, A, eye)
    positive = torch.linalg.det(A.detach()) > 0
    # Each branch gets a harmless input where it is not used (double where).
    A_pos = torch.where(positive[..., None, None], A, eye)
    polar = newton_polar(A_pos, lambda X: X.transpose(-1, -2), scaled=True)
    if bool(positive.all()):
        return torch.where(finite, polar, torch.nan)
    distinct = torch.diag(torch.arange(1, n + 1, dtype=A.dtype, device=A.device))
    A_neg = torch.where(positive[..., None, None], distinct, A)
    U, _, Vh = torch.linalg.svd(A_neg)
    d = torch.ones(A.shape[:-2] + (n,), dtype=A.dtype, device=A.device)
    d[..., -1] = torch.linalg.det(U @ Vh).detach().sign()
    svd = (U * d[..., None, :]) @ Vh
    out = torch.where(positive[..., None, None], polar, svd)
    return torch.where(finite, out, torch.nan)
