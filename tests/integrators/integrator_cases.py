"""Map every capability to a reference problem with an exact solution.

Tests parametrised over ``integrators.available()`` look up the case for the
capability a method requires; a new capability without a case fails the
tests instead of skipping them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from heavy_top_problem import HeavyTopProblem
from integrator_problems import (
    FreeRigidBody,
    GroupFlow,
    Kepler,
    Rotation2,
    TimeDependentScalar,
    lie_groups,
)
from torch import Tensor

import integrators

ECC = 0.3  # moderate eccentricity keeps the convergence runs asymptotic


@dataclass
class Case:
    """A problem, a batch of initial states, a final time and its exact state."""

    name: str
    problem: Any
    x0: Tensor
    t_end: float
    exact: Callable[[], Tensor]


def kepler_case(dtype: torch.dtype = torch.float64) -> Case:
    x0 = Kepler.pericentre(ECC, dtype).expand(2, 4).clone()
    return Case(
        "kepler",
        Kepler(),
        x0,
        1.0,
        lambda: Kepler.exact(ECC, 1.0).to(dtype).expand(2, 4),
    )


def scalar_case(dtype: torch.dtype = torch.float64) -> Case:
    p = TimeDependentScalar()
    x0 = torch.tensor([[1.0, -0.5], [2.0, 0.25]], dtype=dtype)
    return Case("cos(t) x", p, x0, 1.5, lambda: p.exact(x0, 1.5))


def group_flow_case(group_name: str, dtype: torch.dtype = torch.float64) -> Case:
    G = lie_groups()[group_name]
    gen = torch.Generator().manual_seed(1)
    a = 0.6 * torch.randn(G.dim, generator=gen, dtype=torch.float64)
    b = 0.6 * torch.randn(G.dim, generator=gen, dtype=torch.float64)
    p = GroupFlow(G, a, b)
    g0 = G.exp(0.4 * torch.randn(2, G.dim, generator=gen, dtype=torch.float64))
    x0 = p.join_state(g0, torch.tensor([[1.0, -2.0], [0.5, 0.3]])).to(dtype)
    return Case(f"group-flow {group_name}", p, x0, 1.0, lambda: p.exact(x0, 1.0))


def rigid_body_case(dtype: torch.dtype = torch.float64) -> Case:
    p = FreeRigidBody(inertia=(1.0, 1.0, 2.5))
    x0 = p.sample(3, seed=2).to(dtype)
    return Case("axisymmetric rigid body", p, x0, 2.0, lambda: p.exact(x0, 2.0))


def heavy_top_case(dtype: torch.dtype = torch.float64) -> Case:
    p = HeavyTopProblem()
    x0 = p.sample(3, seed=4).to(dtype)
    return Case(
        "heavy top (adaptive reference)", p, x0, 1.0, lambda: p.reference(x0, 1.0)
    )


def map_case(dtype: torch.dtype = torch.float64) -> Case:
    p = Rotation2(0.3)
    x0 = torch.tensor([[1.0, 0.0], [0.3, -2.0]], dtype=dtype)
    return Case("rotation map", p, x0, 1.0, lambda: p.exact(x0, 10))


def cases_for(method: integrators.Integrator, dtype=torch.float64) -> list[Case]:
    """Reference problems for the capability ``method`` requires.

    Raises:
        KeyError: if no case covers the capability (so no method is skipped).
    """
    req = method.requires
    table = {
        integrators.ODE: lambda: [kepler_case(dtype), scalar_case(dtype)],
        integrators.SEPARABLE_HAMILTONIAN: lambda: [kepler_case(dtype)],
        integrators.LIE: lambda: (
            [group_flow_case(n, dtype) for n in lie_groups()] + [rigid_body_case(dtype)]
        ),
        integrators.FREE_RIGID_BODY: lambda: [rigid_body_case(dtype)],
        integrators.HEAVY_TOP: lambda: [heavy_top_case(dtype)],
        integrators.DISCRETE_MAP: lambda: [map_case(dtype)],
    }
    return table[req]()


def step_counts(order: float, kind: str = "classical") -> list[int]:
    """Step counts over ``[0, t_end]`` giving asymptotic, above-round-off errors.

    Lie problems are smooth and their groups' ``exp`` is costly: fewer steps.
    """
    if kind == "lie":
        base = {1: 40, 2: 20, 3: 10, 4: 8}[int(order)]
    else:
        base = {1: 200, 2: 50, 3: 25, 4: 20, 5: 20, 6: 10}[int(order)]
    return [base, 2 * base, 4 * base]


def run(method: integrators.Integrator, case: Case, n: int) -> Tensor:
    """Final state after ``n`` equal steps over ``[0, t_end]``.

    Adaptive methods are checked through their fixed-step formula.
    """
    dt = case.t_end / n
    fixed = getattr(method, "fixed_step", None)
    if fixed is None:
        return integrators.integrate(case.problem, case.x0, dt, n, method)[1][-1]
    x = case.x0
    for k in range(n):
        x = fixed(case.problem, k * dt, x, dt)
    return x


def observed_order(errors: list[float], counts: list[int]) -> float:
    """Least-squares slope of ``log(error)`` against ``log(1/n)``."""
    xs = [math.log(1.0 / n) for n in counts]
    ys = [math.log(e) for e in errors]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return num / sum((x - mx) ** 2 for x in xs)
