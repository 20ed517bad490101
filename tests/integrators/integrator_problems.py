"""Analytic reference problems for the integrator tests.

Each problem exposes the duck-typed capability attributes of
docs/internals.md and, where one exists, ``exact(x0, t)``.

- ``TimeDependentScalar``: ``x' = cos(t) x``, ``x(t) = x0 exp(sin t - sin t0)``.
- ``Kepler``: ``H = |p|^2/2 - 1/|q|`` (separable and as an ODE); the exact
  orbit from Kepler's equation ``E - e sin E = t`` (mean motion 1, ``a = 1``,
  started at pericentre; Goldstein, *Classical Mechanics*, sec. 3.8).
- ``HarmonicOscillator``: ``H = (p^2 + q^2)/2``, exact rotation in phase space.
- ``GroupFlow``: ``g' = g hat(xi(t))`` with ``xi(t) = Ad_{exp(-t b)} a + b``,
  exact ``g(t) = g0 exp(t a) exp(t b)`` (differentiate the product), plus a
  vector part ``y' = cos(t) y``.
- ``OscillatingFlow``: ``xi(t) = cos(t) a + sin(t) b``, bounded for all ``t``.
- ``FreeRigidBody``: ``R' = R hat(I^{-1} m)``, ``m' = m x I^{-1} m``.
- ``Rotation2``: the discrete map ``x -> rotation(theta) x``.

``LocalSO3`` is a small SO(3) written here, not in dynsys, implementing the
group interface the Lie integrators use (exp, hat, vee, compose, dexp_inv, ad,
adjoint, residual, project): the methods must work for any such object.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

try:  # pragma: no cover - depends on the groups package having landed
    from dynsys import groups as _groups

    HAVE_DYNSYS_GROUPS = hasattr(_groups, "get_group")
except Exception:  # noqa: BLE001 - any import failure means "not there yet"
    _groups = None
    HAVE_DYNSYS_GROUPS = False


def _taylor_threshold(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps) ** 0.25


class LocalSO3:
    """SO(3) with Rodrigues' formula (Murray, Li & Sastry 1994, eq. 2.14)."""

    name, dim, matrix_size = "so3", 3, 3

    def hat(self, w: Tensor) -> Tensor:
        z = torch.zeros_like(w[..., 0])
        w1, w2, w3 = w.unbind(-1)
        rows = (
            torch.stack((z, -w3, w2), -1),
            torch.stack((w3, z, -w1), -1),
            torch.stack((-w2, w1, z), -1),
        )
        return torch.stack(rows, -2)

    def vee(self, X: Tensor) -> Tensor:
        return torch.stack((X[..., 2, 1], X[..., 0, 2], X[..., 1, 0]), -1)

    def _coeffs(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        th2 = (w * w).sum(-1)
        small = th2 < _taylor_threshold(w.dtype) ** 2
        th2s = torch.where(small, torch.ones_like(th2), th2)
        th = th2s.sqrt()
        a = torch.where(small, 1 - th2 / 6, torch.sin(th) / th)
        b = torch.where(small, 0.5 - th2 / 24, (1 - torch.cos(th)) / th2s)
        return th2, a, b

    def exp(self, w: Tensor) -> Tensor:
        _, a, b = self._coeffs(w)
        W = self.hat(w)
        eye = torch.eye(3, dtype=w.dtype).expand(W.shape)
        return eye + a[..., None, None] * W + b[..., None, None] * (W @ W)

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        return g @ h

    def inverse(self, g: Tensor) -> Tensor:
        return g.transpose(-1, -2)

    def ad(self, w: Tensor) -> Tensor:
        return self.hat(w)

    def adjoint(self, g: Tensor) -> Tensor:
        return g

    def dexp_inv(self, w: Tensor, v: Tensor) -> Tensor:
        """``J_r(w)^{-1} v``, Chirikjian (2011) vol. 2, eq. 10.86 with w -> -w."""
        th2, a, b = self._coeffs(w)
        small = th2 < _taylor_threshold(w.dtype) ** 2
        c = torch.where(
            small, 1 / 12 + th2 / 720, (1 - a / (2 * b)) / th2.where(~small, 1)
        )
        wxv = torch.linalg.cross(w, v)
        return v + 0.5 * wxv + c[..., None] * torch.linalg.cross(w, wxv)

    def residual(self, g: Tensor) -> Tensor:
        eye = torch.eye(3, dtype=g.dtype)
        orth = torch.linalg.matrix_norm(g.transpose(-1, -2) @ g - eye)
        return orth + (torch.linalg.det(g) - 1).abs()

    def project(self, g: Tensor) -> Tensor:
        U, _, Vh = torch.linalg.svd(g)
        d = torch.linalg.det(U @ Vh)
        U = torch.cat((U[..., :2], U[..., 2:] * d[..., None, None]), -1)
        return U @ Vh


def lie_groups() -> dict[str, object]:
    """Groups for the Lie methods: every registered dynsys group, plus a
    group object defined here (the methods must accept any such object)."""
    found = {"local-so3": LocalSO3()}
    if HAVE_DYNSYS_GROUPS:
        found.update({n: _groups.get_group(n) for n in _groups.available_groups()})
    return found


def compact_direction(group, xi: Tensor) -> Tensor:
    """The skew-symmetric part of ``hat(xi)`` when it lies in the algebra.

    Its one-parameter subgroup is orthogonal, hence bounded, which keeps long
    flows on non-compact groups (Sp) well conditioned; otherwise ``xi``.
    """
    X = group.hat(xi)
    S = 0.5 * (X - X.transpose(-1, -2))
    xs = group.vee(S)
    return xs if torch.allclose(group.hat(xs), S, atol=1e-14) else xi


class TimeDependentScalar:
    """``x' = cos(t) x`` in ``d`` independent components."""

    def vector_field(self, t: float, x: Tensor) -> Tensor:
        return math.cos(t) * x

    def exact(self, x0: Tensor, t: float, t0: float = 0.0) -> Tensor:
        return x0 * math.exp(math.sin(t) - math.sin(t0))


class HarmonicOscillator:
    """``H = (|p|^2 + |q|^2) / 2`` with ``n_dof`` degrees of freedom."""

    def __init__(self, n_dof: int = 1) -> None:
        self.n_dof = n_dof

    def dH_dq(self, q: Tensor) -> Tensor:
        return q

    def dH_dp(self, p: Tensor) -> Tensor:
        return p

    def vector_field(self, t: float, x: Tensor) -> Tensor:
        q, p = x[..., : self.n_dof], x[..., self.n_dof :]
        return torch.cat((p, -q), -1)

    def energy(self, x: Tensor) -> Tensor:
        return 0.5 * (x * x).sum(-1)

    def exact(self, x0: Tensor, t: float) -> Tensor:
        q, p = x0[..., : self.n_dof], x0[..., self.n_dof :]
        c, s = math.cos(t), math.sin(t)
        return torch.cat((c * q + s * p, c * p - s * q), -1)


class Kepler:
    """Planar Kepler problem ``H = |p|^2/2 - 1/|q|`` (``mu = 1``)."""

    n_dof = 2

    def dH_dq(self, q: Tensor) -> Tensor:
        r2 = (q * q).sum(-1, keepdim=True)
        return q * r2.pow(-1.5)

    def dH_dp(self, p: Tensor) -> Tensor:
        return p

    def vector_field(self, t: float, x: Tensor) -> Tensor:
        q, p = x[..., :2], x[..., 2:]
        return torch.cat((p, -self.dH_dq(q)), -1)

    def energy(self, x: Tensor) -> Tensor:
        q, p = x[..., :2], x[..., 2:]
        return 0.5 * (p * p).sum(-1) - (q * q).sum(-1).rsqrt()

    def angular_momentum(self, x: Tensor) -> Tensor:
        return x[..., 0] * x[..., 3] - x[..., 1] * x[..., 2]

    @staticmethod
    def pericentre(e: float, dtype: torch.dtype = torch.float64) -> Tensor:
        """State at pericentre of the orbit with ``a = 1`` and eccentricity ``e``."""
        return torch.tensor(
            [1 - e, 0.0, 0.0, math.sqrt((1 + e) / (1 - e))], dtype=dtype
        )

    @staticmethod
    def exact(e: float, t: float) -> Tensor:
        """Exact state at time ``t`` of the orbit started at ``pericentre(e)``."""
        E = t
        for _ in range(50):  # Newton on Kepler's equation E - e sin E = t
            E -= (E - e * math.sin(E) - t) / (1 - e * math.cos(E))
        b, den = math.sqrt(1 - e * e), 1 - e * math.cos(E)
        return torch.tensor(
            [
                math.cos(E) - e,
                b * math.sin(E),
                -math.sin(E) / den,
                b * math.cos(E) / den,
            ],
            dtype=torch.float64,
        )


class GroupFlow:
    """``g' = g hat(Ad_{exp(-t b)} a + b)``, ``y' = cos(t) y`` on any group."""

    def __init__(self, group, a: Tensor, b: Tensor, k: int = 2) -> None:
        self.group, self.a, self.b, self.k = group, a, b, k
        self.n = group.matrix_size
        self._xi_cache: dict = {}

    def split_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        nn = self.n * self.n
        g = x[..., :nn].reshape(*x.shape[:-1], self.n, self.n)
        return g, x[..., nn:]

    def join_state(self, g: Tensor, y: Tensor) -> Tensor:
        return torch.cat((g.flatten(-2), y), -1)

    def lie_field(self, t: float, g: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        key = (t, g.dtype)
        if key not in self._xi_cache:  # xi depends on t only; groups are costly
            Ad = self.group.adjoint(self.group.exp(-t * self.b.to(g.dtype)))
            xi = (Ad @ self.a.to(g.dtype)[..., None])[..., 0] + self.b.to(g.dtype)
            self._xi_cache[key] = xi
        return self._xi_cache[key].expand(*g.shape[:-2], -1), math.cos(t) * y

    def exact(self, x0: Tensor, t: float) -> Tensor:
        g0, y0 = self.split_state(x0)
        G = self.group
        gt = G.compose(G.exp(t * self.a), G.exp(t * self.b))
        return self.join_state(G.compose(g0, gt), y0 * math.exp(math.sin(t)))


class OscillatingFlow(GroupFlow):
    """``g' = g hat(cos(t) a + sin(t) b)``: bounded for all time on any group."""

    def lie_field(self, t: float, g: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        xi = math.cos(t) * self.a.to(g.dtype) + math.sin(t) * self.b.to(g.dtype)
        return xi.expand(*g.shape[:-2], -1), -y


class FreeRigidBody:
    """Free rigid body, state ``[R row-major (9), m (3)]`` (body momentum)."""

    is_free_rigid_body = True

    def __init__(self, inertia=(1.0, 2.0, 3.0), group=None) -> None:
        self.inertia = torch.tensor(inertia, dtype=torch.float64)
        self.group = group if group is not None else LocalSO3()

    def split_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[..., :9].reshape(*x.shape[:-1], 3, 3), x[..., 9:]

    def join_state(self, g: Tensor, y: Tensor) -> Tensor:
        return torch.cat((g.flatten(-2), y), -1)

    def lie_field(self, t: float, g: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        omega = m / self.inertia.to(m.dtype)
        return omega, torch.linalg.cross(m, omega)

    def exact(self, x0: Tensor, t: float) -> Tensor:
        """Exact solution of the axisymmetric body ``I1 = I2 = I``.

        ``m(t) = Rz(-lam t) m0`` with ``lam = m3 (1/I3 - 1/I)``, so
        ``Omega(t) = Ad_{exp(-t lam e3)} (Omega0 - lam e3) + lam e3`` and, by the
        ``GroupFlow`` identity, ``R(t) = R0 exp(t (Omega0 - lam e3)) exp(t lam e3)``.
        """
        i1, i2, i3 = (float(v) for v in self.inertia)
        if i1 != i2:
            raise ValueError("exact solution needs an axisymmetric body (I1 = I2)")
        R0, m0 = self.split_state(x0)
        lam = m0[..., 2:] * (1 / i3 - 1 / i1)
        e3 = torch.tensor([0.0, 0.0, 1.0], dtype=x0.dtype)
        a = m0 / self.inertia.to(x0.dtype) - lam * e3
        G = self.group
        Rt = G.compose(R0, G.compose(G.exp(t * a), G.exp(t * lam * e3)))
        c, s = torch.cos(lam * t)[..., 0], torch.sin(lam * t)[..., 0]
        m1 = c * m0[..., 0] + s * m0[..., 1]
        m2 = -s * m0[..., 0] + c * m0[..., 1]
        return self.join_state(Rt, torch.stack((m1, m2, m0[..., 2]), -1))

    def energy(self, x: Tensor) -> Tensor:
        m = x[..., 9:]
        return 0.5 * (m * m / self.inertia.to(m.dtype)).sum(-1)

    def spatial_momentum(self, x: Tensor) -> Tensor:
        R, m = self.split_state(x)
        return (R @ m[..., None])[..., 0]

    def casimir(self, x: Tensor) -> Tensor:
        return (x[..., 9:] ** 2).sum(-1)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        m = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        return self.join_state(self.group.exp(w), m)


class Rotation2:
    """Discrete map ``x -> rot(theta) x`` in the plane; exact iterate known."""

    is_discrete = True

    def __init__(self, theta: float = 0.3) -> None:
        self.theta = theta

    def step_map(self, x: Tensor) -> Tensor:
        c, s = math.cos(self.theta), math.sin(self.theta)
        return torch.stack(
            (c * x[..., 0] - s * x[..., 1], s * x[..., 0] + c * x[..., 1]), -1
        )

    def exact(self, x0: Tensor, n: int) -> Tensor:
        c, s = math.cos(n * self.theta), math.sin(n * self.theta)
        return torch.stack(
            (c * x0[..., 0] - s * x0[..., 1], s * x0[..., 0] + c * x0[..., 1]), -1
        )
