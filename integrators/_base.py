"""The integrator contract: capabilities, the ``Integrator`` base and its stepper.

A problem is any object; an integrator sees it only through duck-typed
attributes grouped into *capabilities* (docs/internals.md, "Integrators"):

- ODE: ``vector_field(t, x) -> dx/dt`` with ``x`` of shape ``(*b, d)``;
- separable Hamiltonian ``H(q, p) = T(p) + V(q)``: ``n_dof``, ``dH_dq(q)``,
  ``dH_dp(p)``, state ``[q, p]`` (Hairer, Lubich & Wanner, *Geometric
  Numerical Integration*, 2nd ed. 2006, ch. VI);
- Lie: ``group``, ``split_state``, ``join_state``, ``lie_field(t, g, y)``
  meaning ``g' = g hat(xi)``, ``y' = ydot`` (body-frame, left-invariant
  fields; Iserles, Munthe-Kaas, Norsett & Zanna, Acta Numerica 2000);
- free rigid body: the Lie capability plus ``inertia`` and
  ``is_free_rigid_body = True``;
- heavy top: the Lie capability plus ``inertia``, ``mgl`` and
  ``is_heavy_top = True`` (centre of mass on body axis ``e3``, gravity along
  ``-e3`` in space);
- discrete map: ``is_discrete = True`` and ``step_map(x)``.

Every integrator advances a batch of states with a *stepper*: an object that
packs a state into whatever internal form is cheapest to step (for example
``(q, p)`` kept apart), advances it, and unpacks it at save points. The
per-step Python work of ``integrate`` is therefore one call.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

__all__ = [
    "Capability",
    "ODE",
    "SEPARABLE_HAMILTONIAN",
    "LIE",
    "FREE_RIGID_BODY",
    "HEAVY_TOP",
    "DISCRETE_MAP",
    "Integrator",
    "Stepper",
    "IntegrationError",
]


class IntegrationError(RuntimeError):
    """A numerical failure: blow-up, step-size underflow, no convergence.

    Attributes:
        t_reached: the last time up to which the solution is valid.
    """

    def __init__(self, message: str, t_reached: float) -> None:
        super().__init__(f"{message} (integration reached t={t_reached:.17g})")
        self.t_reached = float(t_reached)


@dataclass(frozen=True)
class Capability:
    """What a problem must provide for a family of integrators.

    Attributes:
        name: human-readable name, e.g. ``"separable Hamiltonian"``.
        attributes: attribute names the problem must have.
        flags: attribute names that must be present and truthy.
        excluded_flags: attribute names that must be absent or falsy.
    """

    name: str
    attributes: tuple[str, ...]
    flags: tuple[str, ...] = ()
    excluded_flags: tuple[str, ...] = field(default=())

    def satisfied_by(self, problem: Any) -> bool:
        """Whether ``problem`` provides this capability."""
        has = all(hasattr(problem, a) for a in self.attributes)
        flagged = all(bool(getattr(problem, f, False)) for f in self.flags)
        excluded = any(bool(getattr(problem, f, False)) for f in self.excluded_flags)
        return has and flagged and not excluded

    def __str__(self) -> str:
        return self.name


ODE = Capability("ODE", ("vector_field",), excluded_flags=("is_discrete",))
SEPARABLE_HAMILTONIAN = Capability(
    "separable Hamiltonian",
    ("n_dof", "dH_dq", "dH_dp"),
    excluded_flags=("is_discrete",),
)
_LIE_ATTRS = ("group", "split_state", "join_state", "lie_field")
LIE = Capability("Lie", _LIE_ATTRS, excluded_flags=("is_discrete",))
FREE_RIGID_BODY = Capability(
    "free rigid body",
    (*_LIE_ATTRS, "inertia"),
    flags=("is_free_rigid_body",),
    excluded_flags=("is_discrete",),
)
HEAVY_TOP = Capability(
    "heavy top",
    (*_LIE_ATTRS, "inertia", "mgl"),
    flags=("is_heavy_top",),
    excluded_flags=("is_discrete",),
)
DISCRETE_MAP = Capability("discrete map", ("step_map",), flags=("is_discrete",))


class Stepper(abc.ABC):
    """Advances packed states of one problem by one fixed step ``dt``.

    ``pack`` and ``unpack`` convert between the public state ``(*b, d)`` and
    the stepper's internal form; ``advance(t, z)`` returns the packed state
    at ``t + dt``. Steppers may cache work between consecutive steps (e.g. the
    force at the end of a Verlet step) but never change results by doing so.

    Attributes:
        compilable: whether ``advance`` is free of data-dependent Python
            control flow, so ``integrate(..., compile=True)`` may fuse it.
    """

    compilable: bool = False

    def pack(self, x: Tensor) -> Any:
        """Internal form of a state ``x`` of shape ``(*b, d)``."""
        return x

    def unpack(self, z: Any) -> Tensor:
        """Public state ``(*b, d)`` from the internal form."""
        return z

    @abc.abstractmethod
    def advance(self, t: float, z: Any) -> Any:
        """Packed state at ``t + dt`` from the packed state ``z`` at ``t``."""


class _FunctionStepper(Stepper):
    """Adapter: a plain ``step(problem, t, x, dt)`` as a stepper."""

    def __init__(self, step: Callable, problem: Any, dt: float) -> None:
        self._step, self._problem, self._dt = step, problem, dt

    def advance(self, t: float, z: Tensor) -> Tensor:
        return self._step(self._problem, t, z, self._dt)


class Integrator(abc.ABC):
    """A time stepper registered by name.

    Subclasses set the class attributes and implement ``stepper`` (preferred,
    fast loops) or ``step``. ``supports`` checks the required capability.

    Attributes:
        name: the registry name.
        order: the order of the global error in ``dt`` (``math.inf`` for the
            exact ``map``).
        kind: ``"classical" | "symplectic" | "lie" | "map"``.
        requires: the ``Capability`` the problem must provide.
    """

    name: str
    order: float
    kind: ClassVar[str]
    requires: ClassVar[Capability]

    def supports(self, problem: Any) -> bool:
        """Whether this integrator can advance ``problem``."""
        return self.requires.satisfied_by(problem)

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper advancing ``problem`` by ``dt`` per call.

        Raises:
            TypeError: if the subclass overrides neither this nor ``step``.
        """
        if type(self).step is Integrator.step:
            raise TypeError(f"{type(self).__name__} must override stepper() or step()")
        return _FunctionStepper(self.step, problem, dt)

    def step(self, problem: Any, t: float, x: Tensor, dt: float) -> Tensor:
        """One step: the state at ``t + dt`` from ``x`` (``(*b, d)``) at ``t``.

        Args:
            problem: an object with the capability ``self.requires``.
            t: current time.
            x: state, shape ``(*b, d)``.
            dt: step size.

        Returns:
            The state at ``t + dt``, shape ``(*b, d)``, dtype of ``x``.
        """
        s = self.stepper(problem, dt)
        return s.unpack(s.advance(t, s.pack(x)))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, order={self.order}, "
            f"kind={self.kind!r}, requires={self.requires.name!r})"
        )


def as_time(t: float | Tensor) -> float:
    """A Python float from a float or 0-d tensor time."""
    return float(t.item()) if isinstance(t, Tensor) else float(t)


def check_state(x0: Any, name: str = "x0") -> Tensor:
    """Validate an initial state: a floating tensor with a state axis.

    Raises:
        TypeError: if ``x0`` has an integer, boolean or complex dtype.
        ValueError: if ``x0`` is 0-d.
    """
    if not isinstance(x0, Tensor):
        x0 = torch.as_tensor(x0, dtype=torch.float64)
    if not x0.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor (float64 recommended), got {x0.dtype}"
        )
    if x0.dim() == 0:
        raise ValueError(
            f"{name} must have shape (*batch, state_dim), got a 0-d tensor"
        )
    return x0
