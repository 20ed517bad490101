"""Implicit midpoint rule ``x1 = x0 + h f(t + h/2, (x0 + x1)/2)``.

The implicit midpoint rule is symmetric, of order 2, symplectic for every
Hamiltonian system and conserves every quadratic first integral exactly
(Hairer, Lubich & Wanner, *Geometric Numerical Integration*, 2nd ed. 2006,
Theorems IV.2.1 and VI.4.2). It is solved for the midpoint ``z = (x0+x1)/2``
by fixed-point iteration ``z <- x0 + h/2 f(t + h/2, z)`` (a contraction when
``h L / 2 < 1``, ``L`` the Lipschitz constant of ``f``) until the update is
at round-off level.

Gradients: the iterations are recorded by autograd, so gradients are those
of the unrolled iteration; they converge to the implicit-function-theorem
gradient at the same linear rate as the iterates converge to the solution,
hence they are accurate to about the same relative level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from integrators._base import ODE, IntegrationError, Integrator, Stepper

__all__ = ["ImplicitMidpoint", "solve_fixed_point"]

# Limitation: plain fixed-point iteration; it diverges for stiff problems
# (h L >= 2). The failure is reported as IntegrationError, not hidden.
_MAX_ITER = 100


def solve_fixed_point(
    update: Callable[[Tensor], Tensor], z: Tensor, t: float
) -> Tensor:
    """Iterate ``z <- update(z)`` to round-off.

    Stops when the largest change is within ``4 eps`` of the state's scale,
    or when it stops decreasing while already within ``1e3 eps``.

    Args:
        update: the contraction.
        z: initial guess, shape ``(*b, d)``.
        t: the time of the step, reported on failure.

    Returns:
        The fixed point, shape of ``z``.

    Raises:
        IntegrationError: on a non-finite iterate or no convergence after
            100 iterations.
    """
    eps = torch.finfo(z.dtype).eps
    previous = float("inf")
    for _ in range(_MAX_ITER):
        z_new = update(z)
        change = (z_new - z).abs().max().item() if z.numel() else 0.0
        scale = max(1.0, z_new.abs().max().item() if z.numel() else 0.0)
        z = z_new
        if not math.isfinite(change):
            raise IntegrationError("implicit solve produced a non-finite iterate", t)
        if change <= 4 * eps * scale:
            return z
        if change >= previous and change <= 1e3 * eps * scale:
            return z
        previous = change
    raise IntegrationError(
        f"implicit solve did not converge in {_MAX_ITER} fixed-point iterations "
        f"(last change {previous:.3g}); reduce dt",
        t,
    )


class _MidpointStepper(Stepper):
    def __init__(self, field: Callable, dt: float) -> None:
        self.field, self.dt = field, dt

    def advance(self, t: float, x: Tensor) -> Tensor:
        tm, half = t + self.dt / 2, self.dt / 2
        guess = torch.add(x, self.field(t, x), alpha=half)
        z = solve_fixed_point(
            lambda z: torch.add(x, self.field(tm, z), alpha=half), guess, t
        )
        return 2 * z - x


class ImplicitMidpoint(Integrator):
    """The implicit midpoint rule for any ODE problem (order 2, symplectic)."""

    kind = "symplectic"
    requires = ODE

    def __init__(self, name: str = "implicit-midpoint") -> None:
        self.name, self.order = name, 2

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper solving each step by fixed-point iteration."""
        return _MidpointStepper(problem.vector_field, dt)
