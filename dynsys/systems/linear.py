"""Linear Hamiltonian flow ``x' = J S x`` on ``R^(2n)``.

``H(x) = x^T S x / 2`` with ``S`` symmetric; ``J = [[0, I], [-I, 0]]``, so the
state is ``[q..., p...]``. The exact flow is ``x(t) = expm(t J S) x0``, and
``expm(t J S)`` lies in Sp(n) (Hairer, Lubich, Wanner, "Geometric Numerical
Integration", 2nd ed., 2006, sec. VI.2; Meyer, Hall, Offin, "Introduction to
Hamiltonian Dynamical Systems", 2nd ed., 2009, sec. 2.2). The implicit
midpoint rule (the Cayley transform here) keeps ``H`` exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from dynsys.systems._base import (
    CanonicalSystem,
    Tensor,
    check_count,
    int_param,
    make_generator,
)
from dynsys.systems._registry import register_system


def symplectic_J(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``J = [[0, I_n], [-I_n, 0]]``, ``(2n, 2n)``."""
    eye = torch.eye(n, dtype=dtype)
    zero = torch.zeros(n, n, dtype=dtype)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


@register_system("linear-symplectic")
class LinearSymplectic(CanonicalSystem):
    """``x' = J S x`` on ``R^(2n)``, state ``[q (n), p (n)]``.

    ``S`` is given (a symmetric ``2n x 2n`` matrix, nested lists) or drawn
    from ``seed`` as a random symmetric positive definite matrix
    ``A A^T / (2n) + I/2`` (so the motion is bounded: all frequencies real).
    Invariant ``energy`` ``x^T S x / 2``. Exact flow ``expm(t J S) x0``.

    Args:
        n: degrees of freedom, >= 1.
        seed: seed for the random ``S`` (ignored when ``S`` is given), >= 0.
        S: optional symmetric matrix ``(2n, 2n)``.
    """

    name = "linear-symplectic"
    dt = 0.05
    default_integrator = "implicit-midpoint"

    def __init__(self, n: int = 2, seed: int = 0, S: Any = None) -> None:
        super().__init__()
        self.n_dof = int_param(self.name, "n", n, lo=1)
        seed = int_param(self.name, "seed", seed, lo=0)
        self.S = self._matrix(S, seed)
        self.A = symplectic_J(self.n_dof) @ self.S
        self._params = {
            "n": self.n_dof,
            "seed": seed,
            "S": None if S is None else self.S.tolist(),
        }

    def _matrix(self, S: Any, seed: int) -> Tensor:
        d = 2 * self.n_dof
        if S is None:
            gen = make_generator(seed)
            A = torch.randn(d, d, generator=gen, dtype=torch.float64)
            return A @ A.T / d + 0.5 * torch.eye(d, dtype=torch.float64)
        try:
            S = torch.as_tensor(S, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(
                f"{self.name}: parameter S must be a {d}x{d} real matrix, got {S!r}"
            ) from None
        if S.shape != (d, d) or not bool(torch.isfinite(S).all()):
            raise ValueError(
                f"{self.name}: parameter S must be a finite {d}x{d} "
                f"matrix for n={self.n_dof}, got shape {tuple(S.shape)}"
            )
        if not torch.allclose(S, S.T, rtol=0, atol=1e-12 * (1 + S.abs().max())):
            raise ValueError(f"{self.name}: parameter S must be symmetric")
        return 0.5 * (S + S.T)

    def vector_field(self, t: float | Tensor, x: Tensor) -> Tensor:
        self.check_state(x)
        return x @ self.A.to(x).T

    def sample(self, n: int, seed: int = 0) -> Tensor:
        gen = make_generator(seed)
        return torch.randn(
            check_count(n), self.state_dim, generator=gen, dtype=torch.float64
        )

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        return {"energy": 0.5 * ((x @ self.S.to(x)) * x).sum(-1)}

    def flow_matrix(self, t: Tensor) -> Tensor:
        """``expm(t J S)`` for times ``(*T,)``: ``(*T, 2n, 2n)``, in Sp(n)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        return torch.linalg.matrix_exp(t[..., None, None] * self.A)

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        M = self.flow_matrix(t).to(x0)  # (*T, d, d)
        M = M.reshape(*t.shape, *([1] * (x0.ndim - 1)), *M.shape[-2:])
        return (M @ x0[..., None])[..., 0]
