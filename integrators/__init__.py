"""integrators: batched, differentiable time steppers.

Classical Runge-Kutta, explicit symplectic splittings, the implicit midpoint
rule, Lie-group methods (Lie-Euler, RKMK4, Crouch-Grossman 3), Lie-Poisson
methods for the free rigid body and the heavy top, discrete maps and an
adaptive Dormand-Prince 5(4) reference solver. Problems are duck-typed
(docs/internals.md, "Integrators"); this package imports nothing from dynsys,
learners or evaluation.

    >>> import integrators
    >>> times, states = integrators.integrate(problem, x0, 0.01, 1000, "verlet")
"""

from __future__ import annotations

from integrators._base import (
    DISCRETE_MAP,
    FREE_RIGID_BODY,
    HEAVY_TOP,
    LIE,
    ODE,
    SEPARABLE_HAMILTONIAN,
    Capability,
    IntegrationError,
    Integrator,
    Stepper,
)
from integrators._integrate import integrate
from integrators._registry import available, compatible, get, register
from integrators.adaptive import DormandPrince5, solve_adaptive
from integrators.classical import EULER, MIDPOINT, RK4, ExplicitRungeKutta
from integrators.discrete import DiscreteMap
from integrators.heavy_top import HeavyTopSplitting
from integrators.implicit import ImplicitMidpoint
from integrators.lie import CROUCH_GROSSMAN3, CrouchGrossman, RungeKuttaMuntheKaas
from integrators.lie_poisson import RigidBodyMidpoint
from integrators.symplectic import YOSHIDA4, YOSHIDA6, Splitting

__all__ = [
    "Capability",
    "ODE",
    "SEPARABLE_HAMILTONIAN",
    "LIE",
    "FREE_RIGID_BODY",
    "HEAVY_TOP",
    "DISCRETE_MAP",
    "Integrator",
    "Stepper",
    "IntegrationError",
    "integrate",
    "solve_adaptive",
    "available",
    "get",
    "compatible",
    "register",
]


def _register_builtins() -> None:
    for method in (
        ExplicitRungeKutta("euler", EULER),
        ExplicitRungeKutta("midpoint", MIDPOINT),
        ExplicitRungeKutta("rk4", RK4),
        DormandPrince5("dopri5"),
        Splitting("symplectic-euler", [("kick", 1.0), ("drift", 1.0)], order=1),
        Splitting("symplectic-euler-qp", [("drift", 1.0), ("kick", 1.0)], order=1),
        Splitting("verlet", [("kick", 0.5), ("drift", 1.0), ("kick", 0.5)], order=2),
        Splitting.from_composition("yoshida4", YOSHIDA4),
        Splitting.from_composition("yoshida6", YOSHIDA6),
        ImplicitMidpoint("implicit-midpoint"),
        RungeKuttaMuntheKaas("lie-euler", EULER),
        RungeKuttaMuntheKaas("rkmk4", RK4),
        CrouchGrossman("crouch-grossman3", CROUCH_GROSSMAN3),
        RigidBodyMidpoint("rigid-body-midpoint"),
        HeavyTopSplitting("heavy-top-splitting"),
        DiscreteMap("map"),
    ):
        register(method)


_register_builtins()
