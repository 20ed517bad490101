"""Sp(n), the real symplectic group, built on :class:`MatrixLieGroup`.

Elements are ``2n x 2n`` real matrices ``M`` with ``M^T J M = J``,
``J = [[0, I], [-I, 0]]``; the algebra is the Hamiltonian matrices
``{J S : S symmetric}``, of dimension ``n (2n + 1)`` (Hall, "Lie Groups, Lie
Algebras, and Representations", 2nd ed. 2015, sec. 1.2.4 and 3.4). Sp(1) is
SL(2, R).

Coordinates: ``xi`` lists the upper triangle of ``S`` row by row: the basis is
``J (E_ij + E_ji)`` for ``i < j`` and ``J E_ii``, ordered ``(0,0), (0,1), ...,
(0,2n-1), (1,1), ...``.

* ``residual(M) = ||M^T J M - J||_F``.
* ``inverse(M) = J^T M^T J`` (exact on the group).
* ``project``: the symplectic factor of the generalised polar decomposition,
  by Newton's iteration ``X <- (X + X^{-#})/2``, ``X^# = J^T X^T J`` (Higham,
  Mackey, Mackey & Tisseur, SIAM J. Matrix Anal. Appl. 25, 2004); it is the
  identity on the group and moves a drifted matrix by O(its residual), but it
  is not the Frobenius-nearest symplectic matrix.
* ``sample``: ``exp(hat(0.3 z))`` with ``z`` standard normal.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from dynsys.groups._projection import newton_polar
from dynsys.groups.matrix import MatrixLieGroup

__all__ = ["Sp", "symplectic_form"]


def symplectic_form(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``J = [[0, I_n], [-I_n, 0]]`` of shape ``(2n, 2n)``."""
    eye = torch.eye(n, dtype=dtype)
    zero = torch.zeros(n, n, dtype=dtype)
    return torch.cat((torch.cat((zero, eye), 1), torch.cat((-eye, zero), 1)), 0)


def hamiltonian_basis(n: int) -> Tensor:
    """``(n(2n+1), 2n, 2n)`` basis ``J S_ij`` of the symplectic algebra."""
    J = symplectic_form(n)
    mats = []
    for i in range(2 * n):
        for j in range(i, 2 * n):
            S = torch.zeros(2 * n, 2 * n, dtype=torch.float64)
            S[i, j] = S[j, i] = 1.0
            mats.append(J @ S)
    return torch.stack(mats)


class Sp(MatrixLieGroup):
    """Real symplectic group ``Sp(2n, R)`` on ``R^{2n}`` (``n`` degrees of freedom).

    Args:
        n: number of degrees of freedom, ``n >= 1``; matrices are ``2n x 2n``.

    Raises:
        ValueError: if ``n`` is not an integer ``>= 1``.
    """

    def __init__(self, n: int = 1) -> None:
        if isinstance(n, numbers.Integral) and not isinstance(n, bool):
            n = int(n)  # numpy integers too
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Sp(n): n must be an integer >= 1, got {n!r}")
        self.n = n
        self._J = symplectic_form(n)
        super().__init__(
            f"Sp({n})",
            hamiltonian_basis(n),
            residual=self._symplectic_residual,
            project=self._polar_project,
            sample_scale=0.3,
        )

    def __repr__(self) -> str:
        return f"Sp(n={self.n})"

    def _form(self, like: Tensor) -> Tensor:
        return self._J.to(dtype=like.dtype, device=like.device)

    def _sharp(self, X: Tensor) -> Tensor:
        J = self._form(X)
        return J.T @ X.transpose(-1, -2) @ J

    def inverse(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "inverse")
        return self._sharp(g)

    def _symplectic_residual(self, g: Tensor) -> Tensor:
        J = self._form(g)
        return torch.linalg.matrix_norm(g.transpose(-1, -2) @ J @ g - J)

    def _polar_project(self, g: Tensor) -> Tensor:
        # Limitation: the generalised polar factor is a projection onto Sp(n)
        # (idempotent, O(residual) displacement) but not the Frobenius-nearest
        # symplectic matrix, which has no cheap closed form.
        return newton_polar(g, self._sharp, scaled=False)
