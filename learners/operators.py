"""Operators: a model turned into a one-step map or a neural ODE on raw states.

* :class:`OneStep` learns the flow map of one frame, ``x_{t+1} = x_t + f(x_t)``
  (residual, the default) or ``x_{t+1} = f(x_t)`` (direct).
* :class:`NeuralODE` learns a vector field ``dx/dt = f(x)`` and integrates it
  over one frame interval ``dt`` with torchdiffeq (Chen, Rubanova,
  Bettencourt and Duvenaud, "Neural Ordinary Differential Equations",
  NeurIPS 2018); ``adjoint=True`` back-propagates with their adjoint method
  (sec. 2 there) instead of through the solver's steps.

Both normalise as described in ``learners/_base.py``. Group-valued state parts
(rotation matrices stored row-major) are features like any other coordinate:
the operator sees their flattened entries, the same way for every
architecture, and nothing projects the output back onto the group.
"""

from __future__ import annotations

import torch
from torch import nn

from learners._base import Operator, apply_model

#: torchdiffeq methods with a fixed step (``substeps`` steps per frame).
FIXED_METHODS = ("euler", "midpoint", "rk4")
#: torchdiffeq methods with error control (``rtol``, ``atol``).
ADAPTIVE_METHODS = ("dopri5", "bosh3", "dopri8", "adaptive_heun")


class OneStep(Operator):
    """Learned one-frame map on raw states ``(*b, d) -> (*b, d)``.

    With ``residual=True``: ``x_next = x + delta_std * f((x - mean) / std)``.
    With ``residual=False``: ``x_next = mean + std * f((x - mean) / std)``.

    Args:
        model: a model from :func:`learners.make_model` with ``d_in == d_out``.
        residual: learn the increment (default) or the map itself.
        dt: frame interval, informational here (set from training data).
    """

    kind = "one-step"

    def __init__(
        self, model: nn.Module, residual: bool = True, dt: float | None = None
    ) -> None:
        super().__init__(model, dt)
        self.residual = bool(residual)

    @property
    def loss_scale(self) -> torch.Tensor:
        """Increment scale for the residual map, state scale for the direct one."""
        return self.normalizer.delta_std if self.residual else self.normalizer.std

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Advance ``x (*b, d)`` by one frame; returns ``(*b, d)`` in ``x``'s dtype."""
        self._check_state(x)
        u = apply_model(self.model, self.normalizer.encode(x))
        if self.residual:
            return x + self.normalizer.delta_std.to(x.dtype) * u
        return self.normalizer.decode(u)

    def options(self) -> dict:
        return {"residual": self.residual, "dt": self.dt}


class NeuralODE(Operator):
    """Learned vector field ``dx/dt = (delta_std / dt) * f((x - mean) / std)``.

    :meth:`step` integrates it from 0 to ``dt``. Scaling by ``delta_std / dt``
    makes ``f`` of order one when one frame moves the state by about
    ``delta_std``, the same normalised target as :class:`OneStep`.

    Args:
        model: a model from :func:`learners.make_model` with ``d_in == d_out``.
        method: a torchdiffeq method, fixed-step (``rk4``, ``midpoint``,
            ``euler``) or adaptive (``dopri5``, ``bosh3``, ``dopri8``,
            ``adaptive_heun``).
        adjoint: back-propagate with the adjoint ODE (memory O(1) in steps).
        dt: frame interval; set from the training data if ``None``.
        substeps: fixed-step methods take this many steps per frame.
        rtol, atol: tolerances of the adaptive methods.

    Raises:
        ValueError: unknown method, or ``substeps < 1``, or bad tolerances.
    """

    kind = "neural-ode"

    def __init__(
        self,
        model: nn.Module,
        method: str = "rk4",
        adjoint: bool = False,
        dt: float | None = None,
        substeps: int = 1,
        rtol: float = 1e-6,
        atol: float = 1e-8,
    ) -> None:
        super().__init__(model, dt)
        if method not in FIXED_METHODS + ADAPTIVE_METHODS:
            raise ValueError(
                f"unknown ODE method {method!r}; known: "
                f"{', '.join(FIXED_METHODS + ADAPTIVE_METHODS)}"
            )
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
        if not (rtol > 0 and atol > 0):
            raise ValueError(f"rtol and atol must be positive, got {rtol}, {atol}")
        self.method, self.adjoint, self.substeps = method, bool(adjoint), substeps
        self.rtol, self.atol = float(rtol), float(atol)

    def vector_field(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``dx/dt`` at raw states ``x (*b, d)`` (autonomous: ``t`` is unused)."""
        u = apply_model(self.model, self.normalizer.encode(x))
        return (self.normalizer.delta_std.to(x.dtype) / self._dt()) * u

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Integrate ``x (*b, d)`` over one frame ``dt``; returns ``(*b, d)``."""
        self._check_state(x)
        from torchdiffeq import odeint, odeint_adjoint

        dt = self._dt()
        t = torch.tensor([0.0, dt], dtype=x.dtype, device=x.device)
        kw: dict = {"method": self.method, "rtol": self.rtol, "atol": self.atol}
        if self.method in FIXED_METHODS:
            kw["options"] = {"step_size": dt / self.substeps}
        if self.adjoint:
            params = tuple(p for p in self.model.parameters() if p.requires_grad)
            return odeint_adjoint(self.vector_field, x, t, adjoint_params=params, **kw)[
                -1
            ]
        return odeint(self.vector_field, x, t, **kw)[-1]

    def _dt(self) -> float:
        if self.dt is None:
            raise ValueError(
                "this NeuralODE has no dt; pass dt=... or train it on "
                "trajectory data first"
            )
        return self.dt

    def options(self) -> dict:
        return {
            "method": self.method,
            "adjoint": self.adjoint,
            "dt": self.dt,
            "substeps": self.substeps,
            "rtol": self.rtol,
            "atol": self.atol,
        }


#: Operator kind -> class, for checkpoints and the CLI.
OPERATORS: dict[str, type[Operator]] = {"one-step": OneStep, "neural-ode": NeuralODE}
