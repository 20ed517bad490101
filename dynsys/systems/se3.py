"""A free rigid body translating and rotating in space, on SE(3).

Pose ``g = [[R, t], [0, 1]]`` (body to space), body twist ``xi = (v, omega)``
(translation first, DESIGN.md), body momenta ``m = I omega`` (angular, about
the centre of mass at the body origin) and ``p = mass v`` (linear). The
Euler-Poincare equations of the left-invariant kinetic energy on SE(3) are
``m' = m x omega + p x v`` and ``p' = p x omega`` (Holm, "Geometric Mechanics
II", 2008, sec. 7.3; Marsden and Ratiu, "Introduction to Mechanics and
Symmetry", 2nd ed., 1999, sec. 13.5); with the centre of mass at the origin
``p x v = 0``. In space the centre of mass moves uniformly and ``R`` follows the
Euler-Poinsot motion.
"""

from __future__ import annotations

from typing import Any

import torch

from dynsys.systems._base import (
    LieSystem,
    StatePart,
    Tensor,
    group_by_name,
    inertia_param,
    real_param,
    rigid_motion_constraints,
)
from dynsys.systems._registry import register_system


def _xyz(prefix: str, v: Tensor) -> dict[str, Tensor]:
    return {f"{prefix}_{c}": v[..., i] for i, c in enumerate("xyz")}


@register_system("se3-rigid-body")
class SE3RigidBody(LieSystem):
    """Free rigid body in space: ``g' = g hat(v, omega)``, Euler-Poincare momenta.

    State: the pose ``g`` (4x4) row-major (16), then body angular momentum
    ``m`` (3), then body linear momentum ``p`` (3); ``omega = I^-1 m``,
    ``v = p / mass``. Invariants: ``energy`` ``(m . omega + p . v)/2``, spatial
    linear momentum ``R p`` (``linear_momentum_x/y/z``) and spatial angular
    momentum about the origin ``R m + t x R p`` (``angular_momentum_x/y/z``).
    Constraints: ``orthogonality``, ``det``, ``bottom_row``.

    Args:
        inertia: principal moments, positive, triangle inequality.
        mass: total mass, > 0.
    """

    name = "se3-rigid-body"
    vector_dim = 6
    dt = 0.01

    def __init__(
        self, inertia: tuple[float, float, float] = (1.0, 2.0, 3.0), mass: float = 1.0
    ) -> None:
        super().__init__()
        self._inertia = inertia_param(self.name, inertia)
        self.mass = real_param(self.name, "mass", mass, lo=0.0, lo_open=True)
        self._params = {"inertia": list(self._inertia), "mass": self.mass}

    def _make_group(self) -> Any:
        return group_by_name(self.name, "se3")

    @property
    def state_layout(self) -> list[StatePart]:
        return [
            StatePart("g", 0, 16, self.group),
            StatePart("m", 16, 19, None),
            StatePart("p", 19, 22, None),
        ]

    def _velocities(self, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        m, p = y[..., :3], y[..., 3:]
        inertia = torch.tensor(self._inertia, dtype=y.dtype, device=y.device)
        return m, p, m / inertia, p / self.mass

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        m, p, omega, v = self._velocities(y)
        mdot = torch.linalg.cross(m, omega)
        pdot = torch.linalg.cross(p, omega)
        return torch.cat([v, omega], -1), torch.cat([mdot, pdot], -1)

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        g, y = self.split_state(x)
        m, p, omega, v = self._velocities(y)
        R, trans = g[..., :3, :3], g[..., :3, 3]
        energy = 0.5 * ((m * omega).sum(-1) + (p * v).sum(-1))
        lin = (R @ p[..., None])[..., 0]
        ang = (R @ m[..., None])[..., 0] + torch.linalg.cross(trans, lin)
        return {
            "energy": energy,
            **_xyz("linear_momentum", lin),
            **_xyz("angular_momentum", ang),
        }

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        g, _ = self.split_state(x)
        return rigid_motion_constraints(g)
