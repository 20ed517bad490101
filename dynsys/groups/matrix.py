"""Any matrix Lie group given by a basis of its Lie algebra.

``MatrixLieGroup(name, basis, residual, project=None)`` turns a ``(dim, n, n)``
basis ``E_1..E_dim`` of a matrix Lie algebra and a residual function into a full
:class:`LieGroup`:

* ``hat(xi) = sum_i xi_i E_i``; ``vee`` is the least-squares inverse (dual basis
  from the pseudo-inverse of the flattened basis), exact on the algebra.
* ``exp`` is the matrix exponential (scaling and squaring; ``_matrix_functions``
  says why not ``torch.linalg.matrix_exp``); ``log`` the principal matrix
  logarithm (inverse scaling and squaring, ``_matrix_functions``), valid for
  elements with no eigenvalue on ``(-inf, 0]`` - in particular near the
  identity - and a ``ValueError`` elsewhere.
* ``Ad_g`` column ``j`` is ``vee(g E_j g^{-1})``; ``ad_xi`` uses the structure
  constants ``[E_i, E_j] = sum_k c_ij^k E_k``.
* ``left_jacobian = phi(ad_xi)`` by a block matrix exponential;
  ``left_jacobian_inv`` and ``dexp_inv`` by the Bernoulli series in ``ad``
  (Iserles et al., Acta Numerica 2000, sec. 2.3), converging for spectral
  radius of ``ad_xi`` below ``2 pi``.

The basis is validated when the group is built: it must be linearly
independent and closed under the commutator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dynsys.groups._base import LieGroup
from dynsys.groups._matrix_functions import expm, matrix_log, phi, psi_apply

__all__ = ["MatrixLieGroup"]

_BASIS_TOL = 1e-9


class MatrixLieGroup(LieGroup):
    """A matrix Lie group from an algebra basis.

    Args:
        name: display name, e.g. ``"SO4"``.
        basis: ``(dim, n, n)`` tensor, a basis of the Lie algebra.
        residual: ``g (*b, n, n) -> (*b,)``, zero exactly on the group.
        project: ``g -> `` nearby group element. If ``None``, the default is
            ``exp(hat(vee(log g)))``: the least-squares projection of the
            matrix logarithm onto the algebra, valid where ``log`` is.
        sample_scale: ``sample`` returns ``exp(hat(sample_scale * z))`` with
            ``z`` standard normal.

    Raises:
        ValueError: basis of the wrong shape, linearly dependent, or not
            closed under the commutator; residual or project not callable.
    """

    def __init__(
        self,
        name: str,
        basis: Tensor,
        residual: Callable[[Tensor], Tensor],
        project: Callable[[Tensor], Tensor] | None = None,
        sample_scale: float = 0.5,
    ) -> None:
        self.name = str(name)
        basis = _validate_basis(self.name, basis)
        if not callable(residual):
            raise ValueError(f"{self.name}: residual must be callable")
        if project is not None and not callable(project):
            raise ValueError(f"{self.name}: project must be callable or None")
        self.dim, self.matrix_size = basis.shape[0], basis.shape[-1]
        self.basis = basis
        flat = basis.reshape(self.dim, -1)
        self._dual = torch.linalg.pinv(flat).T.reshape(basis.shape)
        self.structure_constants = _structure_constants(self.name, basis, self._dual)
        self._residual = residual
        self._project = project
        self.sample_scale = float(sample_scale)

    def __repr__(self) -> str:
        return f"MatrixLieGroup({self.name!r}, dim={self.dim}, n={self.matrix_size})"

    def _like(self, t: Tensor, x: Tensor) -> Tensor:
        return t.to(dtype=x.dtype, device=x.device)

    def hat(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "hat")
        return torch.einsum("...i,ijk->...jk", xi, self._like(self.basis, xi))

    def vee(self, X: Tensor) -> Tensor:
        self._check_matrix(X, "vee", "X")
        return torch.einsum("...jk,ijk->...i", X, self._like(self._dual, X))

    def exp(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "exp")
        return expm(self.hat(xi))

    def log(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "log")
        self._check_in_group(g, "log")
        self._check_log_domain(g)
        return self.vee(matrix_log(g))

    def adjoint(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "adjoint")
        E = self._like(self.basis, g)
        conj = g[..., None, :, :] @ E @ self.inverse(g)[..., None, :, :]
        return self.vee(conj).transpose(-1, -2)

    def ad(self, xi: Tensor) -> Tensor:
        self._check_vector(xi, "ad")
        C = self._like(self.structure_constants, xi)
        return torch.einsum("...i,ijk->...kj", xi, C)

    def left_jacobian(self, xi: Tensor) -> Tensor:
        return phi(self.ad(xi))

    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        A = self.ad(xi)
        eye = torch.eye(self.dim, dtype=xi.dtype, device=xi.device)
        return psi_apply(A, eye.expand_as(A))

    def dexp_inv(self, xi: Tensor, v: Tensor) -> Tensor:
        self._check_vector(xi, "dexp_inv")
        self._check_vector(v, "dexp_inv", "v")
        self._check_pair(xi, v, "dexp_inv", ("xi", "v"), 1)
        A = self.ad(-xi)
        batch = torch.broadcast_shapes(A.shape[:-2], v.shape[:-1])
        A = A.expand(*batch, self.dim, self.dim)
        V = v.expand(*batch, self.dim)[..., None]
        return psi_apply(A, V)[..., 0]

    def residual(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "residual")
        return self._residual(g)

    def project(self, g: Tensor) -> Tensor:
        self._check_matrix(g, "project")
        if self._project is not None:
            return self._project(g)
        self._check_log_domain(g)
        return expm(self.hat(self.vee(matrix_log(g))))

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.exp(self.sample_scale * z)

    def _check_log_domain(self, g: Tensor) -> None:
        """Principal log needs no eigenvalue on the closed negative real axis."""
        # Limitation: some groups (e.g. SO(4) with a half turn in one plane)
        # have a logarithm where the principal matrix log does not exist;
        # those elements are rejected.
        with torch.no_grad():
            finite = torch.isfinite(g).flatten(-2).all(-1)
            lam = torch.linalg.eigvals(g[finite].to(torch.float64))
            tol = 1e3 * torch.finfo(g.dtype).eps * lam.abs().clamp_min(1.0)
            bad = (lam.imag.abs() <= tol) & (lam.real <= tol)
            if bool(bad.any()):
                raise ValueError(
                    f"{self.name}.log: matrix has an eigenvalue on (-inf, 0], "
                    "outside the domain of the principal logarithm (use elements "
                    "nearer the identity)"
                )


def _validate_basis(name: str, basis: object) -> Tensor:
    if not isinstance(basis, Tensor):
        raise ValueError(f"{name}: basis must be a torch.Tensor of shape (dim, n, n)")
    if basis.ndim != 3 or basis.shape[-1] != basis.shape[-2] or basis.shape[0] < 1:
        raise ValueError(
            f"{name}: basis must have shape (dim, n, n), got {tuple(basis.shape)}"
        )
    basis = basis.detach().to(torch.float64)
    rank = int(torch.linalg.matrix_rank(basis.reshape(basis.shape[0], -1)))
    if rank < basis.shape[0]:
        raise ValueError(
            f"{name}: basis matrices are linearly dependent (rank {rank} < "
            f"{basis.shape[0]})"
        )
    return basis


def _structure_constants(name: str, basis: Tensor, dual: Tensor) -> Tensor:
    """``C[i, j, k]`` with ``[E_i, E_j] = sum_k C[i, j, k] E_k``; checks closure."""
    Ei, Ej = basis[:, None], basis[None, :]
    bracket = Ei @ Ej - Ej @ Ei
    C = torch.einsum("ijab,kab->ijk", bracket, dual)
    rebuilt = torch.einsum("ijk,kab->ijab", C, basis)
    scale = basis.abs().amax() ** 2
    if float((rebuilt - bracket).abs().amax()) > _BASIS_TOL * scale:
        raise ValueError(
            f"{name}: the basis is not closed under the commutator [A, B] = AB - BA,"
            " so it does not span a Lie algebra"
        )
    return C
