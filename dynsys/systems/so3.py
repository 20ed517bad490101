"""Rotational dynamics on SO(3): constant rotation, free rigid body, heavy top.

Attitude ``R`` maps body to space coordinates and evolves by ``R' = R
hat(omega)`` with body angular velocity ``omega``. Body angular momentum
``m = I omega`` (principal moments ``I``).

* ``so3-rotation``: constant ``omega``; exact flow ``R0 exp(t hat(omega))``.
* ``rigid-body``: Euler's equations ``m' = m x omega`` (Landau and Lifshitz,
  "Mechanics", 3rd ed., 1976, sec. 36, eq. 36.5; Marsden and Ratiu,
  "Introduction to Mechanics and Symmetry", 2nd ed., 1999, sec. 15.3). The
  exact body angular velocity in Jacobi elliptic functions (Landau and
  Lifshitz, sec. 37, eqs. 37.10-37.12) is :meth:`RigidBody.exact_omega`; the
  exact attitude follows from it (``dynsys/systems/_euler_poinsot.py``).
* ``heavy-top``: a top with a fixed point under gravity, ``m' = m x omega +
  mgl Gamma x chi`` with ``Gamma = R^T e3`` the vertical in the body frame and
  ``chi = e3`` the body direction to the centre of mass (Marsden and Ratiu,
  sec. 15.10; Holm, "Geometric Mechanics II", 2008, sec. 6.3). With
  ``I1 = I2`` it is the Lagrange top and ``m3`` is conserved.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dynsys.systems._base import (
    ConstantVelocityFlow,
    LieSystem,
    Tensor,
    group_by_name,
    inertia_param,
    real_param,
    rotation_constraints,
    vector_param,
)
from dynsys.systems._euler_poinsot import (
    attitude,
    is_steady,
    poinsot_omega,
    poinsot_params,
    steady_attitude,
)
from dynsys.systems._registry import register_system

#: Capability name (integrators/_base.py) of the Lie-Poisson rigid-body methods.
_RIGID_BODY_CAPABILITY = "free rigid body"


def _components(prefix: str, v: Tensor) -> dict[str, Tensor]:
    """``{prefix_x: v[..., 0], prefix_y: ..., prefix_z: ...}``."""
    return {f"{prefix}_{c}": v[..., i] for i, c in enumerate("xyz")}


class _SO3System(LieSystem):
    """Shared parts: the SO(3) group, random attitudes, rotation residuals."""

    matrix_name = "R"
    vector_name = "m"

    def _make_group(self) -> Any:
        return group_by_name(self.name, "so3")

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        R, _ = self.split_state(x)
        return rotation_constraints(R)


@register_system("so3-rotation")
class SO3Rotation(_SO3System, ConstantVelocityFlow):
    """Rotation at a constant body angular velocity: ``R' = R hat(omega)``.

    State: ``R`` row-major (9 entries). Invariant: the spatial angular velocity
    ``R omega`` (``spatial_omega_x/y/z``). Exact flow ``R0 exp(t hat(omega))``.

    Args:
        omega: body angular velocity, 3 real numbers.
    """

    name = "so3-rotation"
    dt = 0.05

    def __init__(self, omega: tuple[float, float, float] = (1.0, 0.5, -0.25)) -> None:
        super().__init__()
        self.body_velocity = vector_param(self.name, "omega", omega, 3)
        self._params = {"omega": self.body_velocity}

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        R, _ = self.split_state(x)
        return _components("spatial_omega", R @ self.xi(x))


class _Rotor(_SO3System):
    """Attitude plus body angular momentum, state ``[R row-major (9), m (3)]``."""

    vector_dim = 3
    dt = 0.01

    def _set_inertia(self, inertia: Any) -> None:
        self._inertia_list = inertia_param(self.name, inertia)
        self._I_cache: dict[tuple[torch.dtype, torch.device], Tensor] = {}

    def _I(self, like: Tensor) -> Tensor:
        """Principal moments in ``like``'s dtype and device (cached: hot path)."""
        key = (like.dtype, like.device)
        if key not in self._I_cache:
            self._I_cache[key] = torch.tensor(
                self._inertia_list, dtype=like.dtype, device=like.device
            )
        return self._I_cache[key]

    def kinetic_energy(self, m: Tensor) -> Tensor:
        """``m . I^-1 m / 2``, shape ``m.shape[:-1]``."""
        return 0.5 * (m * m / self._I(m)).sum(-1)


