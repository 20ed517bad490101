"""MatrixLieGroup, Sp(n), projections, and check_group catching broken groups."""

from __future__ import annotations

import math
import re

import pytest
import scipy.linalg
import torch

from dynsys.groups import SE3, SO3, MatrixLieGroup, Sp
from dynsys.groups._matrix_functions import phi
from dynsys.groups._projection import rotation_residual
from dynsys.groups.sp import symplectic_form
from dynsys.testing import check_group

F64 = torch.float64


def _generic(closed):
    """The same group as ``closed``, rebuilt from its algebra basis."""
    basis = closed.hat(torch.eye(closed.dim, dtype=F64))
    return MatrixLieGroup(f"generic-{closed.name}", basis, closed.residual)


@pytest.mark.parametrize("closed", [SO3(), SE3()], ids=lambda g: g.name)
def test_generic_construction_reproduces_closed_forms(closed):
    G = _generic(closed)
    gen = torch.Generator().manual_seed(5)
    xi = torch.randn(4, closed.dim, generator=gen, dtype=F64)
    v = torch.randn(4, closed.dim, generator=gen, dtype=F64)
    g = closed.exp(xi)
    pairs = [
        (G.exp(xi), g),
        (G.log(g), closed.log(g)),
        (G.adjoint(g), closed.adjoint(g)),
        (G.ad(xi), closed.ad(xi)),
        (G.left_jacobian(xi), closed.left_jacobian(xi)),
        (G.left_jacobian_inv(xi), closed.left_jacobian_inv(xi)),
        (G.dexp_inv(xi, v), closed.dexp_inv(xi, v)),
        (G.inverse(g), closed.inverse(g)),
    ]
    for got, want in pairs:
        torch.testing.assert_close(got, want, atol=1e-11, rtol=1e-11)


def test_generic_group_with_default_projection_conforms():
    check_group(_generic(SO3()), dtype=F64)


def test_basis_validation():
    with pytest.raises(ValueError, match="shape \\(dim, n, n\\)"):
        MatrixLieGroup("bad", torch.zeros(2, 3, 4), lambda g: g.sum((-1, -2)))
    E = SO3().hat(torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="linearly dependent"):
        MatrixLieGroup("bad", torch.stack((E[0], E[1], E[0] + E[1])), rotation_residual)
    # E_01 and E_10 span no Lie algebra: [E_01, E_10] = E_00 - E_11.
    E01 = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=F64)
    with pytest.raises(ValueError, match="not closed under the commutator"):
        MatrixLieGroup("bad", torch.stack((E01, E01.T)), lambda g: g.sum((-1, -2)))
    with pytest.raises(ValueError, match="residual must be callable"):
        MatrixLieGroup("bad", E, residual=None)


def test_sp_dimensions_and_algebra():
    for n in (1, 2, 3):
        G = Sp(n)
        assert (G.dim, G.matrix_size) == (n * (2 * n + 1), 2 * n)
        J = symplectic_form(n)
        X = G.basis
        # Hamiltonian: X^T J + J X = 0.
        assert torch.allclose(X.transpose(-1, -2) @ J + J @ X, torch.zeros_like(X))
        M = G.exp(0.4 * torch.randn(5, G.dim, dtype=F64))
        assert torch.allclose(M.transpose(-1, -2) @ J @ M, J.expand_as(M), atol=1e-13)


def test_matrix_log_matches_scipy_far_from_identity():
    G = Sp(2)
    xi = torch.randn(3, G.dim, generator=torch.Generator().manual_seed(2), dtype=F64)
    g = G.exp(1.2 * xi / xi.norm(dim=-1, keepdim=True))
    got = G.hat(G.log(g))
    for i in range(3):
        want = torch.from_numpy(scipy.linalg.logm(g[i].numpy()).real)
        torch.testing.assert_close(got[i], want, atol=1e-11, rtol=1e-11)


def test_log_outside_principal_domain_is_a_value_error():
    G = Sp(1)
    with pytest.raises(ValueError, match="eigenvalue on \\(-inf, 0\\]"):
        G.log(-torch.eye(2, dtype=F64))
    with pytest.raises(ValueError, match="eigenvalue on \\(-inf, 0\\]"):
        G.log(torch.diag(torch.tensor([-2.0, -0.5], dtype=F64)))


def test_bernoulli_series_equals_inverse_of_phi_and_diverges_clearly():
    G = Sp(2)
    xi = torch.randn(6, G.dim, generator=torch.Generator().manual_seed(8), dtype=F64)
    xi = 2.5 * xi / xi.norm(dim=-1, keepdim=True)
    v = torch.randn(6, G.dim, dtype=F64)
    want = torch.linalg.solve(phi(G.ad(-xi)), v)
    torch.testing.assert_close(G.dexp_inv(xi, v), want, atol=1e-11, rtol=1e-11)
    # In sp(1), hat((0, 4 pi, 0)) = diag(4 pi, -4 pi): ad has eigenvalues 0 and
    # +-8 pi, beyond the series' radius of convergence 2 pi.
    bad = torch.tensor([0.0, 4 * math.pi, 0.0], dtype=F64)
    with pytest.raises(ValueError, match="did not converge"):
        Sp(1).dexp_inv(bad, torch.ones(3, dtype=F64))


