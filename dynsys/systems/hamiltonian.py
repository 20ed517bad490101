"""Separable Hamiltonian systems ``H(q, p) = T(p) + V(q)``, state ``[q..., p...]``.

* ``harmonic-oscillator``: ``H = p^2/(2 mass) + mass omega^2 q^2 / 2``
  (Goldstein, Poole, Safko, "Classical Mechanics", 3rd ed., 2002, sec. 10.2).
* ``pendulum``: ``H = p^2/2 - omega0^2 cos q`` (the plane pendulum with
  ``m l^2 = 1``, ``omega0^2 = g/l``; Landau and Lifshitz, "Mechanics", 3rd ed.,
  1976, sec. 11, problem 1, which also gives the period ``4 K(sin^2(q0/2)) /
  omega0``).
* ``kepler``: ``H = |p|^2/2 - mu/|q|`` in the plane, started at perihelion
  (Goldstein et al., sec. 3.7-3.9); invariants energy, angular momentum and the
  Laplace-Runge-Lenz vector ``A = p x L - mu q/|q|`` (sec. 3.9).
* ``henon-heiles``: ``H = |p|^2/2 + |q|^2/2 + lam (x^2 y - y^3/3)`` (Henon and
  Heiles, Astron. J. 69, 73, 1964); bounded motion below ``E = 1/(6 lam^2)``.

Exact solutions: the oscillator in closed form, the pendulum in Jacobi elliptic
functions, Kepler through Kepler's equation; Henon-Heiles has none (chaotic).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from dynsys.systems._base import (
    SeparableHamiltonian,
    Tensor,
    check_count,
    make_generator,
    real_param,
)
from dynsys.systems._registry import register_system


def _times(t: Tensor, x0: Tensor) -> Tensor:
    """``t`` reshaped to ``(*T, 1, ..., 1)`` to broadcast against ``x0[..., 0]``."""
    return t.reshape(*t.shape, *([1] * (x0.ndim - 1)))


@register_system("harmonic-oscillator")
class HarmonicOscillator(SeparableHamiltonian):
    """Harmonic oscillator ``H = p^2 / (2 mass) + mass omega^2 q^2 / 2``.

    State ``[q, p]`` (``state_dim = 2``). Defaults give ``H = (p^2 + q^2)/2``.
    Exact flow: ``q(t) = q0 cos(omega t) + p0/(mass omega) sin(omega t)``,
    ``p(t) = p0 cos(omega t) - mass omega q0 sin(omega t)``.

    Args:
        omega: angular frequency, > 0.
        mass: mass, > 0.
    """

    name = "harmonic-oscillator"
    n_dof = 1
    dt = 0.1

    def __init__(self, omega: float = 1.0, mass: float = 1.0) -> None:
        super().__init__()
        self.omega = real_param(self.name, "omega", omega, lo=0.0, lo_open=True)
        self.mass = real_param(self.name, "mass", mass, lo=0.0, lo_open=True)
        self._params = {"omega": self.omega, "mass": self.mass}

    def kinetic(self, p: Tensor) -> Tensor:
        return p[..., 0] ** 2 / (2.0 * self.mass)

    def potential(self, q: Tensor) -> Tensor:
        return 0.5 * self.mass * self.omega**2 * q[..., 0] ** 2

    def dH_dp(self, p: Tensor) -> Tensor:
        return p / self.mass

    def dH_dq(self, q: Tensor) -> Tensor:
        return self.mass * self.omega**2 * q

    def sample(self, n: int, seed: int = 0) -> Tensor:
        gen = make_generator(seed)
        return torch.randn(check_count(n), 2, generator=gen, dtype=torch.float64)

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        wt = _times(t, x0) * self.omega
        q0, p0 = x0[..., 0], x0[..., 1]
        mw = self.mass * self.omega
        c, s = torch.cos(wt), torch.sin(wt)
        return torch.stack([q0 * c + p0 / mw * s, p0 * c - mw * q0 * s], dim=-1)


@register_system("pendulum")
class Pendulum(SeparableHamiltonian):
    """Plane pendulum ``H = p^2/2 - omega0^2 cos q``.

    State ``[q, p]``: angle from the downward vertical and its conjugate
    momentum. ``omega0`` is the small-oscillation frequency ``sqrt(g/l)``;
    the separatrix is at ``H = omega0^2``. Exact flow in Jacobi elliptic
    functions (librations and rotations).

    Args:
        omega0: small-oscillation angular frequency, > 0.
    """

    name = "pendulum"
    n_dof = 1
    dt = 0.05

    def __init__(self, omega0: float = 1.0) -> None:
        super().__init__()
        self.omega0 = real_param(self.name, "omega0", omega0, lo=0.0, lo_open=True)
        self._params = {"omega0": self.omega0}

    def kinetic(self, p: Tensor) -> Tensor:
        return 0.5 * p[..., 0] ** 2

    def potential(self, q: Tensor) -> Tensor:
        return -(self.omega0**2) * torch.cos(q[..., 0])

    def dH_dp(self, p: Tensor) -> Tensor:
        return p

    def dH_dq(self, q: Tensor) -> Tensor:
        return self.omega0**2 * torch.sin(q)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Librations: angle in ``(-2, 2)`` rad, energy below the separatrix."""
        gen = make_generator(seed)
        n = check_count(n)
        q = 4.0 * torch.rand(n, generator=gen, dtype=torch.float64) - 2.0
        # Momentum up to 90% of the separatrix value at this angle.
        p_max = self.omega0 * torch.sqrt(2.0 * (1.0 + torch.cos(q)))
        u = 2.0 * torch.rand(n, generator=gen, dtype=torch.float64) - 1.0
        return torch.stack([q, 0.9 * u * p_max], dim=-1)

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        """Jacobi-elliptic solution (Lawden, "Elliptic Functions and
        Applications", 1989, sec. 5.2; Whittaker, "Analytical Dynamics", sec. 44).

        With ``k^2 = (H + omega0^2) / (2 omega0^2)``: librations (``k < 1``)
        follow ``sin(q/2) = k sn(u, k^2)``, ``p = 2 k omega0 cn(u, k^2)``,
        ``u = omega0 t + u0``; rotations (``k > 1``) follow ``q = 2 am(v, 1/k^2)``,
        ``p = 2 k omega0 dn(v, 1/k^2)`` (times the sign of ``p``),
        ``v = k omega0 t + v0``.
        """
        w0 = self.omega0
        x = np.asarray(x0.detach().cpu(), dtype=np.float64).reshape(-1, 2)
        tt = np.asarray(t.cpu(), dtype=np.float64).reshape(-1, 1)
        q0, p0 = x[:, 0], x[:, 1]
        k = np.sqrt((0.5 * p0**2 / w0**2 + 1.0 - np.cos(q0)) / 2.0)
        # Equilibria q0 = j pi, p0 = 0 stay put; at the inverted ones (k = 1)
        # the elliptic phase is infinite, so they are taken out explicitly.
        eps = np.finfo(np.float64).eps
        rest = (p0 == 0) & (np.abs(np.sin(q0)) <= 4 * eps * np.maximum(1, abs(q0)))
        with np.errstate(invalid="ignore", divide="ignore"):
            moving = np.where(
                (k < 1.0)[None, :, None],
                _pendulum_libration(q0, p0, k, w0, tt),
                _pendulum_rotation(q0, p0, k, w0, tt),
            )
        out = np.where(rest[None, :, None], x[None], moving)
        return torch.from_numpy(out.reshape(*t.shape, *x0.shape)).to(x0)


