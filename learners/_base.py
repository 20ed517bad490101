"""The learners contract: blocks, operators, normalisation and training errors.

A *block* is one layer family mapping ``(*b, d_in) -> (*b, d_out)`` through a
hidden width. A *model* (see ``models.py``) stacks blocks with residual
connections. An *operator* wraps a model and works in raw state coordinates:
it normalises the state, calls the model, and turns its output into the next
state, either as a one-step map or as the vector field of an ODE.

Normalisation scheme (shared by every operator, see docs/internals.md):
the model sees ``z = (x - mean) / std`` and returns a normalised increment
``u``; the state moves by ``delta_std * u`` (one-step) or with velocity
``delta_std * u / dt`` (neural ODE). ``mean`` and ``std`` are statistics of
the training states, ``delta_std`` those of the one-frame increments
``x_{t+1} - x_t``. Losses are measured in these normalised units, so a loss
of 1 means an error as large as a typical one-frame change.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import torch
from torch import nn


class TrainingError(RuntimeError):
    """Training could not go on (a non-finite loss); parameters were restored.

    Attributes:
        history: the :class:`~learners.training.TrainingHistory` up to the
            failure, or ``None``.
    """

    def __init__(self, message: str, history: Any = None) -> None:
        super().__init__(message)
        self.history = history


class Block(nn.Module, abc.ABC):
    """One layer of a learner: ``(*b, d_in) -> (*b, d_out)`` via width ``hidden``.

    Subclasses document their parameterisation in the class docstring and
    expose their linear maps under the names fixed by docs/internals.md
    (``W``, ``V``, ``P`` for bilinear and gated blocks, ``layers`` for
    pointwise MLP blocks).
    """

    def __init__(self, d_in: int, d_out: int, hidden: int) -> None:
        super().__init__()
        self.d_in, self.d_out, self.hidden = d_in, d_out, hidden

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(*b, d_in)``; returns ``(*b, d_out)``."""


#: Elementwise activations by name, for the block families.
ACTIVATIONS = {
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str, allowed: tuple[str, ...]) -> nn.Module:
    """The activation module ``name``; ``ValueError`` if not in ``allowed``."""
    if name not in allowed:
        raise ValueError(f"act must be one of {list(allowed)}, got {name!r}")
    return ACTIVATIONS[name]()


def _floor_scale(scale: torch.Tensor) -> torch.Tensor:
    """Replace (near-)zero entries of a scale vector by the mean of the others.

    Constant coordinates (the ``[0, 0, 1]`` row of a homogeneous matrix, a
    frozen parameter) have zero spread; dividing by it would blow up. They get
    the mean scale of the moving coordinates, or 1 if nothing moves.
    """
    scale = scale.clone()
    tiny = scale <= 1e-8 * scale.abs().max().clamp_min(1e-300)
    fill = scale[~tiny].mean() if bool((~tiny).any()) else scale.new_tensor(1.0)
    scale[tiny] = fill
    return scale


class Normalizer(nn.Module):
    """Per-coordinate affine normalisation of states and increments.

    Buffers (all ``(d,)``, float64): ``mean`` and ``std`` of the training
    states, ``delta_std`` of the one-frame increments; ``fitted`` is a 0-d
    flag. Unfitted, the map is the identity (mean 0, std 1).

    Args:
        d: state dimension.
    """

    def __init__(self, d: int) -> None:
        super().__init__()
        f64 = torch.float64
        self.register_buffer("mean", torch.zeros(d, dtype=f64))
        self.register_buffer("std", torch.ones(d, dtype=f64))
        self.register_buffer("delta_std", torch.ones(d, dtype=f64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, states: torch.Tensor, increments: torch.Tensor | None = None) -> None:
        """Set the statistics from ``states (N, d)`` and ``increments (N, d)``.

        Without increments (a direct map), ``delta_std`` is set to ``std``.
        """
        states = states.detach().to(torch.float64).reshape(-1, self.mean.shape[0])
        self.mean.copy_(states.mean(0))
        self.std.copy_(_floor_scale(states.std(0, correction=0)))
        if increments is None:
            self.delta_std.copy_(self.std)
        else:
            inc = increments.detach().to(torch.float64).reshape(states.shape[0], -1)
            self.delta_std.copy_(_floor_scale(inc.pow(2).mean(0).sqrt()))
        self.fitted.fill_(True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` for ``x (*b, d)``, in ``x``'s dtype."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`: ``mean + std * z``."""
        return self.mean.to(z.dtype) + self.std.to(z.dtype) * z


def apply_model(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Call ``model`` in its own dtype and return the result in ``z``'s dtype.

    Training runs the model in float32 while a rollout may carry float64
    states; the cast happens here and nowhere else.
    """
    dtype = next(model.parameters()).dtype
    return model(z.to(dtype)).to(z.dtype)


class Operator(nn.Module, abc.ABC):
    """A learned map on raw states ``(*b, d) -> (*b, d)``.

    Attributes:
        model: the wrapped network (``d_in == d_out == d``).
        normalizer: a :class:`Normalizer` fitted on the training data.
        dt: time between the frames the operator was trained on (or ``None``).
        system, system_params: name and parameters of the training system.
        training: training configuration and summary (set by ``train``).
    """

    #: "one-step" or "neural-ode"; the name used in checkpoints and the CLI.
    kind: str = ""

    def __init__(self, model: nn.Module, dt: float | None = None) -> None:
        super().__init__()
        config = getattr(model, "config", None)
        if not isinstance(config, dict) or config.get("d_in") != config.get("d_out"):
            raise ValueError(
                "an operator needs a model from learners.make_model with "
                f"d_in == d_out; got config {config!r}"
            )
        if dt is not None and not (math.isfinite(float(dt)) and float(dt) > 0):
            raise ValueError(f"dt must be a positive number, got {dt!r}")
        self.model = model
        self.normalizer = Normalizer(config["d_in"])
        self.dt: float | None = None if dt is None else float(dt)
        self.system: str | None = None
        self.system_params: dict = {}
        self.training_info: dict = {}

    @property
    def state_dim(self) -> int:
        """The state dimension ``d``."""
        return int(self.model.config["d_in"])

    def _check_state(self, x: object) -> None:
        """Raise ``TypeError``/``ValueError`` unless ``x`` is a float ``(*b, d)``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(
                f"{type(self).__name__}.step: expected a floating-point tensor of "
                f"states, got {got}"
            )
        if x.ndim < 1 or x.shape[-1] != self.state_dim:
            raise ValueError(
                f"{type(self).__name__}.step: expected states of shape "
                f"(*batch, {self.state_dim}), got {tuple(x.shape)}"
            )

    @property
    def loss_scale(self) -> torch.Tensor:
        """``(d,)`` scale that turns state errors into the normalised loss units."""
        return self.normalizer.delta_std

    @abc.abstractmethod
    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Advance raw states ``x (*b, d)`` by one frame; returns ``(*b, d)``."""

    @abc.abstractmethod
    def options(self) -> dict:
        """Constructor keywords (besides the model) that rebuild this operator."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`step`."""
        return self.step(x)

    def extra_repr(self) -> str:
        return f"system={self.system!r}, dt={self.dt}"
