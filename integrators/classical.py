"""Explicit Runge-Kutta methods for ``x' = f(t, x)``: Euler, midpoint, RK4.

A method is its Butcher tableau ``(A, b, c)``; the tableau checks its own
order conditions when built (rooted-tree conditions up to order 5, Hairer,
Norsett & Wanner, *Solving ODEs I*, 2nd ed. 1993, sec. II.2, Table 2.2).
Coefficients: forward Euler (Euler 1768); explicit midpoint (Runge 1895);
the classical fourth-order method (Kutta 1901), HNW I Table 1.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor

from integrators._base import ODE, Integrator, Stepper

__all__ = [
    "ButcherTableau",
    "ExplicitRungeKutta",
    "EULER",
    "MIDPOINT",
    "RK4",
    "combine",
    "scaled_tableau",
]

_F = Fraction


def _dot(u: list, v: list) -> Fraction | float:
    return sum(ui * vi for ui, vi in zip(u, v, strict=True))


def _times(u: list, v: list) -> list:
    return [ui * vi for ui, vi in zip(u, v, strict=True)]


def _order_residuals(A: list[list[float]], b: list[float], c: list[float]) -> list:
    """Residuals of the rooted-tree order conditions, grouped by order 1..5.

    HNW I, sec. II.2, Table 2.2 (one condition per rooted tree, written with
    vector products taken elementwise): order 1, ``b.1 = 1``; order 2,
    ``b.c = 1/2``; order 3, ``b.c^2 = 1/3``, ``b.Ac = 1/6``; order 4,
    ``b.c^3 = 1/4``, ``b.(c Ac) = 1/8``, ``b.Ac^2 = 1/12``, ``b.AAc = 1/24``;
    order 5, ``b.c^4 = 1/5``, ``b.(c^2 Ac) = 1/10``, ``b.(c Ac^2) = 1/15``,
    ``b.(c AAc) = 1/30``, ``b.(Ac)^2 = 1/20``, ``b.Ac^3 = 1/20``,
    ``b.A(c Ac) = 1/40``, ``b.AAc^2 = 1/60``, ``b.AAAc = 1/120``.
    """

    def mat(v: list) -> list:
        return [_dot(row, v) for row in A]

    c2, c3 = _times(c, c), _times(_times(c, c), c)
    Ac, Ac2, Ac3 = mat(c), mat(c2), mat(c3)
    AAc, AAc2 = mat(Ac), mat(Ac2)
    cAc = _times(c, Ac)
    trees = [
        [([1] * len(b), 1)],
        [(c, _F(1, 2))],
        [(c2, _F(1, 3)), (Ac, _F(1, 6))],
        [(c3, _F(1, 4)), (cAc, _F(1, 8)), (Ac2, _F(1, 12)), (AAc, _F(1, 24))],
        [
            (_times(c3, c), _F(1, 5)),
            (_times(c, cAc), _F(1, 10)),
            (_times(c, Ac2), _F(1, 15)),
            (_times(c, AAc), _F(1, 30)),
            (_times(Ac, Ac), _F(1, 20)),
            (Ac3, _F(1, 20)),
            (mat(cAc), _F(1, 40)),
            (AAc2, _F(1, 60)),
            (mat(AAc), _F(1, 120)),
        ],
    ]
    return [[_dot(b, v) - rhs for v, rhs in group] for group in trees]


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta tableau, validated when built.

    Attributes:
        A: strictly lower-triangular stage matrix, rows of length ``s``.
        b: weights, length ``s``.
        c: nodes, length ``s``.
        order: the claimed order (checked up to 5 by rooted-tree conditions).

    Raises:
        ValueError: if ``A`` is not strictly lower triangular, a row of ``A``
            does not sum to its node, or an order condition up to the claimed
            order (at most 5) fails.
    """

    A: tuple[tuple[Fraction | float, ...], ...]
    b: tuple[Fraction | float, ...]
    c: tuple[Fraction | float, ...]
    order: int

    def __post_init__(self) -> None:
        s = len(self.b)
        if len(self.c) != s or len(self.A) != s or any(len(r) != s for r in self.A):
            raise ValueError(f"tableau shapes disagree: s={s}")
        for i, row in enumerate(self.A):
            if any(row[j] != 0 for j in range(i, s)):
                raise ValueError(f"A is not strictly lower triangular in row {i}")
            if abs(sum(row) - self.c[i]) > 1e-14:
                raise ValueError(
                    f"row {i} of A sums to {sum(row)}, node is {self.c[i]}"
                )
        groups = _order_residuals([list(r) for r in self.A], list(self.b), list(self.c))
        for p, residuals in enumerate(groups[: min(self.order, 5)], start=1):
            if any(abs(r) > 1e-14 for r in residuals):
                raise ValueError(f"tableau fails the order-{p} conditions {residuals}")


EULER = ButcherTableau(A=((0,),), b=(1,), c=(0,), order=1)
MIDPOINT = ButcherTableau(A=((0, 0), (_F(1, 2), 0)), b=(0, 1), c=(0, _F(1, 2)), order=2)
RK4 = ButcherTableau(
    A=(
        (0, 0, 0, 0),
        (_F(1, 2), 0, 0, 0),
        (0, _F(1, 2), 0, 0),
        (0, 0, 1, 0),
    ),
    b=(_F(1, 6), _F(1, 3), _F(1, 3), _F(1, 6)),
    c=(0, _F(1, 2), _F(1, 2), 1),
    order=4,
)


Terms = list[tuple[int, float]]


def scaled_tableau(
    tableau: ButcherTableau, dt: float
) -> tuple[list[Terms], Terms, list]:
    """Rows of ``dt A``, weights ``dt b`` and nodes ``dt c``, zero entries dropped."""
    rows = [[(j, float(a) * dt) for j, a in enumerate(r) if a != 0] for r in tableau.A]
    weights = [(j, float(w) * dt) for j, w in enumerate(tableau.b) if w != 0]
    return rows, weights, [float(ci) * dt for ci in tableau.c]


def combine(base: Tensor, terms: Terms, ks: list[Tensor]) -> Tensor:
    """``base + sum_j a_j ks[j]`` for ``(j, a_j)`` in ``terms``, one ``add`` each."""
    for j, a in terms:
        base = torch.add(base, ks[j], alpha=a)
    return base


class _RKStepper(Stepper):
    """Explicit RK step with coefficients pre-multiplied by ``dt``.

    Zero entries of the tableau are skipped, so RK4 costs four field
    evaluations and seven fused ``add`` operations per step.
    """

    compilable = True

    def __init__(self, tableau: ButcherTableau, field: Any, dt: float) -> None:
        self.field = field
        self.rows, self.weights, self.nodes = scaled_tableau(tableau, dt)

    def advance(self, t: float, x: Tensor) -> Tensor:
        ks: list[Tensor] = []
        for row, ch in zip(self.rows, self.nodes, strict=True):
            ks.append(self.field(t + ch, combine(x, row, ks)))
        return combine(x, self.weights, ks)


class ExplicitRungeKutta(Integrator):
    """An explicit Runge-Kutta method on ``x' = vector_field(t, x)``.

    Args:
        name: registry name.
        tableau: the validated Butcher tableau.
    """

    kind = "classical"
    requires = ODE

    def __init__(self, name: str, tableau: ButcherTableau) -> None:
        self.name = name
        self.tableau = tableau
        self.order = tableau.order

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper calling ``problem.vector_field`` ``s`` times per step."""
        return _RKStepper(self.tableau, problem.vector_field, dt)