def _pendulum_libration(
    q0: np.ndarray, p0: np.ndarray, k: np.ndarray, w0: float, t: np.ndarray
) -> np.ndarray:
    """``(T, b, 2)`` for librations; rows with ``k >= 1`` are ignored."""
    kk = np.clip(k, 1e-300, 1.0 - 1e-16)
    m = kk**2
    # Phase: sn(u0) = sin(q0/2)/k, cn(u0) = p0/(2 k omega0); q0 may be wrapped.
    wrapped = np.remainder(q0 + np.pi, 2 * np.pi) - np.pi  # in [-pi, pi)
    phi0 = np.arctan2(np.sin(wrapped / 2) / kk, p0 / (2 * kk * w0))
    u = special.ellipkinc(phi0, m) + w0 * t
    sn, cn, _, _ = special.ellipj(u, m)
    q = 2 * np.arcsin(np.clip(kk * sn, -1.0, 1.0))
    # Keep the branch of q0 (librations about the downward position 2 pi j).
    q = q + (q0 - wrapped)
    return np.stack([q, 2 * kk * w0 * cn], -1)


def _pendulum_rotation(
    q0: np.ndarray, p0: np.ndarray, k: np.ndarray, w0: float, t: np.ndarray
) -> np.ndarray:
    """``(T, b, 2)`` for rotations; rows with ``k < 1`` are ignored."""
    kk = np.maximum(k, 1.0 + 1e-16)
    m = 1.0 / kk**2
    sign = np.where(p0 >= 0, 1.0, -1.0)
    v = special.ellipkinc(q0 / 2, m) + sign * kk * w0 * t
    _, _, dn, ph = special.ellipj(v, m)
    return np.stack([2 * ph, sign * 2 * kk * w0 * dn], -1)