@register_system("rigid-body")
class RigidBody(_Rotor):
    """Free rigid body (Euler-Poinsot): ``R' = R hat(omega)``, ``m' = m x omega``.

    State: ``R`` row-major (9), then body angular momentum ``m`` (3);
    ``omega = I^-1 m``. Invariants: ``energy`` ``m . omega / 2``,
    ``casimir`` ``|m|^2`` and the spatial angular momentum ``R m``
    (``spatial_momentum_x/y/z``). Constraints: ``orthogonality``
    ``||R^T R - I||_F`` and ``det`` ``|det R - 1|``.

    The default integrator is the first registered method with the "free rigid
    body" (Lie-Poisson) capability, ``rigid-body-midpoint``, else ``rkmk4``.
    :meth:`sample`: uniform random attitudes, ``m`` standard normal. Exact
    flow: elliptic ``m(t)`` and the attitude from it (distinct moments), or
    regular precession (two or three equal moments).

    Args:
        inertia: principal moments ``(I1, I2, I3)``, positive, each at most the
            sum of the other two.
    """

    name = "rigid-body"
    is_free_rigid_body = True

    def __init__(self, inertia: tuple[float, float, float] = (1.0, 2.0, 3.0)) -> None:
        super().__init__()
        self._set_inertia(inertia)
        self._params = {"inertia": list(self._inertia_list)}

    @property
    def inertia(self) -> Tensor:
        """Principal moments ``(3,)`` float64."""
        return torch.tensor(self._inertia_list, dtype=torch.float64)

    @property
    def default_integrator(self) -> str:  # type: ignore[override]
        import integrators

        for name in integrators.compatible(self):
            requires = getattr(integrators.get(name), "requires", None)
            if getattr(requires, "name", None) == _RIGID_BODY_CAPABILITY:
                return name
        return "rkmk4"

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        omega = y / self._I(y)
        return omega, torch.linalg.cross(y, omega)

    def vector_field(self, t: float | Tensor, x: Tensor) -> Tensor:
        """``[R hat(omega), m x omega]``, the generic field written per entry.

        Row ``i`` of ``R hat(omega)`` is ``R_i x omega`` (``hat(w) v = w x v``).
        The twelve entries are formed from the twelve state columns and
        stacked once: no batched 3x3 product and no intermediate (b, 3, 3)
        array, so a compiled Runge-Kutta step fuses into a few loops that
        each write one output column (rk4 compiled at batch 4096, as in
        benchmarks/integrators.py: 7.4e6 traj-steps/s with rows formed by
        cross products, 1.8e7 written per entry). Equal to the generic field
        to round-off.
        """
        self.check_state(x)
        c = x.unbind(-1)
        m1, m2, m3 = c[9:]
        i1, i2, i3 = self._inertia_list
        w1, w2, w3 = m1 / i1, m2 / i2, m3 / i3
        out = []
        for a, b, d in (c[0:3], c[3:6], c[6:9], (m1, m2, m3)):
            out += [b * w3 - d * w2, d * w1 - a * w3, a * w2 - b * w1]
        return torch.stack(out, -1)

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        R, m = self.split_state(x)
        out = {"energy": self.kinetic_energy(m), "casimir": (m * m).sum(-1)}
        out.update(_components("spatial_momentum", (R @ m[..., None])[..., 0]))
        return out

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        """``[R(t), m(t)]``: elliptic ``m(t)`` and quadrature of the precession
        angle (see ``dynsys/systems/_euler_poinsot.py``); closed form for a
        symmetric body."""
        if len(set(self._inertia_list)) < 3:
            return self._exact_symmetric(x0, t)
        inertia, order, parity = self._sorted_axes()
        R0, m0 = self.split_state(x0.detach().cpu().to(torch.float64))
        R0n, m0n = R0.reshape(-1, 3, 3).numpy(), m0.reshape(-1, 3).numpy()
        tt = t.detach().cpu().to(torch.float64).reshape(-1).numpy()
        moments = np.asarray(self._inertia_list)
        out = [
            steady_attitude(moments, R, m, tt)
            if is_steady(moments, m)
            else attitude(inertia, order, parity, R, m, tt)
            for R, m in zip(R0n, m0n, strict=True)
        ]
        states = torch.from_numpy(np.stack(out, axis=1))
        return states.reshape(*t.shape, *x0.shape).to(x0)

    def _exact_symmetric(self, x0: Tensor, t: Tensor) -> Tensor:
        """Two equal moments ``I_e`` and a symmetry axis ``d``: ``R(t) = R0
        exp(t hat(m0)/I_e) exp(t c hat(e_d))``, ``m(t) = exp(-t c hat(e_d)) m0``,
        ``c = m0_d (1/I_d - 1/I_e)`` (regular precession; Landau and Lifshitz,
        sec. 33, problem 1). Then ``R' = R hat(omega)`` and ``m' = m x omega``
        hold, as substitution shows."""
        inertia = self._inertia_list
        d = (
            next(i for i in range(3) if inertia.count(inertia[i]) == 1)
            if len(set(inertia)) == 2
            else 2
        )
        I_e = inertia[(d + 1) % 3]
        R0, m0 = self.split_state(x0)
        tt = t.reshape(*t.shape, *([1] * (x0.ndim - 1)), 1)
        c = m0[..., d : d + 1] * (1.0 / inertia[d] - 1.0 / I_e)
        axis = torch.zeros_like(m0)
        axis[..., d] = 1.0
        spin = self.group.exp(tt * c * axis)
        R = R0 @ self.group.exp(tt * m0 / I_e) @ spin
        m = (spin.transpose(-1, -2) @ m0[..., None])[..., 0]
        return self.join_state(R, m.expand(*R.shape[:-2], 3))

    def exact_omega(self, m0: Tensor, t: Tensor | float) -> Tensor:
        """Exact body angular velocity ``omega(t)`` from ``m(0) = m0``.

        Landau and Lifshitz, "Mechanics", sec. 37, eqs. 37.10-37.12, with the
        phase and signs fixed by ``m0``. Axes are relabelled so that the
        formulas' ``I1 < I2 < I3`` holds; for ``M^2 < 2 E I2`` the labels of the
        smallest and largest axis swap (as stated there).

        Args:
            m0: ``(*b, 3)`` body angular momenta.
            t: ``(T,)`` times.

        Returns:
            ``(T, *b, 3)`` float64.

        Raises:
            ValueError: two principal moments are equal (the elliptic solution
                degenerates; use the symmetric-top formula instead).
        """
        self._sorted_axes()  # three distinct moments, else ValueError
        m = np.asarray(m0.detach().cpu(), dtype=np.float64).reshape(-1, 3)
        tt = np.asarray(torch.as_tensor(t).cpu(), dtype=np.float64).reshape(-1)
        omega = np.stack([self._omega_one(mi, tt) for mi in m], 1)
        return torch.from_numpy(omega.reshape(len(tt), *m0.shape))

    def flip_time(self, m0: Tensor) -> Tensor:
        """Time of the first sign change of the intermediate-axis ``omega``.

        For a start near the intermediate axis this is the Dzhanibekov flip;
        ``omega_2`` is ``A2 sn(tau)`` and changes sign where ``tau`` reaches a
        multiple of ``2K`` (Landau and Lifshitz, sec. 37).

        Args:
            m0: ``(*b, 3)``.

        Returns:
            ``(*b,)`` times; ``inf`` for a steady start (at rest or spinning
            about a principal axis: ``omega_2`` never changes sign).
        """
        inertia, order, parity = self._sorted_axes()
        m = np.asarray(m0.detach().cpu(), dtype=np.float64).reshape(-1, 3)
        moments = np.asarray(self._inertia_list)
        times = [
            math.inf
            if is_steady(moments, mi)
            else poinsot_params(inertia, mi[order], parity)["flip"]
            for mi in m
        ]
        return torch.tensor(times, dtype=torch.float64).reshape(m0.shape[:-1])

    def _omega_one(self, m: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``omega(t)`` ``(T, 3)`` from one ``m (3,)``: constant for a steady
        start, else the elliptic solution in sorted axes mapped back."""
        moments = np.asarray(self._inertia_list)
        if is_steady(moments, m):
            return np.tile(m / moments, (len(t), 1))
        inertia, order, parity = self._sorted_axes()
        out = np.empty((len(t), 3))
        out[:, order] = poinsot_omega(inertia, m[order], t, parity)
        return out

    def _sorted_axes(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Sorted moments, the sorting permutation and its sign.

        Under an axis permutation ``P``, ``P(m x w) = det(P) (P m x P w)``, so
        Euler's equations in sorted axes read ``m' = det(P) m x omega``.
        """
        inertia = np.asarray(self._inertia_list)
        if len(set(inertia.tolist())) < 3:
            raise ValueError(
                "the elliptic solution needs three distinct principal moments, "
                f"got {tuple(inertia)}"
            )
        order = np.argsort(inertia)
        parity = float(round(np.linalg.det(np.eye(3)[order])))
        return inertia[order], order, parity


@register_system("heavy-top")
class HeavyTop(_Rotor):
    """Heavy top with a fixed point (Lagrange top when ``I1 = I2``).

    State: ``R`` row-major (9), then body angular momentum ``m`` (3). With
    ``Gamma = R^T e3`` (third row of ``R``) and centre of mass at ``chi = e3``
    in the body frame: ``R' = R hat(omega)``, ``m' = m x omega + mgl Gamma x
    chi``. Invariants: ``energy`` ``m . omega/2 + mgl Gamma . chi``,
    ``vertical_momentum`` ``e3 . R m``, and ``m3`` when ``I1 = I2``.

    Provides the "heavy top" capability (integrators/_base.py: ``inertia``,
    ``mgl``, ``is_heavy_top``), so the explicit Lie-Poisson splitting
    ``heavy-top-splitting`` can serve it; the default integrator stays
    ``rkmk4``.

    Args:
        inertia: principal moments about the fixed point, positive, triangle
            inequality.
        mgl: mass x gravity x distance from the fixed point to the centre of
            mass, >= 0.
    """

    name = "heavy-top"
    is_heavy_top = True

    def __init__(
        self, inertia: tuple[float, float, float] = (1.0, 1.0, 0.5), mgl: float = 1.0
    ) -> None:
        super().__init__()
        self._set_inertia(inertia)
        self.mgl = real_param(self.name, "mgl", mgl, lo=0.0)
        self._params = {"inertia": list(self._inertia_list), "mgl": self.mgl}

    @property
    def inertia(self) -> Tensor:
        """Principal moments ``(3,)`` float64."""
        return torch.tensor(self._inertia_list, dtype=torch.float64)

    @property
    def is_symmetric(self) -> bool:
        """``I1 == I2`` (Lagrange top)."""
        return self._inertia_list[0] == self._inertia_list[1]

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        omega = y / self._I(y)
        gamma = g[..., 2, :]
        chi = torch.zeros_like(gamma)
        chi[..., 2] = 1.0
        torque = self.mgl * torch.linalg.cross(gamma, chi)
        return omega, torch.linalg.cross(y, omega) + torque

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Random attitudes; ``m`` standard normal plus a spin of 3 about e3."""
        x = super().sample(n, seed)
        x[:, 11] += 3.0
        return x

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        R, m = self.split_state(x)
        gamma = R[..., 2, :]
        energy = self.kinetic_energy(m) + self.mgl * gamma[..., 2]
        out = {"energy": energy, "vertical_momentum": (gamma * m).sum(-1)}
        if self.is_symmetric:
            out["m3"] = m[..., 2]
        return out
