"""Values and gradients of the closed forms at their singular points.

Angles exactly 0, 1e-9, within 1e-9 of pi and exactly pi; translations at tiny
angles; both sides of every Taylor switch. References: high-precision mpmath
values of the coefficient functions, the exact Rodrigues matrix, and the
identities ``log(exp(w)) = w`` (Jacobian I) inside the injectivity radius.
"""

from __future__ import annotations

import math

import pytest
import torch

from dynsys.groups import SE2, SE3, SO2, SO3
from dynsys.groups import _series as S

mpmath = pytest.importorskip("mpmath")

ANGLES = [0.0, 1e-9, 1e-4, 0.5, math.pi - 1e-6, math.pi - 1e-9, math.pi]
AXIS = torch.tensor([1.0, 2.0, -2.0], dtype=torch.float64) / 3.0
# An axis with distinct |components|: off the group, log's near-pi branch picks
# the column of the largest diagonal, a choice that is smooth only without ties.
AXIS_NO_TIE = torch.tensor([0.48, 0.6, -0.64], dtype=torch.float64)


def _rodrigues_mp(w: list[float]) -> list[list[float]]:
    """Rotation matrix of ``w`` in 50-digit arithmetic."""
    mpmath.mp.dps = 50
    wm = [mpmath.mpf(x) for x in w]
    th = mpmath.sqrt(sum(x * x for x in wm))
    if th == 0:
        return [[float(i == j) for j in range(3)] for i in range(3)]
    a = [x / th for x in wm]
    K = [[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]]
    K2 = [
        [sum(K[i][k] * K[k][j] for k in range(3)) for j in range(3)] for i in range(3)
    ]
    s, c = mpmath.sin(th), 1 - mpmath.cos(th)
    return [
        [float((i == j) + s * K[i][j] + c * K2[i][j]) for j in range(3)]
        for i in range(3)
    ]


@pytest.mark.parametrize("theta", ANGLES)
def test_so3_exp_matches_high_precision_rodrigues(theta):
    w = theta * AXIS
    want = torch.tensor(_rodrigues_mp(w.tolist()), dtype=torch.float64)
    assert torch.allclose(SO3().exp(w), want, atol=4e-16, rtol=0)


@pytest.mark.parametrize("theta", ANGLES)
def test_so3_log_inverts_exp_with_identity_jacobian(theta):
    G = SO3()
    w = theta * AXIS
    assert torch.allclose(G.log(G.exp(w)), w, atol=2e-15, rtol=0)
    J = torch.autograd.functional.jacobian(lambda x: G.log(G.exp(x)), w)
    assert torch.isfinite(J).all()
    assert torch.allclose(J, torch.eye(3, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 0.5, math.pi - 1e-6])
def test_so3_float32_log_exp(theta):
    G = SO3()
    w = (theta * AXIS).float()
    got = G.log(G.exp(w))
    assert got.dtype == torch.float32
    assert torch.allclose(got, w, atol=2e-6, rtol=0)
    J = torch.autograd.functional.jacobian(lambda x: G.log(G.exp(x)), w)
    assert torch.allclose(J, torch.eye(3), atol=1e-4)


def test_so3_float32_at_pi():
    """float32(pi) is 8.7e-8 above pi, so the log is the antipodal vector."""
    G = SO3()
    R = G.exp((math.pi * AXIS).float())
    w = G.log(R)
    assert w.dtype == torch.float32
    assert torch.linalg.vector_norm(w).item() == pytest.approx(math.pi, abs=1e-6)
    assert torch.allclose(G.exp(w), R, atol=2e-6)


def test_so3_log_at_exactly_pi_takes_axis_from_symmetric_part_with_fixed_sign():
    G = SO3()
    # Exact matrices: no antisymmetric part at all; the convention is that the
    # largest axis component is positive.
    for diag, want in [
        ((1.0, -1.0, -1.0), (math.pi, 0.0, 0.0)),
        ((-1.0, 1.0, -1.0), (0.0, math.pi, 0.0)),
        ((-1.0, -1.0, 1.0), (0.0, 0.0, math.pi)),
    ]:
        R = torch.diag(torch.tensor(diag, dtype=torch.float64))
        assert torch.equal(G.log(R), torch.tensor(want, dtype=torch.float64))
    # A pi rotation about (1, 1, 0)/sqrt2 built exactly: R = 2 a a^T - I.
    a = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(2.0)
    R = 2.0 * torch.outer(a, a) - torch.eye(3, dtype=torch.float64)
    assert torch.allclose(G.log(R), math.pi * a, atol=1e-15)
    # Just below pi the antisymmetric part fixes the sign, for both directions.
    for sign in (1.0, -1.0):
        w = sign * (math.pi - 1e-9) * AXIS
        assert torch.allclose(G.log(G.exp(w)), w, atol=2e-15)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 1.0, math.pi - 1e-9, math.pi])
def test_so3_gradcheck_exp_and_jacobians(theta):
    G = SO3()
    w = (theta * AXIS).clone().requires_grad_(True)
    v = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    for fn in (G.exp, G.left_jacobian, G.left_jacobian_inv, lambda x: G.dexp_inv(x, v)):
        assert torch.autograd.gradcheck(fn, (w,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 1.0, 3.0])