@register_system("kepler")
class Kepler(SeparableHamiltonian):
    """Planar Kepler problem ``H = |p|^2/2 - mu/|q|``.

    State ``[x, y, px, py]``. The reference orbit starts at perihelion,
    ``q0 = (1 - e, 0)``, ``p0 = (0, sqrt(mu (1 + e)/(1 - e)))``: semi-major axis
    1, energy ``-mu/2``, period ``2 pi / sqrt(mu)``. :meth:`sample` rotates that
    orbit by a random angle and moves the start to a random point along it
    (random mean anomaly, Kepler's equation solved by Newton's method).

    Invariants: ``energy``, ``angular_momentum`` ``L = x py - y px``, and the
    Laplace-Runge-Lenz vector ``A = p x L - mu q/|q|`` (``lrl_x``, ``lrl_y``),
    whose length is ``mu e``. Exact flow for bound states through Kepler's
    equation.

    Args:
        e: eccentricity in ``[0, 1)``.
        mu: gravitational parameter ``G M``, > 0.
    """

    name = "kepler"
    n_dof = 2
    dt = 0.01

    def __init__(self, e: float = 0.5, mu: float = 1.0) -> None:
        super().__init__()
        self.e = real_param(self.name, "e", e, lo=0.0, hi=1.0, hi_open=True)
        self.mu = real_param(self.name, "mu", mu, lo=0.0, lo_open=True)
        self._params = {"e": self.e, "mu": self.mu}

    def kinetic(self, p: Tensor) -> Tensor:
        return 0.5 * (p * p).sum(-1)

    def potential(self, q: Tensor) -> Tensor:
        return -self.mu / torch.linalg.vector_norm(q, dim=-1)

    def dH_dp(self, p: Tensor) -> Tensor:
        return p

    def dH_dq(self, q: Tensor) -> Tensor:
        """``mu q / |q|^3``, with one square root and one division per state
        (not one per component): the force is the hot path of every step."""
        r2 = (q * q).sum(-1, keepdim=True)
        return q * (self.mu / (r2 * r2.sqrt()))

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        q, p = self.split(x)
        L = q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]
        r = torch.linalg.vector_norm(q, dim=-1)
        # p x (L e_z) = (py L, -px L) in the plane (Goldstein et al., sec. 3.9).
        lrl_x = p[..., 1] * L - self.mu * q[..., 0] / r
        lrl_y = -p[..., 0] * L - self.mu * q[..., 1] / r
        return {
            "energy": self.hamiltonian(x),
            "angular_momentum": L,
            "lrl_x": lrl_x,
            "lrl_y": lrl_y,
        }

    def orbit_state(self, mean_anomaly: Tensor, angle: Tensor) -> Tensor:
        """States at the given mean anomalies on the reference orbit rotated by
        ``angle`` (both ``(*b,)``), ``(*b, 4)``.

        Kepler's equation ``M = E - e sin E`` is solved by Newton's method
        (Murray and Dermott, "Solar System Dynamics", 1999, sec. 2.4).
        """
        e, mu = self.e, self.mu
        E = mean_anomaly.clone() + (e * torch.sin(mean_anomaly) if e > 0.8 else 0)
        for _ in range(50):
            E = E - (E - e * torch.sin(E) - mean_anomaly) / (1 - e * torch.cos(E))
        # Perifocal position and velocity with a = 1 (Murray and Dermott, eqs.
        # 2.41 and 2.36 with n a = sqrt(mu / a)).
        cE, sE = torch.cos(E), torch.sin(E)
        b = math.sqrt(1 - e * e)
        x, y = cE - e, b * sE
        rate = math.sqrt(mu) / (1 - e * cE)
        vx, vy = -sE * rate, b * cE * rate
        c, s = torch.cos(angle), torch.sin(angle)
        return torch.stack(
            [c * x - s * y, s * x + c * y, c * vx - s * vy, s * vx + c * vy], dim=-1
        )

    def sample(self, n: int, seed: int = 0) -> Tensor:
        gen = make_generator(seed)
        n = check_count(n)
        two_pi = 2 * math.pi
        mean_anomaly = two_pi * torch.rand(n, generator=gen, dtype=torch.float64)
        angle = two_pi * torch.rand(n, generator=gen, dtype=torch.float64)
        return self.orbit_state(mean_anomaly, angle)

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        """Kepler's equation and Lagrange's f and g functions (Danby,
        "Fundamentals of Celestial Mechanics", 2nd ed., 1988, secs. 6.3 and 6.8).

        For a bound state (energy < 0): ``a = -mu/(2 E)``, ``n = sqrt(mu/a^3)``,
        ``e cos E0 = 1 - r0/a``, ``e sin E0 = q0 . p0 / sqrt(mu a)``; solve
        ``E - e sin E = E0 - e sin E0 + n t`` by Newton's method, then with
        ``dE = E - E0``: ``q = f q0 + g p0``, ``p = fdot q0 + gdot p0``.

        Raises:
            ValueError: a state is not bound (energy >= 0).
        """
        mu = self.mu
        q0, p0 = self.split(x0)
        energy = self.hamiltonian(x0)
        # Limitation: elliptic orbits only; parabolic and hyperbolic states would
        # need Barker's and the hyperbolic Kepler equation (Danby, sec. 6.9).
        if bool((energy >= 0).any()):
            raise ValueError("kepler exact_solution needs bound states (energy < 0)")
        shape = (*t.shape, *([1] * (x0.ndim - 1)))
        tt = t.reshape(shape)
        r0 = torch.linalg.vector_norm(q0, dim=-1)
        a = -mu / (2 * energy)
        ecos, esin = 1 - r0 / a, (q0 * p0).sum(-1) / torch.sqrt(mu * a)
        e = torch.sqrt(ecos**2 + esin**2)
        E0 = torch.atan2(esin, ecos)
        n = torch.sqrt(mu / a**3)
        # Reduce the mean anomaly to [0, 2 pi) for Newton, then add the whole
        # revolutions back: g below needs the unreduced dE.
        mean = E0 - esin + n * tt
        turns = torch.floor(mean / (2 * math.pi))
        E = _solve_kepler(mean - 2 * math.pi * turns, e) + 2 * math.pi * turns
        dE = E - E0
        r = a * (1 - e * torch.cos(E))
        f = 1 - a / r0 * (1 - torch.cos(dE))
        g = tt + (torch.sin(dE) - dE) / n
        fdot = -torch.sqrt(mu * a) * torch.sin(dE) / (r * r0)
        gdot = 1 - a / r * (1 - torch.cos(dE))
        q = f[..., None] * q0 + g[..., None] * p0
        p = fdot[..., None] * q0 + gdot[..., None] * p0
        return torch.cat([q, p], -1)

    def perihelion_state(self) -> Tensor:
        """The reference start ``[1 - e, 0, 0, sqrt(mu (1 + e)/(1 - e))]``."""
        e = self.e
        v = math.sqrt(self.mu * (1 + e) / (1 - e))
        return torch.tensor([1 - e, 0.0, 0.0, v], dtype=torch.float64)


