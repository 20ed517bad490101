"""Lie-Poisson midpoint method for the free rigid body.

State ``(R, y)`` with ``R`` in SO(3) and ``y`` the body vector (angular
momentum ``m`` or velocity, whatever the problem's ``lie_field`` uses). For a
free rigid body ``y' = ydot(y)`` does not depend on ``R`` (Euler's equations
``m' = m x I^{-1} m``) and its invariants, energy ``m . I^{-1} m / 2`` and
Casimir ``|m|^2``, are quadratic. One step is

    y_mid = y0 + h/2 ydot(t + h/2, R0, y_mid)        (implicit midpoint)
    y1    = 2 y_mid - y0
    R1    = R0 exp(h xi(t + h/2, R0, y_mid))

The implicit midpoint rule conserves every quadratic invariant exactly, so
energy and ``|m|^2`` are kept to the tolerance of the fixed-point solve, i.e.
round-off (Hairer, Lubich & Wanner, *Geometric Numerical Integration*, 2nd ed.
2006, Theorem IV.2.1 and sec. VII.5 on the rigid body); the midpoint rule is
also a Poisson integrator for the rigid body (Austin, Krishnaprasad & Wang,
J. Comput. Phys. 107:105-117, 1993). ``R`` moves by ``exp`` of an algebra
element and stays on SO(3); ``xi`` at the midpoint approximates the mean body
velocity to ``O(h^2)``, so the method is of order 2.

Gradients flow through the unrolled fixed-point iterations (see
``integrators.implicit``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from integrators._base import FREE_RIGID_BODY, Integrator, Stepper
from integrators.implicit import solve_fixed_point

__all__ = ["RigidBodyMidpoint"]


class _RigidBodyStepper(Stepper):
    def __init__(self, problem: Any, dt: float) -> None:
        self.problem, self.dt = problem, dt
        self.group, self.field = problem.group, problem.lie_field

    def pack(self, x: Tensor) -> tuple[Tensor, Tensor]:
        g, y = self.problem.split_state(x)
        return g, y

    def unpack(self, z: tuple[Tensor, Tensor]) -> Tensor:
        return self.problem.join_state(*z)

    def advance(self, t: float, z: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        g, y = z
        half, tm = self.dt / 2, t + self.dt / 2

        def update(y_mid: Tensor) -> Tensor:
            return torch.add(y, self.field(tm, g, y_mid)[1], alpha=half)

        y_mid = solve_fixed_point(update, update(y), t)
        xi = self.field(tm, g, y_mid)[0]
        g1 = self.group.compose(g, self.group.exp(self.dt * xi))
        return g1, 2 * y_mid - y


class RigidBodyMidpoint(Integrator):
    """Midpoint Lie-Poisson method for the free rigid body (order 2)."""

    kind = "lie"
    requires = FREE_RIGID_BODY

    def __init__(self, name: str = "rigid-body-midpoint") -> None:
        self.name, self.order = name, 2

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper on packed ``(R, y)``."""
        return _RigidBodyStepper(problem, dt)