def test_so3_gradcheck_log_on_matrix_entries(theta):
    G = SO3()
    R = G.exp(theta * AXIS_NO_TIE).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(G.log, (R,), eps=1e-7, atol=1e-6)


def _central_diff(f, x, h=1e-6):
    """Gradient of the scalar ``f`` at ``x`` (float64) by central differences."""
    grad = torch.zeros_like(x)
    flat = grad.view(-1)
    for i in range(x.numel()):
        e = torch.zeros_like(x).view(-1)
        e[i] = h
        e = e.view_as(x)
        flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("group", [SO3(), SE2(), SE3(), SO2()], ids=lambda g: g.name)
def test_no_nan_gradients_at_identity(group):
    xi = torch.zeros(group.dim, dtype=torch.float64, requires_grad=True)

    def loss(z):
        return (
            group.log(group.exp(z)).sum()
            + group.left_jacobian(z).sum()
            + group.left_jacobian_inv(z).sum()
            + group.dexp_inv(z, z + 1.0).sum()
        )

    out = loss(xi)
    (grad,) = torch.autograd.grad(out, xi)
    # Finite is not enough: a branch that drops a term gives finite, wrong
    # gradients. Compare with central differences (their error ~1e-10 here).
    assert torch.allclose(grad, _central_diff(loss, xi.detach()), atol=1e-8, rtol=0)
    R = group.identity(dtype=torch.float64).requires_grad_(True)
    (gR,) = torch.autograd.grad(group.log(R).sum(), R)
    want = _central_diff(lambda M: group.log(M).sum(), R.detach())
    assert torch.allclose(gR, want, atol=1e-8, rtol=0)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 1e-5, 0.7, math.pi - 1e-9, math.pi])
def test_se3_translation_and_log_at_small_and_near_pi_angles(theta):
    G = SE3()
    rho = torch.tensor([0.4, -1.1, 2.0], dtype=torch.float64)
    xi = torch.cat((rho, theta * AXIS))
    g = G.exp(xi)
    # t = J_l(omega) rho; at tiny angles J_l -> I + hat(omega)/2.
    if theta <= 1e-5:
        approx = rho + 0.5 * torch.linalg.cross(theta * AXIS, rho, dim=-1)
        assert torch.allclose(g[:3, 3], approx, atol=1e-10 * max(theta, 1e-6))
    assert torch.allclose(G.log(g), xi, atol=1e-14)
    J = torch.autograd.functional.jacobian(lambda x: G.log(G.exp(x)), xi)
    assert torch.allclose(J, torch.eye(6, dtype=torch.float64), atol=1e-11)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 1.0, math.pi - 1e-9, math.pi])