def _solve_kepler(mean: Tensor, e: Tensor) -> Tensor:
    """Eccentric anomaly ``E`` with ``E - e sin E = mean`` (``0 <= e < 1``).

    Newton's method from Danby's starter ``E = M + 0.85 e sign(sin M)``
    (Danby, sec. 6.6), which converges for every ``e < 1``.
    """
    E = mean + 0.85 * e * torch.sign(torch.sin(mean))
    for _ in range(60):
        step = (E - e * torch.sin(E) - mean) / (1 - e * torch.cos(E))
        E = E - step
        if bool((step.abs() <= 4 * torch.finfo(E.dtype).eps * (1 + E.abs())).all()):
            break
    return E


@register_system("henon-heiles")
class HenonHeiles(SeparableHamiltonian):
    """Henon-Heiles ``H = (px^2 + py^2)/2 + (x^2 + y^2)/2 + lam (x^2 y - y^3/3)``.

    State ``[x, y, px, py]``. With ``lam = 1`` the escape energy is 1/6
    (Henon and Heiles, 1964). :meth:`sample` draws bounded states with
    energies in ``[energy_min, energy_max]`` (defaults 1/12 to 1/8, where
    regular and chaotic orbits coexist).

    Args:
        lam: cubic coupling, > 0.
        energy_min: lowest sampled energy, in ``(0, 1/(6 lam^2))``.
        energy_max: highest sampled energy, in ``[energy_min, 1/(6 lam^2))``.
    """

    name = "henon-heiles"
    n_dof = 2
    dt = 0.05

    def __init__(
        self, lam: float = 1.0, energy_min: float = 1 / 12, energy_max: float = 1 / 8
    ) -> None:
        super().__init__()
        self.lam = real_param(self.name, "lam", lam, lo=0.0, lo_open=True)
        e_esc = 1.0 / (6.0 * self.lam**2)
        self.energy_min = real_param(
            self.name,
            "energy_min",
            energy_min,
            lo=0.0,
            hi=e_esc,
            lo_open=True,
            hi_open=True,
        )
        self.energy_max = real_param(
            self.name,
            "energy_max",
            energy_max,
            lo=self.energy_min,
            hi=e_esc,
            hi_open=True,
        )
        self._params = {
            "lam": self.lam,
            "energy_min": self.energy_min,
            "energy_max": self.energy_max,
        }

    def kinetic(self, p: Tensor) -> Tensor:
        return 0.5 * (p * p).sum(-1)

    def potential(self, q: Tensor) -> Tensor:
        x, y = q[..., 0], q[..., 1]
        return 0.5 * (x * x + y * y) + self.lam * (x * x * y - y**3 / 3.0)

    def dH_dp(self, p: Tensor) -> Tensor:
        return p

    def dH_dq(self, q: Tensor) -> Tensor:
        x, y = q[..., 0], q[..., 1]
        return torch.stack(
            [x + 2.0 * self.lam * x * y, y + self.lam * (x * x - y * y)], dim=-1
        )

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Positions in a disc where ``V < energy_min / 2``, then momenta of a
        random direction scaled to a uniformly drawn energy."""
        gen = make_generator(seed)
        n = check_count(n)
        # V <= r^2/2 + lam r^3/3 on the disc of radius r; r = sqrt(E_min/2)
        # keeps V below E_min/2 + lam (E_min/2)^(3/2)/3 < E_min (E_min < 1/6).
        radius = math.sqrt(self.energy_min / 2.0)
        r = radius * torch.sqrt(torch.rand(n, generator=gen, dtype=torch.float64))
        phi = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
        q = torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=-1)
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        energy = self.energy_min + (self.energy_max - self.energy_min) * u
        speed = torch.sqrt(2.0 * (energy - self.potential(q)))
        psi = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
        p = torch.stack([speed * torch.cos(psi), speed * torch.sin(psi)], dim=-1)
        return torch.cat([q, p], dim=-1)


__all__ = ["HarmonicOscillator", "Pendulum", "Kepler", "HenonHeiles"]
