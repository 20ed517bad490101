"""Explicit Lie-Poisson splitting for the heavy top.

State ``(R, m)``: attitude ``R`` in SO(3) (body to space) and body angular
momentum ``m``; principal moments ``I = inertia``, ``omega = m / I``. With
gravity along ``-e3`` in space, the vertical seen from the body
``Gamma = R^T e3`` (third row of ``R``) and the centre of mass on the body
axis ``chi = e3`` at distance ``l``, the Hamiltonian splits as

    H = T1 + T2 + T3 + V,   Ti = m_i^2 / (2 I_i),   V = mgl Gamma . chi

(Marsden & Ratiu, *Introduction to Mechanics and Symmetry*, 2nd ed. 1999,
sec. 15.10). Each piece has an exact flow:

- ``V(s)``: ``R`` fixed, ``m <- m + s mgl Gamma x chi``;
- ``Ti(s)``: free rotation about body axis ``i``; ``m_i`` is constant, so with
  ``theta = s m_i / I_i``: ``R <- R Rot_i(theta)``, ``m <- Rot_i(-theta) m``,
  where ``Rot_i(theta) = exp(theta hat(e_i))``.

One step of length ``h`` is the symmetric (Strang) composition

    V(h/2) T1(h/2) T2(h/2) T3(h) T2(h/2) T1(h/2) V(h/2),

explicit, of order 2 and time-reversible (McLachlan, "Explicit Lie-Poisson
integration and the Euler equations", Phys. Rev. Lett. 71:3043, 1993;
Touma & Wisdom, "Lie-Poisson integrators for rigid body dynamics in the solar
system", Astron. J. 107:1189, 1994; Dullweber, Leimkuhler & McLachlan,
"Symplectic splitting methods for rigid body molecular dynamics", J. Chem.
Phys. 107:5840, 1997). Every sub-step is the exact flow of a Hamiltonian on the
same Poisson manifold, so the step is a Poisson map: it keeps the Casimirs
``|Gamma|^2 = 1`` and ``Gamma . m = e3 . R m`` (the vertical angular momentum)
to round-off, keeps ``R`` on SO(3) (a product of rotations), and its energy
error stays bounded, ``O(h^2)``, without secular drift (backward error
analysis: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, 2nd ed.
2006, sec. IX.8 and VII.5).

Contract (docs/internals.md, heavy top): ``split_state`` returns ``(R, m)``,
``inertia`` the principal moments ``(3,)``, ``mgl >= 0``, ``chi = e3`` and
gravity along ``-e3`` in space; ``lie_field`` is not called.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from integrators._base import HEAVY_TOP, Integrator, Stepper
from integrators.lie import GroupStatePacking

__all__ = ["HeavyTopSplitting"]

#: The other two axes ``(j, k)`` of each body axis ``i``, in cyclic order.
_PLANES = ((1, 2), (2, 0), (0, 1))


def rotate_about_axis(
    R: Tensor, m: Tensor, axis: int, theta: Tensor
) -> tuple[Tensor, Tensor]:
    """``(R Rot_i(theta), Rot_i(-theta) m)`` with ``Rot_i = exp(theta hat(e_i))``.

    ``Rot_i(theta)`` maps ``e_j -> c e_j + s e_k`` and ``e_k -> -s e_j + c e_k``
    for ``(i, j, k)`` cyclic, ``c, s = cos, sin(theta)``. Written elementwise
    (no 3x3 products) so that a compiled step fuses it.

    Args:
        R: ``(*b, 3, 3)`` attitudes.
        m: ``(*b, 3)`` body angular momenta.
        axis: ``0, 1`` or ``2``.
        theta: ``(*b,)`` angles.
    """
    j, k = _PLANES[axis]
    c, s = torch.cos(theta), torch.sin(theta)
    cols = list(R.unbind(-1))
    cols[j], cols[k] = (
        c[..., None] * cols[j] + s[..., None] * cols[k],
        c[..., None] * cols[k] - s[..., None] * cols[j],
    )
    comps = list(m.unbind(-1))
    comps[j], comps[k] = c * comps[j] + s * comps[k], c * comps[k] - s * comps[j]
    return torch.stack(cols, -1), torch.stack(comps, -1)


def _check_problem(problem: Any) -> tuple[list[float], float]:
    """Principal moments and ``mgl`` as Python floats, validated.

    Raises:
        ValueError: ``inertia`` is not 3 positive finite numbers, or ``mgl``
            is not finite and ``>= 0``.
    """
    try:
        inertia = torch.as_tensor(problem.inertia, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        inertia = torch.full((0,), math.nan)
    if inertia.numel() != 3 or not bool(
        (torch.isfinite(inertia) & (inertia > 0)).all()
    ):
        raise ValueError(
            "heavy-top-splitting needs inertia of 3 positive finite moments, "
            f"got {problem.inertia!r}"
        )
    try:
        mgl = float(problem.mgl)
    except (TypeError, ValueError, RuntimeError):
        mgl = math.nan
    if not (math.isfinite(mgl) and mgl >= 0):
        raise ValueError(
            f"heavy-top-splitting needs a finite mgl >= 0, got {problem.mgl!r}"
        )
    return inertia.tolist(), mgl


class _HeavyTopStepper(GroupStatePacking, Stepper):
    """Sub-step coefficients fixed once: ``h/2 / I_i``, ``h / I_3``, ``h/2 mgl``."""

    compilable = True

    def __init__(self, problem: Any, dt: float) -> None:
        self.problem = problem
        inertia, mgl = _check_problem(problem)
        half = 0.5 * dt
        self.kick = half * mgl
        self.turn = (half / inertia[0], half / inertia[1], dt / inertia[2])

    def _gravity(self, R: Tensor, m: Tensor) -> Tensor:
        """``m + (h/2) mgl Gamma x e3`` with ``Gamma x e3 = (G2, -G1, 0)``."""
        g1, g2, _ = R[..., 2, :].unbind(-1)
        m1, m2, m3 = m.unbind(-1)
        return torch.stack((m1 + self.kick * g2, m2 - self.kick * g1, m3), -1)

    def _free(self, R: Tensor, m: Tensor, axis: int) -> tuple[Tensor, Tensor]:
        """Exact flow of ``T_axis`` over its sub-step."""
        return rotate_about_axis(R, m, axis, self.turn[axis] * m[..., axis])

    def advance(self, t: float, z: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        R, m = z
        m = self._gravity(R, m)
        R, m = self._free(R, m, 0)
        R, m = self._free(R, m, 1)
        R, m = self._free(R, m, 2)
        R, m = self._free(R, m, 1)
        R, m = self._free(R, m, 0)
        return R, self._gravity(R, m)


class HeavyTopSplitting(Integrator):
    """Explicit symmetric Lie-Poisson splitting for the heavy top (order 2)."""

    kind = "lie"
    requires = HEAVY_TOP

    def __init__(self, name: str = "heavy-top-splitting") -> None:
        self.name, self.order = name, 2

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper on packed ``(R, m)``.

        Raises:
            ValueError: bad ``inertia`` or ``mgl`` on the problem.
        """
        return _HeavyTopStepper(problem, dt)
