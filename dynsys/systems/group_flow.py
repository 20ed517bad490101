"""Left-invariant flows ``g' = g hat(xi(t))`` on any registered matrix Lie group.

With ``xi(t) = xi0 + amplitude sin(frequency t) xi1``. For constant ``xi``
(``amplitude = 0``) the flow is ``g(t) = g0 exp(t xi0)``, and the spatial
velocity ``g hat(xi0) g^-1`` (``Ad_g xi0``) is conserved, since its derivative
is ``g [hat xi0, hat xi0] g^-1 = 0`` (Iserles, Munthe-Kaas, Norsett, Zanna,
"Lie-group methods", Acta Numerica 9, 2000, sec. 2; Hall, "Lie Groups, Lie
Algebras, and Representations", 2nd ed., 2015, sec. 3.7). Because the group is
chosen by name, every group added to the registry gets ground truth at once.
"""

from __future__ import annotations

from typing import Any

import torch

from dynsys.systems._base import (
    LieSystem,
    Tensor,
    group_by_name,
    int_param,
    real_param,
    vector_param,
)
from dynsys.systems._registry import register_system


@register_system("group-flow")
class GroupFlow(LieSystem):
    """``g' = g hat(xi(t))``, ``xi(t) = xi0 + amplitude sin(frequency t) xi1``.

    State: ``g`` row-major (``matrix_size^2`` entries). Invariants (constant
    ``xi`` only): ``spatial_xi_k = vee(g hat(xi0) g^-1)_k``, computed with the
    matrix inverse so that it is defined off the group too. Constraint:
    ``group_residual`` (the group's ``residual``).

    Args:
        group: a registered group name, e.g. ``"so3"``, ``"se2"``, ``"sp"``.
        n: size parameter passed to the group (``get_group("sp", n=2)``);
            ``None`` for groups without one.
        xi: ``xi0``, ``dim`` real numbers; default ``0.3 .. 1.0`` evenly spaced
            with alternating signs.
        amplitude: size of the time-varying part, finite (0: constant xi).
        frequency: its angular frequency, > 0.
        xi_mod: ``xi1``, ``dim`` real numbers; default ``xi0`` rolled by one.
    """

    name = "group-flow"
    dt = 0.05

    def __init__(
        self,
        group: str = "so3",
        n: int | None = None,
        xi: Any = None,
        amplitude: float = 0.0,
        frequency: float = 1.0,
        xi_mod: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(group, str):
            raise ValueError(
                f"{self.name}: parameter group must be a group name, got {group!r}"
            )
        self._group_name = group
        self._group_kwargs = (
            {} if n is None else {"n": int_param(self.name, "n", n, lo=1)}
        )
        dim = int(self.group.dim)
        self.xi0 = (
            self._default_xi(dim)
            if xi is None
            else vector_param(self.name, "xi", xi, dim)
        )
        self.xi1 = (
            self.xi0[-1:] + self.xi0[:-1]
            if xi_mod is None
            else vector_param(self.name, "xi_mod", xi_mod, dim)
        )
        self.amplitude = real_param(self.name, "amplitude", amplitude)
        self.frequency = real_param(
            self.name, "frequency", frequency, lo=0.0, lo_open=True
        )
        self._params = {
            "group": group,
            "n": self._group_kwargs.get("n"),
            "xi": self.xi0,
            "amplitude": self.amplitude,
            "frequency": self.frequency,
            "xi_mod": self.xi1,
        }

    def _make_group(self) -> Any:
        return group_by_name(self.name, self._group_name, **self._group_kwargs)

    def _default_xi(self, dim: int) -> list[float]:
        """Alternating ``0.3 .. 1.0``, made skew-symmetric where the algebra allows.

        The skew-symmetric part of an algebra element generates a compact
        (bounded) flow; it is used when it lies in the algebra (so(n), sp(n):
        ``sp(n)`` is closed under transposition), so that the default flow on
        Sp(n) does not grow exponentially. On SE(n) it does not, and the
        alternating vector is used as it is.
        """
        mags = torch.linspace(0.3, 1.0, dim, dtype=torch.float64)
        xi = mags * torch.tensor([(-1.0) ** k for k in range(dim)], dtype=mags.dtype)
        X = self.group.hat(xi)
        skew = 0.5 * (X - X.transpose(-1, -2))
        xi_skew = self.group.vee(skew)
        if torch.allclose(self.group.hat(xi_skew), skew, atol=1e-12) and bool(
            xi_skew.abs().max() > 0.1
        ):
            xi = xi_skew
        return [float(v) for v in xi]

    @property
    def is_constant(self) -> bool:
        """Whether ``xi`` does not depend on time."""
        return self.amplitude == 0.0

    @property
    def has_exact_solution(self) -> bool:
        return self.is_constant

    def xi_at(self, t: float | Tensor, like: Tensor) -> Tensor:
        """``xi(t)``, ``(dim,)``."""
        xi0 = torch.tensor(self.xi0, dtype=like.dtype, device=like.device)
        if self.is_constant:
            return xi0
        xi1 = torch.tensor(self.xi1, dtype=like.dtype, device=like.device)
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        return xi0 + self.amplitude * torch.sin(self.frequency * t) * xi1

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        return self.xi_at(t, g).expand(*g.shape[:-2], self.group.dim), y

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        g, _ = self.split_state(x)
        if not self.is_constant:
            return {}
        X = self.group.hat(self.xi_at(0.0, x))
        spatial = self.group.vee(g @ X @ torch.linalg.inv(g))
        return {f"spatial_xi_{k}": spatial[..., k] for k in range(spatial.shape[-1])}

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        return self.constant_velocity_flow(x0, t, self.xi_at(0.0, x0))
