"""Explicit symplectic splitting methods for separable ``H(q, p) = T(p) + V(q)``.

A method is a sequence of *kicks* ``p <- p - a h dH_dq(q)`` and *drifts*
``q <- q + b h dH_dp(p)``, each the exact flow of one part of ``H`` and hence
symplectic; so is their composition (Hairer, Lubich & Wanner, *Geometric
Numerical Integration*, 2nd ed. 2006, sec. II.5 and VI.3).

- ``symplectic-euler``: kick then drift, ``p1 = p0 - h V'(q0)``,
  ``q1 = q0 + h T'(p1)`` (HLW Theorem VI.3.3, the variant with ``p`` first);
- ``symplectic-euler-qp``: drift then kick, ``q1 = q0 + h T'(p0)``,
  ``p1 = p0 - h V'(q1)`` (its adjoint);
- ``verlet``: Stormer-Verlet in kick-drift-kick form (velocity Verlet), so
  ``q`` and ``p`` are at the same time level after every step (HLW I.1.4);
- ``yoshida4``: the symmetric "triple jump" composition of Verlet,
  ``gamma = (w1, w0, w1)``, ``w1 = 1/(2 - 2^(1/3))``, ``w0 = 1 - 2 w1``
  (Yoshida, Phys. Lett. A 150:262, 1990, eq. 5.19);
- ``yoshida6``: Yoshida's 6th-order "solution A" with seven Verlet stages
  (same paper, Table 1).

Compositions check their order conditions when built: for a symmetric
composition of a symmetric second-order method, order 4 needs
``sum g = 1, sum g^3 = 0`` and order 6 additionally ``sum g^5 = 0`` and
``sum_k g_k^3 (g_1 + ... + g_{k-1} + g_k / 2)^2 = 0`` (HLW sec. V.3.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from integrators._base import SEPARABLE_HAMILTONIAN, Integrator, Stepper

__all__ = ["CompositionScheme", "Splitting", "YOSHIDA4", "YOSHIDA6"]

_TOL = 1e-12


def _condition_residuals(g: Sequence[float]) -> list[float]:
    """Order-4 and order-6 residuals of a symmetric composition (HLW V.3.2)."""
    partial = [sum(g[:k]) + g[k] / 2 for k in range(len(g))]
    return [
        sum(g) - 1.0,
        sum(x**3 for x in g),
        sum(x**5 for x in g),
        sum(x**3 * s**2 for x, s in zip(g, partial, strict=True)),
    ]


@dataclass(frozen=True)
class CompositionScheme:
    """Symmetric composition coefficients of Verlet, checked when built.

    Attributes:
        gammas: step fractions ``g_1..g_s`` (symmetric: ``g_k = g_{s+1-k}``).
        order: claimed order, 2, 4 or 6.

    Raises:
        ValueError: if the scheme is not symmetric or an order condition for
            the claimed order fails by more than ``1e-12``.
    """

    gammas: tuple[float, ...]
    order: int

    def __post_init__(self) -> None:
        g = self.gammas
        if any(abs(a - b) > _TOL for a, b in zip(g, g[::-1], strict=True)):
            raise ValueError(f"composition {g} is not symmetric")
        needed = {2: 1, 4: 2, 6: 4}.get(self.order)
        if needed is None:
            raise ValueError(f"order must be 2, 4 or 6, got {self.order}")
        res = _condition_residuals(g)[:needed]
        if any(abs(r) > _TOL for r in res):
            raise ValueError(
                f"composition fails its order-{self.order} conditions {res}"
            )

    def kick_drift(self) -> list[tuple[str, float]]:
        """The scheme as merged kick/drift fractions of ``h``."""
        ops: list[tuple[str, float]] = []
        for g in self.gammas:
            for op in (("kick", g / 2), ("drift", g), ("kick", g / 2)):
                if ops and ops[-1][0] == op[0] == "kick":
                    ops[-1] = ("kick", ops[-1][1] + op[1])
                else:
                    ops.append(op)
        return ops


_C = 2.0 ** (1.0 / 3.0)
YOSHIDA4 = CompositionScheme(
    gammas=(1 / (2 - _C), -_C / (2 - _C), 1 / (2 - _C)), order=4
)
# Yoshida (1990), Table 1, solution A: w1, w2, w3; w0 = 1 - 2 (w1 + w2 + w3).
_W1, _W2, _W3 = -1.17767998417887, 0.235573213359357, 0.784513610477560
_W0 = 1.0 - 2.0 * (_W1 + _W2 + _W3)
YOSHIDA6 = CompositionScheme(gammas=(_W3, _W2, _W1, _W0, _W1, _W2, _W3), order=6)


class _SplittingStepper(Stepper):
    """Kick/drift sequence on packed ``(q, p, force)``.

    ``force`` is ``dH_dq(q)`` when already known (after a final kick), so the
    first kick of the next step reuses it: Verlet costs one force per step.
    """

    compilable = True

    def __init__(self, ops: list[tuple[str, float]], problem: Any, dt: float):
        self.n = int(problem.n_dof)
        self.dH_dq, self.dH_dp = problem.dH_dq, problem.dH_dp
        self.ops = [(kind, c * dt) for kind, c in ops if c != 0.0]

    def pack(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        if x.shape[-1] != 2 * self.n:
            raise ValueError(
                f"state has {x.shape[-1]} components, expected 2 * n_dof = {2 * self.n}"
            )
        return x[..., : self.n], x[..., self.n :], None

    def unpack(self, z: tuple) -> Tensor:
        return torch.cat((z[0], z[1]), dim=-1)

    def advance(self, t: float, z: tuple) -> tuple[Tensor, Tensor, Tensor | None]:
        q, p, force = z
        for kind, c in self.ops:
            if kind == "kick":
                if force is None:
                    force = self.dH_dq(q)
                p = torch.add(p, force, alpha=-c)
            else:
                q = torch.add(q, self.dH_dp(p), alpha=c)
                force = None
        return q, p, force


class Splitting(Integrator):
    """A kick/drift splitting method on a separable Hamiltonian.

    Args:
        name: registry name.
        ops: sequence of ``("kick" | "drift", fraction of h)``.
        order: the method's order.
    """

    kind = "symplectic"
    requires = SEPARABLE_HAMILTONIAN

    def __init__(self, name: str, ops: list[tuple[str, float]], order: int) -> None:
        for kind, c in ops:
            if kind not in ("kick", "drift") or not math.isfinite(c):
                raise ValueError(f"bad splitting stage ({kind!r}, {c})")
        for kind in ("kick", "drift"):
            total = sum(c for k, c in ops if k == kind)
            if abs(total - 1.0) > _TOL:
                raise ValueError(f"{kind} fractions sum to {total}, not 1")
        self.name, self.ops, self.order = name, list(ops), order

    @classmethod
    def from_composition(cls, name: str, scheme: CompositionScheme) -> Splitting:
        """Splitting from a symmetric composition of kick-drift-kick Verlet."""
        return cls(name, scheme.kick_drift(), scheme.order)

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper with force reuse between steps."""
        return _SplittingStepper(self.ops, problem, dt)
