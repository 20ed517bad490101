"""A heavy top written here, not in dynsys, for the heavy-top capability.

``R' = R hat(omega)``, ``m' = m x omega + mgl Gamma x chi`` with
``omega = m / I``, ``Gamma = R^T e3`` (third row of ``R``) and ``chi = e3``
(Marsden & Ratiu, *Introduction to Mechanics and Symmetry*, 2nd ed. 1999,
sec. 15.10). Energy ``m . omega / 2 + mgl Gamma . chi``; Casimirs
``|Gamma|^2`` and ``Gamma . m`` (the vertical angular momentum ``e3 . R m``).
There is no closed-form solution: ``reference`` integrates the ambient ODE
with the adaptive Dormand-Prince solver at tight tolerances.
"""

from __future__ import annotations

import torch
from integrator_problems import LocalSO3
from torch import Tensor

import integrators


class HeavyTopProblem:
    """Heavy top on the test's own SO(3), state ``[R row-major (9), m (3)]``."""

    is_heavy_top = True

    def __init__(self, inertia=(1.0, 1.2, 0.6), mgl: float = 2.0, group=None) -> None:
        self.inertia = torch.tensor(inertia, dtype=torch.float64)
        self.mgl = mgl
        self.group = group if group is not None else LocalSO3()

    def split_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[..., :9].reshape(*x.shape[:-1], 3, 3), x[..., 9:]

    def join_state(self, g: Tensor, y: Tensor) -> Tensor:
        return torch.cat((g.flatten(-2), y), -1)

    def _torque(self, R: Tensor) -> Tensor:
        gamma = R[..., 2, :]
        chi = torch.zeros_like(gamma)
        chi[..., 2] = 1.0
        return self.mgl * torch.linalg.cross(gamma, chi)

    def lie_field(self, t: float, g: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        omega = m / self.inertia.to(m.dtype)
        return omega, torch.linalg.cross(m, omega) + self._torque(g)

    def vector_field(self, t: float, x: Tensor) -> Tensor:
        R, m = self.split_state(x)
        omega, mdot = self.lie_field(t, R, m)
        return self.join_state(R @ self.group.hat(omega), mdot)

    def energy(self, x: Tensor) -> Tensor:
        R, m = self.split_state(x)
        kinetic = 0.5 * (m * m / self.inertia.to(m.dtype)).sum(-1)
        return kinetic + self.mgl * R[..., 2, 2]

    def vertical_momentum(self, x: Tensor) -> Tensor:
        R, m = self.split_state(x)
        return (R[..., 2, :] * m).sum(-1)

    def gamma_norm(self, x: Tensor) -> Tensor:
        return self.split_state(x)[0][..., 2, :].norm(dim=-1)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Random attitudes; ``m`` standard normal plus a spin of 2 about e3."""
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        m = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        m[:, 2] += 2.0
        return self.join_state(self.group.exp(w), m)

    def reference(self, x0: Tensor, t: float) -> Tensor:
        """State at ``t`` by ``solve_adaptive`` (rtol 1e-13, atol 1e-14), float64."""
        x = x0.to(torch.float64)
        _, xs = integrators.solve_adaptive(
            self, x, (0.0, t), rtol=1e-13, atol=1e-14, t_eval=[t]
        )
        return xs[-1].to(x0.dtype)