@pytest.mark.parametrize("G", [SO3(), SE3(), Sp(1), Sp(2)], ids=repr)
def test_residual_detects_drift_and_project_restores(G):
    g = G.sample(4, generator=torch.Generator().manual_seed(1))
    drifted = g * 1.001
    assert (G.residual(drifted) > 1e-4).all()
    p = G.project(drifted)
    assert (G.residual(p) < 1e-13).all()
    torch.testing.assert_close(G.project(p), p, atol=1e-14, rtol=0)
    assert (p - drifted).abs().amax() < 1e-2 * g.abs().amax()


def test_rotation_projection_is_the_svd_nearest_rotation_and_fixes_reflections():
    A = torch.randn(6, 3, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    P = SO3().project(A)
    U, _, Vh = torch.linalg.svd(A)
    d = torch.linalg.det(U @ Vh)
    D = torch.diag_embed(torch.stack((torch.ones_like(d), torch.ones_like(d), d), -1))
    torch.testing.assert_close(P, U @ D @ Vh, atol=1e-12, rtol=0)
    assert torch.allclose(torch.linalg.det(P), torch.ones(6, dtype=F64))
    # finite gradient at an exact rotation (repeated singular values)
    R = SO3().exp(torch.tensor([0.1, 0.2, 0.3], dtype=F64)).requires_grad_(True)
    (grad,) = torch.autograd.grad(SO3().project(R).sum(), R)
    assert torch.isfinite(grad).all()


class _WrongVee(SO3):
    def vee(self, X):
        return -super().vee(X)


class _WrongLog(SO3):
    def log(self, g):
        return 1.01 * super().log(g)


class _WrongAdjoint(SO3):
    def adjoint(self, g):
        return g.transpose(-1, -2)


class _WrongAd(SO3):
    def ad(self, xi):
        return -super().ad(xi)


class _WrongJacobian(SO3):
    def left_jacobian(self, xi):
        return super().left_jacobian(-xi)


class _WrongDexpInv(SO3):
    def dexp_inv(self, xi, v):
        return super().dexp_inv(-xi, v)


class _NoProject(SO3):
    def project(self, g):
        return g


class _Float64Only(SO3):
    def exp(self, xi):
        return super().exp(xi.double())


class _UnbatchedDexpInv(SO3):
    def dexp_inv(self, xi, v):
        return v if xi.ndim == 1 else super().dexp_inv(xi, v)


class _DetachedLog(SO3):
    """Right values, but log cuts the autograd graph (a silent wrong gradient)."""

    def log(self, g):
        return super().log(g.detach())


class _ArccosLog(SO3):
    """The angle from arccos((tr R - 1) / 2): right at large angles, no digits
    near the identity."""

    def log(self, g):
        w = super().log(g)
        c = (0.5 * (g.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0)).clamp(-1.0, 1.0)
        n = torch.linalg.vector_norm(w, dim=-1, keepdim=True)
        return torch.where(n > 0, w / n, w) * torch.arccos(c)[..., None]


class _CrashingAdjoint(SO3):
    def adjoint(self, g):
        raise RuntimeError("shape mismatch inside adjoint")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_WrongVee(), "hat/vee inverse"),
        (_WrongLog(), "exp/log round trip"),
        (_WrongAdjoint(), "adjoint Ad_g xi == vee"),
        (_WrongAd(), "ad_xi eta == vee"),
        (_WrongJacobian(), "left_jacobian vs finite differences"),
        (_WrongDexpInv(), "dexp_inv vs finite differences"),
        (_NoProject(), "residual ~0 after project"),
        (_Float64Only(), "dtype preserved"),
        (_UnbatchedDexpInv(), "batching (dexp_inv"),
        (_DetachedLog(), "differentiable (autograd vs finite differences)"),
        (_ArccosLog(), "exp/log round trip near the identity"),
        (
            _CrashingAdjoint(),
            "dtype and shapes' failed: adjoint raised RuntimeError: shape",
        ),
    ],
    ids=lambda x: type(x).__name__ if not isinstance(x, str) else "",
)
def test_broken_groups_fail_check_group_naming_the_property(broken, message):
    dtype = torch.float32 if message == "dtype preserved" else F64
    with pytest.raises(AssertionError, match=rf"property '{re.escape(message)}"):
        check_group(broken, dtype=dtype)
