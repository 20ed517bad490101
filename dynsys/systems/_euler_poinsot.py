"""Closed-form free rigid body (Euler-Poinsot motion).

Body angular velocity in Jacobi elliptic functions (Landau and Lifshitz,
"Mechanics", 3rd ed., 1976, sec. 37, eqs. 37.10-37.12) and the attitude from
it. For the attitude, the spatial angular momentum ``L = R m`` is fixed, so
``Q(t) = R0^T R(t)`` maps ``m(t)`` to ``m0``. With ``A(t)`` any rotation taking
``m(t)/|m|`` to ``e3``, ``Q(t) = A(0)^T Rz(psi(t)) A(t)``, and ``Q' = Q hat(omega)``
gives ``psi' = (A omega)_3 - vee(A' A^T)_3 = 2E/|m| - vee(A' A^T)_3``: the
precession angle of Landau and Lifshitz sec. 37 (an elliptic integral of the
third kind, eq. 37.16), computed here by Gauss-Legendre quadrature of its
analytic integrand. ``A = M(n) P``: ``P`` a signed axis permutation that takes
the axis whose ``omega`` never vanishes to ``+e3``, and ``M(n)`` the minimal
rotation taking ``n = P m/|m|`` (``n_3 > 0`` always) to ``e3``, for which
``vee(M' M^T)_3 = (n x n')_3 / (1 + n_3)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

#: Gauss-Legendre rule used for the precession angle (exact to degree 31).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


def poinsot_params(inertia: np.ndarray, m: np.ndarray, parity: float) -> dict[str, Any]:
    """Amplitudes, rate, modulus and phase of the elliptic solution.

    ``inertia`` sorted ascending, ``m`` in the same axis order, ``parity`` the
    sign in ``m' = parity m x omega``. Returns the relabelled axes ``(a, b,
    c)``, amplitudes ``A``, rate ``tau'``, parameter ``k2``, initial phase
    ``tau0``, ``s = sign(omega_c)`` and the time of the first zero of
    ``omega_b``.
    """
    M2 = float(m @ m)
    E2 = float(m @ (m / inertia))  # 2E
    # M^2 > 2 E I2: omega_3 keeps its sign (eqs. 37.10); else swap axes 1, 3.
    a, b, c = (0, 1, 2) if M2 > E2 * inertia[1] else (2, 1, 0)
    Ia, Ib, Ic = inertia[a], inertia[b], inertia[c]
    amp = np.empty(3)
    amp[a] = math.sqrt(max((E2 * Ic - M2) / (Ia * (Ic - Ia)), 0.0))
    amp[b] = math.sqrt(max((E2 * Ic - M2) / (Ib * (Ic - Ib)), 0.0))
    amp[c] = math.sqrt(max((M2 - E2 * Ia) / (Ic * (Ic - Ia)), 0.0))
    lam = math.sqrt((Ic - Ib) * (M2 - E2 * Ia) / (Ia * Ib * Ic))
    k2 = min((Ib - Ia) * (E2 * Ic - M2) / ((Ic - Ib) * (M2 - E2 * Ia)), 1.0)
    w = m / inertia
    s = 1.0 if w[c] >= 0 else -1.0
    # With omega_a = A_a cn, omega_b = A_b sn, omega_c = s A_c dn, Euler's
    # equations hold for tau' = parity s lam (the swap (2, 1, 0) flips the
    # sign of the cross product and of Ic - Ia together).
    rate = parity * s * lam
    phi0 = math.atan2(
        w[b] / amp[b] if amp[b] else 0.0, w[a] / amp[a] if amp[a] else 1.0
    )
    tau0 = float(special.ellipkinc(phi0, k2))
    return {
        "axes": (a, b, c),
        "amp": amp,
        "rate": rate,
        "k2": k2,
        "tau0": tau0,
        "s": s,
        "flip": _first_zero_of_sn(tau0, rate, k2),
    }


def _first_zero_of_sn(tau0: float, rate: float, k2: float) -> float:
    """First ``t > 0`` with ``sn(tau0 + rate t | k2) = 0`` (``inf`` if none).

    Zeros of ``sn`` lie at ``tau = 2 K j`` (Abramowitz and Stegun, 16.2); on the
    separatrix ``k2 = 1``, ``K = inf`` and ``sn = tanh`` vanishes at 0 only.
    """
    if rate == 0.0:
        return math.inf
    if k2 >= 1.0:
        return -tau0 / rate if tau0 * rate < 0 else math.inf
    K = float(special.ellipk(k2))
    if rate > 0:
        target = 2 * K * (math.floor(tau0 / (2 * K)) + 1)
    else:
        target = 2 * K * (math.ceil(tau0 / (2 * K)) - 1)
    return (target - tau0) / rate


def poinsot_omega(
    inertia: np.ndarray, m: np.ndarray, t: np.ndarray, parity: float
) -> np.ndarray:
    """Exact ``omega(t)`` ``(T, 3)`` for one trajectory (sorted axes)."""
    pp = poinsot_params(inertia, m, parity)
    a, b, c = pp["axes"]
    sn, cn, dn, _ = special.ellipj(pp["tau0"] + pp["rate"] * t, pp["k2"])
    out = np.empty((len(t), 3))
    amp = pp["amp"]
    out[:, a], out[:, b], out[:, c] = amp[a] * cn, amp[b] * sn, pp["s"] * amp[c] * dn
    return out


def attitude(
    inertia: np.ndarray,
    order: np.ndarray,
    parity: float,
    R0: np.ndarray,
    m0: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """Exact states ``[R(t) row-major, m(t)]`` ``(T, 12)`` for one trajectory.

    Args:
        inertia: sorted principal moments ``(3,)``.
        order: permutation that sorts the moments (``inertia = I[order]``).
        parity: sign of that permutation.
        R0: ``(3, 3)`` initial attitude.
        m0: ``(3,)`` initial body momentum, original axis order.
        t: ``(T,)`` times.
    """
    moments = np.empty(3)
    moments[order] = inertia

    def omega(s: np.ndarray) -> np.ndarray:
        out = np.empty((len(s), 3))
        out[:, order] = poinsot_omega(inertia, m0[order], s, parity)
        return out

    c = order[poinsot_params(inertia, m0[order], parity)["axes"][2]]
    P = _axis_frame(int(c), 1.0 if m0[c] >= 0 else -1.0)
    size = float(np.linalg.norm(m0))
    rate0 = float(m0 @ (m0 / moments)) / size  # 2E/|m| = omega . m/|m|

    def psi_rate(s: np.ndarray) -> np.ndarray:
        w = omega(s)
        m = w * moments
        n, dn = m @ P.T / size, np.cross(m, w) @ P.T / size
        return rate0 - np.cross(n, dn)[:, 2] / (1.0 + n[:, 2])

    h_max = 0.25 / max(float(np.abs(m0 / moments).max()), 1e-12)
    psi = _cumulative_integral(psi_rate, t, h_max)
    m_t = omega(t) * moments
    A_t = _minimal_rotation(m_t @ P.T / size) @ P
    A_0 = _minimal_rotation((m0 @ P.T / size)[None])[0] @ P
    cz, sz = np.cos(psi), np.sin(psi)
    Rz = np.zeros((len(t), 3, 3))
    Rz[:, 0, 0], Rz[:, 0, 1], Rz[:, 1, 0], Rz[:, 1, 1] = cz, -sz, sz, cz
    Rz[:, 2, 2] = 1.0
    R = R0 @ A_0.T @ Rz @ A_t
    return np.concatenate([R.reshape(len(t), 9), m_t], axis=1)


def is_steady(moments: np.ndarray, m: np.ndarray) -> bool:
    """Whether ``m`` is a steady rotation: ``m x omega = 0`` to round-off, i.e.
    the body is at rest or spins about a principal axis (Landau and Lifshitz,
    sec. 37: the fixed points of Euler's equations). There the elliptic
    formulas degenerate (``|m| = 0``, or ``k2 = 1`` with an infinite phase)."""
    w = m / moments
    size = float(np.linalg.norm(m) * np.linalg.norm(w))
    return float(np.linalg.norm(np.cross(m, w))) <= 4 * np.finfo(float).eps * size


def steady_attitude(
    moments: np.ndarray, R0: np.ndarray, m0: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """``[R0 exp(t hat(omega0)) row-major, m0]`` ``(T, 12)`` for a steady start
    (Rodrigues' formula; ``m`` and ``omega`` constant).

    Args:
        moments: principal moments ``(3,)``, original axis order.
        R0: ``(3, 3)`` initial attitude.
        m0: ``(3,)`` steady body momentum (see :func:`is_steady`).
        t: ``(T,)`` times.
    """
    w = m0 / moments
    speed = float(np.linalg.norm(w))
    K = np.zeros((3, 3))
    if speed > 0:
        u = w / speed
        K = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    angle = (speed * t)[:, None, None]
    R = R0 @ (np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K))
    return np.concatenate([R.reshape(len(t), 9), np.tile(m0, (len(t), 1))], axis=1)


def _axis_frame(c: int, sign: float) -> np.ndarray:
    """Rotation (a signed permutation) taking ``sign * e_c`` to ``e3``."""
    i, j = (c + 1) % 3, (c + 2) % 3
    P = np.zeros((3, 3))
    P[0, i], P[1, j], P[2, c] = sign, 1.0, sign  # det = sign^2 = 1
    return P


def _minimal_rotation(n: np.ndarray) -> np.ndarray:
    """Rotations ``(N, 3, 3)`` taking unit vectors ``n (N, 3)`` (``n_3 > -1``)
    to ``e3`` about ``n x e3`` (Rodrigues' formula)."""
    k = np.stack([n[:, 1], -n[:, 0], np.zeros(len(n))], axis=1)  # n x e3
    K = np.zeros((len(n), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K = K - K.transpose(0, 2, 1)
    return np.eye(3) + K + K @ K / (1.0 + n[:, 2])[:, None, None]


def _cumulative_integral(
    f: Callable[[np.ndarray], np.ndarray], t: np.ndarray, h_max: float
) -> np.ndarray:
    """``int_0^t f`` at each ``t`` by composite 16-point Gauss-Legendre
    quadrature on pieces no longer than ``h_max``."""
    grid = np.unique(np.concatenate([[0.0], t]))
    a, b = grid[:-1], grid[1:]
    pieces = np.maximum(np.ceil((b - a) / h_max).astype(int), 1)
    interval = np.repeat(np.arange(len(a)), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    local = np.arange(len(interval)) - first
    width = (b - a)[interval] / pieces[interval]
    start = a[interval] + local * width
    nodes = start[:, None] + 0.5 * width[:, None] * (_GL_NODES + 1.0)
    values = f(nodes.reshape(-1)).reshape(nodes.shape)
    per_piece = 0.5 * width * (values @ _GL_WEIGHTS)
    per_interval = np.bincount(interval, weights=per_piece, minlength=len(a))
    cumulative = np.concatenate([[0.0], np.cumsum(per_interval)])
    cumulative -= cumulative[np.searchsorted(grid, 0.0)]
    return cumulative[np.searchsorted(grid, t)]


__all__ = [
    "attitude",
    "is_steady",
    "poinsot_omega",
    "poinsot_params",
    "steady_attitude",
]
