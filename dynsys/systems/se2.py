"""Planar rigid motion on SE(2): a unicycle with constant or steered twist.

The pose ``g = [[R, p], [0, 1]]`` moves by ``g' = g hat(xi)`` with body twist
``xi = (v1, v2, omega)`` (translation first, DESIGN.md), i.e. ``p' = R v``,
``theta' = omega`` (Lynch and Park, "Modern Robotics", 2017, sec. 3.3 and
13.3; Murray, Li, Sastry, "A Mathematical Introduction to Robotic
Manipulation", 1994, sec. 2.3).

* ``se2-unicycle``: constant twist; the path is a circle of radius
  ``|v|/|omega|`` about ``c = p + R J v / omega`` (``J`` the rotation by +90
  degrees), and the exact flow is ``g0 exp(t xi)``.
* ``se2-twist``: forward speed ``v`` with sinusoidal steering ``omega(t) =
  amplitude sin(frequency t)`` (a slalom).
"""

from __future__ import annotations

from typing import Any

import torch

from dynsys.systems._base import (
    ConstantVelocityFlow,
    LieSystem,
    Tensor,
    group_by_name,
    real_param,
    rigid_motion_constraints,
    vector_param,
)
from dynsys.systems._registry import register_system


class _SE2System(LieSystem):
    """Shared parts: the SE(2) group, random poses, rigid-motion residuals."""

    dt = 0.05

    def _make_group(self) -> Any:
        return group_by_name(self.name, "se2")

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        g, _ = self.split_state(x)
        return rigid_motion_constraints(g)


@register_system("se2-unicycle")
class SE2Unicycle(_SE2System, ConstantVelocityFlow):
    """Unicycle with constant body twist ``(v1, v2, omega)``: circular motion.

    State: the pose ``g`` (3x3) row-major, 9 entries. Invariants: the circle's
    centre ``c = p + R J v / omega`` (``centre_x``, ``centre_y``) and radius
    ``|p - c|``. Constraints: ``orthogonality``, ``det``, ``bottom_row``.
    Exact flow ``g0 exp(t xi)``.

    Args:
        twist: ``(v1, v2, omega)`` with ``omega != 0``.
    """

    name = "se2-unicycle"

    def __init__(self, twist: tuple[float, float, float] = (1.0, 0.0, 0.5)) -> None:
        super().__init__()
        self.body_velocity = vector_param(self.name, "twist", twist, 3)
        real_param(self.name, "twist[2] (omega)", self.body_velocity[2], nonzero=True)
        self._params = {"twist": self.body_velocity}

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        g, _ = self.split_state(x)
        v1, v2, omega = self.body_velocity
        jv = torch.tensor([-v2, v1], dtype=x.dtype, device=x.device)
        p = g[..., :2, 2]
        offset = (g[..., :2, :2] @ jv) / omega
        centre = p + offset
        return {
            "centre_x": centre[..., 0],
            "centre_y": centre[..., 1],
            "radius": torch.linalg.vector_norm(offset, dim=-1),
        }


@register_system("se2-twist")
class SE2Twist(_SE2System):
    """Unicycle with sinusoidal steering: ``xi(t) = (v, 0, a sin(f t))``.

    State: the pose ``g`` (3x3) row-major, 9 entries. The twist depends on
    time, so there is no conserved quantity (``invariants`` is empty) and no
    closed-form flow. Constraints: ``orthogonality``, ``det``, ``bottom_row``.

    Args:
        speed: forward speed ``v``, finite.
        amplitude: steering amplitude ``a`` (rad/s), finite.
        frequency: steering frequency ``f`` (rad/s), > 0.
    """

    name = "se2-twist"

    def __init__(
        self, speed: float = 1.0, amplitude: float = 1.0, frequency: float = 1.0
    ) -> None:
        super().__init__()
        self.speed = real_param(self.name, "speed", speed)
        self.amplitude = real_param(self.name, "amplitude", amplitude)
        self.frequency = real_param(
            self.name, "frequency", frequency, lo=0.0, lo_open=True
        )
        self._params = {
            "speed": self.speed,
            "amplitude": self.amplitude,
            "frequency": self.frequency,
        }

    def twist_at(self, t: float | Tensor, like: Tensor) -> Tensor:
        """Body twist ``(3,)`` at time ``t``."""
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        omega = self.amplitude * torch.sin(self.frequency * t)
        return torch.stack(
            [torch.full_like(omega, self.speed), torch.zeros_like(omega), omega]
        )

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        return self.twist_at(t, g).expand(*g.shape[:-2], 3), y

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        return {}
