"""Lie-Poisson midpoint method for the free rigid body.

State ``(R, m)``: attitude ``R`` in SO(3) and body angular momentum ``m``, with
body angular velocity ``Omega = m / I`` (principal moments ``I = inertia``);
Euler's equations read ``m' = m x Omega = -hat(Omega) m`` and
``R' = R hat(Omega)``. One step of length ``h``:

    m_mid = m0 + h/2 m_mid x (m_mid / I)               (implicit midpoint)
    A     = h/2 hat(m_mid / I)
    m1    = Q m0,  Q = (1 + A)^{-1} (1 - A)            (Cayley transform)
    R1    = R0 Q^T

The first two lines are the implicit midpoint rule for Euler's equations
(``m1 - m0 = -A (m0 + m1)``), which conserves every quadratic invariant, so
the energy ``m . (m / I) / 2`` is kept to the fixed-point tolerance, i.e.
round-off (Hairer, Lubich & Wanner, *Geometric Numerical Integration*, 2nd
ed. 2006, Theorem IV.2.1, sec. VII.5; Austin, Krishnaprasad & Wang, J. Comput.
Phys. 107:105-117, 1993). ``Q`` is orthogonal, so ``|m|^2`` is kept exactly;
``R1 m1 = R0 Q^T Q m0 = R0 m0``, so the spatial angular momentum is kept
exactly too; and ``R1`` is a product of rotations, so it stays on SO(3). The
Cayley factor agrees with ``exp(h hat(Omega_mid))`` to ``O(h^3)``: order 2.

Contract (docs/internals.md, free rigid body): ``split_state`` returns
``(R, m)`` with ``m`` the *body angular momentum* and ``inertia`` the principal
moments; ``lie_field`` is not called.

Gradients flow through the unrolled fixed-point iterations (see
``integrators.implicit``) and the closed-form Cayley factor.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from integrators._base import FREE_RIGID_BODY, Integrator, Stepper
from integrators.implicit import solve_fixed_point
from integrators.lie import GroupStatePacking

__all__ = ["RigidBodyMidpoint"]


class _RigidBodyStepper(GroupStatePacking, Stepper):
    def __init__(self, problem: Any, dt: float) -> None:
        self.problem, self.dt, self.group = problem, dt, problem.group
        self.inertia = torch.as_tensor(problem.inertia)

    def advance(self, t: float, z: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        R, m = z
        inertia, half = self.inertia.to(m), self.dt / 2

        def update(m_mid: Tensor) -> Tensor:
            return torch.add(m, torch.linalg.cross(m_mid, m_mid / inertia), alpha=half)

        m_mid = solve_fixed_point(update, update(m), t)
        return _cayley_update(R, m, half * m_mid / inertia, self.group)


def _cayley_update(
    R: Tensor, m: Tensor, a: Tensor, group: Any
) -> tuple[Tensor, Tensor]:
    """``(R Q^T, Q m)`` for ``Q^T = (1 - A)^{-1} (1 + A)``, ``A = hat(a)``.

    Closed form of the Cayley transform of a 3x3 skew matrix,
    ``Q^T = 1 + 2 (A + A^2) / (1 + |a|^2)`` (Murray, Li & Sastry, *A
    Mathematical Introduction to Robotic Manipulation*, 1994, ex. 2.A.5), so
    ``Q m = m + 2 (a x (a x m) - a x m) / (1 + |a|^2)``.
    """
    A = group.hat(a)
    c = 2.0 / (1.0 + (a * a).sum(-1, keepdim=True))
    QT = torch.eye(3, dtype=R.dtype, device=R.device) + c[..., None] * (A + A @ A)
    axm = torch.linalg.cross(a, m)
    return R @ QT, m + c * (torch.linalg.cross(a, axm) - axm)


class RigidBodyMidpoint(Integrator):
    """Midpoint Lie-Poisson method for the free rigid body (order 2)."""

    kind = "lie"
    requires = FREE_RIGID_BODY

    def __init__(self, name: str = "rigid-body-midpoint") -> None:
        self.name, self.order = name, 2

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper on packed ``(R, y)``."""
        return _RigidBodyStepper(problem, dt)
