"""Lie-group integrators for ``g' = g hat(xi(t, g, y))``, ``y' = ydot(t, g, y)``.

The group part is only ever moved by right-multiplying with ``exp`` of an
algebra element, so the state stays on the group up to the round-off of
``exp`` and ``compose``. The vector part ``y`` takes the classical
Runge-Kutta update with the same tableau. Methods:

- ``lie-euler``: ``g1 = g exp(h xi(t, g, y))`` (order 1);
- ``rkmk4``: Runge-Kutta-Munthe-Kaas with the classical RK4 tableau, applied
  to ``Theta' = dexp_inv(Theta, xi(t, g exp(Theta), y))`` in the algebra
  (Munthe-Kaas, BIT 38:92-111, 1998; Appl. Numer. Math. 29:115-127, 1999).
  The group's exact ``dexp_inv`` (docs/internals.md convention) is used, so
  no truncation of the Bernoulli series limits the order (order 4);
- ``crouch-grossman3``: the three-stage order-3 Crouch-Grossman method,
  products of exponentials of frozen fields (Crouch & Grossman, J. Nonlinear
  Sci. 3:1-33, 1993; coefficients as tabulated by Owren & Marthinsen, BIT
  39:116-142, 1999): ``c = (0, 3/4, 17/24)``, ``a21 = 3/4``,
  ``a31 = 119/216``, ``a32 = 17/108``, ``b = (13/51, -2/3, 24/17)``.

Any group object with ``exp``, ``compose`` and ``dexp_inv`` works.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import torch
from torch import Tensor

from integrators._base import LIE, Integrator, Stepper
from integrators.classical import ButcherTableau, combine, scaled_tableau

__all__ = [
    "RungeKuttaMuntheKaas",
    "CrouchGrossman",
    "CROUCH_GROSSMAN3",
    "GroupStatePacking",
]

_F = Fraction


def _check_cg_condition(tab: ButcherTableau) -> None:
    """The extra order-3 condition of Crouch-Grossman methods.

    ``sum b_i^2 c_i + 2 sum_{i<j} b_i c_i b_j = 1/3`` (Owren & Marthinsen 1999,
    the condition coming from the non-commutativity of frozen flows).
    """
    b, c = tab.b, tab.c
    s = len(b)
    lhs = sum(b[i] ** 2 * c[i] for i in range(s))
    lhs += 2 * sum(b[i] * c[i] * b[j] for i in range(s) for j in range(i + 1, s))
    if lhs != _F(1, 3):
        raise ValueError(f"Crouch-Grossman order-3 condition fails: {lhs} != 1/3")


CROUCH_GROSSMAN3 = ButcherTableau(
    A=((0, 0, 0), (_F(3, 4), 0, 0), (_F(119, 216), _F(17, 108), 0)),
    b=(_F(13, 51), _F(-2, 3), _F(24, 17)),
    c=(0, _F(3, 4), _F(17, 24)),
    order=3,
)
_check_cg_condition(CROUCH_GROSSMAN3)


class GroupStatePacking:
    """Packing for Lie problems: ``(g, y)`` kept apart between steps."""

    problem: Any

    def pack(self, x: Tensor) -> tuple[Tensor, Tensor]:
        g, y = self.problem.split_state(x)
        return g, y

    def unpack(self, z: tuple[Tensor, Tensor]) -> Tensor:
        return self.problem.join_state(*z)


class _LieStepper(GroupStatePacking, Stepper):
    """Tableau coefficients scaled by ``dt``; the group and field looked up once."""

    compilable = True

    def __init__(self, tableau: ButcherTableau, problem: Any, dt: float) -> None:
        self.problem, self.group, self.field = problem, problem.group, problem.lie_field
        self.rows, self.weights, self.nodes = scaled_tableau(tableau, dt)


class _RKMKStepper(_LieStepper):
    def advance(self, t: float, z: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        g, y = z
        G = self.group
        ks: list[Tensor] = []
        ys: list[Tensor] = []
        for row, ch in zip(self.rows, self.nodes, strict=True):
            if not row:
                xi, ydot = self.field(t + ch, g, y)
                ks.append(xi)
                ys.append(ydot)
                continue
            theta = combine(torch.zeros_like(ks[0]), row, ks)
            gi = G.compose(g, G.exp(theta))
            xi, ydot = self.field(t + ch, gi, combine(y, row, ys))
            ks.append(G.dexp_inv(theta, xi))
            ys.append(ydot)
        theta = combine(torch.zeros_like(ks[0]), self.weights, ks)
        return G.compose(g, G.exp(theta)), combine(y, self.weights, ys)


class _CGStepper(_LieStepper):
    def _flow(self, g: Tensor, terms: list[tuple[int, float]], ks: list) -> Tensor:
        for j, a in terms:
            g = self.group.compose(g, self.group.exp(a * ks[j]))
        return g

    def advance(self, t: float, z: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        g, y = z
        ks: list[Tensor] = []
        ys: list[Tensor] = []
        for row, ch in zip(self.rows, self.nodes, strict=True):
            gi = self._flow(g, row, ks)
            xi, ydot = self.field(t + ch, gi, combine(y, row, ys))
            ks.append(xi)
            ys.append(ydot)
        return self._flow(g, self.weights, ks), combine(y, self.weights, ys)


class _TableauLieMethod(Integrator):
    kind = "lie"
    requires = LIE
    _stepper_cls: type[_LieStepper]

    def __init__(self, name: str, tableau: ButcherTableau) -> None:
        self.name, self.tableau, self.order = name, tableau, tableau.order

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper on packed ``(g, y)``."""
        return self._stepper_cls(self.tableau, problem, dt)


class RungeKuttaMuntheKaas(_TableauLieMethod):
    """Runge-Kutta-Munthe-Kaas method from an explicit tableau.

    With the one-stage Euler tableau this is the Lie-Euler method.

    Args:
        name: registry name.
        tableau: an explicit Butcher tableau; the method has its order.
    """

    _stepper_cls = _RKMKStepper


class CrouchGrossman(_TableauLieMethod):
    """Crouch-Grossman method: products of exponentials of frozen fields.

    Args:
        name: registry name.
        tableau: coefficients satisfying the Crouch-Grossman conditions.

    Raises:
        ValueError: if ``tableau.order`` is above 3 (higher-order
            Crouch-Grossman conditions are not checked here) or an order-3
            tableau fails the extra non-commutative condition.
    """

    _stepper_cls = _CGStepper

    def __init__(self, name: str, tableau: ButcherTableau) -> None:
        if tableau.order > 3:
            raise ValueError(
                f"Crouch-Grossman {name!r}: order {tableau.order} claimed, but "
                "only the conditions up to order 3 are checked; use order <= 3"
            )
        if tableau.order == 3:
            _check_cg_condition(tableau)
        super().__init__(name, tableau)