def test_se3_gradcheck(theta):
    G = SE3()
    xi = torch.cat(
        (torch.tensor([0.4, -1.1, 2.0], dtype=torch.float64), theta * AXIS)
    ).requires_grad_(True)
    v = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64)
    for fn in (G.exp, G.left_jacobian, G.left_jacobian_inv, lambda x: G.dexp_inv(x, v)):
        assert torch.autograd.gradcheck(fn, (xi,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("omega", [0.0, 1e-9, 1e-5, 1.0, math.pi - 1e-9, math.pi])
def test_se2_exp_log_at_singular_angles(omega):
    G = SE2()
    v = torch.tensor([1.5, -0.5], dtype=torch.float64)
    xi = torch.cat((v, torch.tensor([omega], dtype=torch.float64)))
    g = G.exp(xi)
    # Exact translation: V(w) v, V = [[sin w, -(1-cos w)], [1-cos w, sin w]]/w.
    if omega == 0.0:
        want_t = v
    else:
        s, c = math.sin(omega) / omega, (1 - math.cos(omega)) / omega
        want_t = torch.tensor(
            [s * v[0] - c * v[1], c * v[0] + s * v[1]], dtype=torch.float64
        )
    assert torch.allclose(g[:2, 2], want_t, atol=1e-15 + 1e-9 * (omega < 1e-4))
    assert torch.allclose(G.log(g), xi, atol=2e-15)
    J = torch.autograd.functional.jacobian(lambda x: G.log(G.exp(x)), xi)
    assert torch.allclose(J, torch.eye(3, dtype=torch.float64), atol=1e-12)
    xg = xi.clone().requires_grad_(True)
    for fn in (
        G.exp,
        G.left_jacobian,
        G.left_jacobian_inv,
        lambda x: G.dexp_inv(x, xi.detach()),
    ):
        assert torch.autograd.gradcheck(fn, (xg,), eps=1e-6, atol=1e-6)


def test_so2_log_at_pi_is_plus_pi_and_gradients_finite():
    G = SO2()
    R = torch.tensor([[-1.0, 0.0], [-0.0, -1.0]], dtype=torch.float64)
    assert G.log(R).item() == math.pi
    w = torch.tensor([math.pi - 1e-9], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(G.log(G.exp(w)).sum(), w)
    assert grad.item() == pytest.approx(1.0, abs=1e-12)


_MP_REFERENCE = {
    "SINC": lambda t: mpmath.sin(t) / t,
    "ONE_MINUS_COS": lambda t: (1 - mpmath.cos(t)) / t**2,
    "T_MINUS_SIN": lambda t: (t - mpmath.sin(t)) / t**3,
    "COT_TERM": lambda t: (1 - (t / 2) * mpmath.cot(t / 2)) / t**2,
    "COS_TERM_4": lambda t: (t**2 + 2 * mpmath.cos(t) - 2) / (2 * t**4),
    "SIN_TERM_5": lambda t: (
        (2 * t - 3 * mpmath.sin(t) + t * mpmath.cos(t)) / (2 * t**5)
    ),
    "ASIN_OVER_X": lambda t: mpmath.asin(t) / t,
}


@pytest.mark.parametrize("name", sorted(_MP_REFERENCE))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_series_switch_agrees_with_high_precision_on_both_sides(name, dtype):
    fn = getattr(S, name)
    cut = fn.cutoff(dtype)
    eps = torch.finfo(dtype).eps
    points = [1e-3, 0.3 * cut, cut * (1 - 1e-6), cut, cut * (1 + 1e-6), 0.9]
    mpmath.mp.dps = 80
    for t in points:
        x = torch.tensor(t * t, dtype=dtype)
        t_exact = mpmath.sqrt(mpmath.mpf(float(x)))
        want = float(_MP_REFERENCE[name](t_exact))
        got = float(fn(x))
        assert abs(got - want) <= 8 * eps * abs(want), (t, got, want)
    # the threshold depends on the dtype
    assert S.SINC.cutoff(torch.float32) > S.SINC.cutoff(torch.float64)


def test_taylor_branch_has_no_one_sided_bias():
    # The omitted Taylor tail has one sign: a truncation error near eps would
    # make every exp(h xi) of a Lie integrator leave SO(3) the same way.
    mpmath.mp.dps = 50
    cut = S.SINC.cutoff(torch.float64)
    ts = torch.linspace(0.5 * cut, cut * (1 - 1e-9), 400, dtype=torch.float64)
    got = S.SINC(ts * ts)
    errors = [
        float(mpmath.mpf(float(g)) - mpmath.sin(mpmath.mpf(float(t))) / float(t))
        / (torch.finfo(torch.float64).eps * float(g))
        for g, t in zip(got, ts, strict=True)
    ]
    assert abs(sum(errors) / len(errors)) < 0.05  # mean error in ulps


def test_no_arccos_of_trace_precision_loss_at_tiny_angles():
    """arccos((tr R - 1)/2) returns 0 for a 1e-9 rotation; our log does not."""
    G = SO3()
    w = torch.tensor([1e-9, 0.0, 0.0], dtype=torch.float64)
    R = G.exp(w)
    naive = torch.arccos(((R.diagonal().sum() - 1) / 2).clamp(-1, 1))
    assert naive.item() == 0.0
    assert G.log(R)[0].item() == pytest.approx(1e-9, rel=1e-15)


def _log_branch_angles(dtype):
    """Angles where SO(3)'s log switches branch: the arcsin series and the
    symmetric-part (near pi) formula."""
    from dynsys.groups.so3 import _NEAR_PI_COS

    return [math.asin(S.ASIN_OVER_X.cutoff(dtype)), math.acos(_NEAR_PI_COS)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_so3_log_agrees_on_both_sides_of_its_branch_switches(dtype):
    G = SO3()
    eps = torch.finfo(dtype).eps
    for theta in _log_branch_angles(dtype):
        for t in (theta * (1 - 4 * eps), theta, theta * (1 + 4 * eps)):
            w = (t * AXIS_NO_TIE).to(dtype)
            R = G.exp(w)
            got = G.log(R)
            assert torch.allclose(got, w, atol=8 * eps, rtol=0), (theta, got - w)
            J = torch.autograd.functional.jacobian(lambda x: G.log(G.exp(x)), w)
            assert torch.allclose(J, torch.eye(3, dtype=dtype), atol=50 * eps)


@pytest.mark.parametrize("theta", [0.0, 1e-9, 1e-3, 1.0, math.pi - 1e-6])
@pytest.mark.parametrize("group", [SE2(), SE3()], ids=lambda g: g.name)
def test_se_float32_round_trip_and_finite_gradients(group, theta):
    rot = torch.tensor([theta]) if group.dim == 3 else theta * AXIS_NO_TIE.float()
    xi = torch.cat((torch.linspace(-1.0, 2.0, group.dim - rot.numel()), rot))
    xi = xi.float().requires_grad_(True)
    back = group.log(group.exp(xi))
    assert back.dtype == torch.float32
    assert torch.allclose(back, xi, atol=4e-6, rtol=0)
    (grad,) = torch.autograd.grad(back.sum() + group.dexp_inv(xi, xi).sum(), xi)
    x64 = xi.detach().double()
    want = _central_diff(
        lambda z: group.log(group.exp(z)).sum() + group.dexp_inv(z, z).sum(), x64
    )
    assert torch.allclose(grad.double(), want, atol=1e-3, rtol=0), grad.double() - want
