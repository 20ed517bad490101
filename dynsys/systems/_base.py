"""The contract every ground-truth system meets (docs/internals.md, "Systems").

A :class:`System` is a dynamical system ``x' = f(t, x)`` (or a map
``x -> F(x)``) on a flat state vector ``x`` of length ``state_dim``. Its state
layout, a list of :class:`StatePart`, says which slices hold a group element
(stored row-major) and which hold a plain vector. Integrators see a system only
through duck-typed capability attributes; this module defines the families:

* :class:`System`: ``vector_field(t, x)`` (continuous systems).
* :class:`SeparableHamiltonian`: ``H(q, p) = T(p) + V(q)`` with state
  ``[q..., p...]``, so that ``n_dof``, ``dH_dq`` and ``dH_dp`` serve the
  splitting methods (Hairer, Lubich, Wanner, "Geometric Numerical
  Integration", 2nd ed., 2006, sec. I.1 and II.5).
* :class:`LieSystem`: ``g' = g hat(xi)``, ``y' = ydot`` on a matrix Lie group
  times a vector space, for Lie-group methods (Iserles, Munthe-Kaas, Norsett,
  Zanna, "Lie-group methods", Acta Numerica 9, 2000).
* :class:`DiscreteSystem`: ``is_discrete = True`` and ``step_map(x)``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class StatePart:
    """A named slice ``x[..., start:stop]`` of the state vector.

    Attributes:
        name: what the slice holds, e.g. ``"R"`` or ``"m"``.
        start: first index of the slice.
        stop: one past the last index.
        group: a LieGroup when the slice is a row-major matrix block of that
            group, ``None`` for a plain vector block.
    """

    name: str
    start: int
    stop: int
    group: Any = None


class System(abc.ABC):
    """A ground-truth dynamical system on a flat, float64 state vector.

    Subclasses set ``name``, ``state_dim``, ``dt``, ``default_integrator``
    and ``state_layout`` and implement :meth:`sample`, :meth:`invariants` and
    :meth:`constraints`; continuous systems implement :meth:`vector_field`.
    Parameters are given as keyword arguments to the constructor, validated
    there, and kept in :attr:`params` as JSON-serialisable Python values.
    """

    name: ClassVar[str] = ""
    #: True when the flow is symplectic in the canonical ``[q, p]`` layout.
    is_hamiltonian: ClassVar[bool] = False
    #: True for maps ``x -> step_map(x)`` (integrator ``"map"``).
    is_discrete: ClassVar[bool] = False
    #: Default time step.
    dt: float = 0.01
    #: Registered name of the default (structure-preserving) integrator.
    default_integrator: str = "rk4"

    def __init__(self) -> None:
        self._params: dict[str, Any] = {}

    @property
    def params(self) -> dict[str, Any]:
        """The validated parameters (a copy), JSON-serialisable."""
        return dict(self._params)

    @property
    @abc.abstractmethod
    def state_dim(self) -> int:
        """Length of the flat state vector."""

    @property
    def state_layout(self) -> list[StatePart]:
        """Slices of the state vector; by default one vector block ``x``."""
        return [StatePart("x", 0, self.state_dim, None)]

    @property
    def has_exact_solution(self) -> bool:
        """Whether :meth:`exact_solution` returns a solution."""
        return type(self)._exact is not System._exact

    def vector_field(self, t: float | Tensor, x: Tensor) -> Tensor:
        """Time derivative ``dx/dt`` at ``(t, x)``.

        Args:
            t: time, a float or a 0-d tensor.
            x: states ``(*batch, state_dim)``.

        Returns:
            ``(*batch, state_dim)``.

        Raises:
            TypeError: the system is a discrete map.
        """
        raise TypeError(f"{self.name} is a discrete map and has no vector field")

    @abc.abstractmethod
    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Draw ``n`` initial states ``(n, state_dim)`` float64, reproducibly."""

    @abc.abstractmethod
    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        """Conserved quantities, each of shape ``x.shape[:-1]``."""

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        """Residuals that vanish on the true state space, each ``x.shape[:-1]``."""
        self.check_state(x)
        return {}

    def exact_solution(self, x0: Tensor, t: Tensor | Sequence[float]) -> Tensor | None:
        """The exact flow, or ``None`` when the system has no closed form.

        Args:
            x0: initial states ``(*batch, state_dim)``.
            t: times ``(*T,)`` (1-d or 0-d).

        Returns:
            ``(*T, *batch, state_dim)`` or ``None``.
        """
        self.check_state(x0)
        t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
        if not self.has_exact_solution:
            return None
        return self._exact(x0, t)

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        """Exact flow ``(*t.shape, *batch, d)``; overridden where one exists."""
        raise TypeError(f"{self.name} has no exact solution")

    def check_state(self, x: Tensor) -> None:
        """Raise a one-line error unless ``x`` is a ``(*batch, state_dim)`` tensor.

        Raises:
            TypeError: ``x`` is not a floating-point tensor.
            ValueError: its last axis is not ``state_dim`` long.
        """
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{self.name}: state must be a torch.Tensor, got {type(x).__name__}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{self.name}: state must be floating point "
                f"(float64 for ground truth), got {x.dtype}"
            )
        if x.ndim < 1 or x.shape[-1] != self.state_dim:
            raise ValueError(
                f"{self.name}: state must have shape (*batch, "
                f"{self.state_dim}), got {tuple(x.shape)}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"


class CanonicalSystem(System):
    """A Hamiltonian system on ``R^(2 n_dof)`` in canonical coordinates.

    State ``[q (n_dof), p (n_dof)]``; the flow preserves ``dq ^ dp``.
    """

    is_hamiltonian: ClassVar[bool] = True
    n_dof: int = 1

    @property
    def state_dim(self) -> int:
        return 2 * self.n_dof

    @property
    def state_layout(self) -> list[StatePart]:
        n = self.n_dof
        return [StatePart("q", 0, n, None), StatePart("p", n, 2 * n, None)]


class SeparableHamiltonian(CanonicalSystem):
    """``H(q, p) = T(p) + V(q)`` on ``R^(2 n_dof)``, state ``[q..., p...]``.

    Hamilton's equations ``q' = dH/dp``, ``p' = -dH/dq``. Subclasses give
    ``n_dof``, ``kinetic``, ``potential``, ``dH_dp`` and ``dH_dq``.
    """

    default_integrator: str = "yoshida4"

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Positions and momenta ``(*b, n_dof)`` each."""
        self.check_state(x)
        return x[..., : self.n_dof], x[..., self.n_dof :]

    @abc.abstractmethod
    def kinetic(self, p: Tensor) -> Tensor:
        """Kinetic energy ``T(p)``, shape ``p.shape[:-1]``."""

    @abc.abstractmethod
    def potential(self, q: Tensor) -> Tensor:
        """Potential energy ``V(q)``, shape ``q.shape[:-1]``."""

    @abc.abstractmethod
    def dH_dp(self, p: Tensor) -> Tensor:
        """``dT/dp``, ``(*b, n_dof)``."""

    @abc.abstractmethod
    def dH_dq(self, q: Tensor) -> Tensor:
        """``dV/dq``, ``(*b, n_dof)``."""

    def hamiltonian(self, x: Tensor) -> Tensor:
        """``H(x)``, shape ``x.shape[:-1]``."""
        q, p = self.split(x)
        return self.kinetic(p) + self.potential(q)

    def vector_field(self, t: float | Tensor, x: Tensor) -> Tensor:
        q, p = self.split(x)
        return torch.cat([self.dH_dp(p), -self.dH_dq(q)], dim=-1)

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        return {"energy": self.hamiltonian(x)}


class LieSystem(System):
    """``g' = g hat(xi(t, g, y))``, ``y' = ydot(t, g, y)`` on ``G x R^k``.

    State: the ``n x n`` matrix ``g`` row-major (``n*n`` entries), then ``y``.
    Subclasses set ``group`` and ``vector_dim`` and implement
    :meth:`lie_field`. The ambient :meth:`vector_field` follows from it.
    """

    default_integrator: str = "rkmk4"
    #: Length of the vector part ``y``.
    vector_dim: int = 0
    #: Names of the matrix and vector parts in the state layout.
    matrix_name: str = "g"
    vector_name: str = "y"

    @property
    def group(self) -> Any:
        """The LieGroup the matrix block lives on (built once, then cached)."""
        cached = self.__dict__.get("_group_cache")
        if cached is None:
            cached = self.__dict__["_group_cache"] = self._make_group()
        return cached

    @abc.abstractmethod
    def _make_group(self) -> Any:
        """Build the LieGroup (called once)."""

    @property
    def _n(self) -> int:
        return int(self.group.matrix_size)

    @property
    def state_dim(self) -> int:
        return self._n * self._n + self.vector_dim

    @property
    def state_layout(self) -> list[StatePart]:
        nn = self._n * self._n
        parts = [StatePart(self.matrix_name, 0, nn, self.group)]
        if self.vector_dim:
            parts.append(StatePart(self.vector_name, nn, nn + self.vector_dim, None))
        return parts

    def split_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(g (*b, n, n), y (*b, k))`` from ``x (*b, state_dim)``."""
        self.check_state(x)
        n = self._n
        g = x[..., : n * n].reshape(*x.shape[:-1], n, n)
        return g, x[..., n * n :]

    def join_state(self, g: Tensor, y: Tensor) -> Tensor:
        """Inverse of :meth:`split_state`: ``(*b, state_dim)``."""
        return torch.cat([g.reshape(*g.shape[:-2], -1), y], dim=-1)

    @abc.abstractmethod
    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Body velocity ``xi (*b, dim)`` and ``ydot (*b, k)`` at ``(t, g, y)``."""

    def vector_field(self, t: float | Tensor, x: Tensor) -> Tensor:
        g, y = self.split_state(x)
        xi, ydot = self.lie_field(t, g, y)
        return self.join_state(g @ self.group.hat(xi), ydot)

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        g, _ = self.split_state(x)
        return {"group_residual": self.group.residual(g)}

    def constant_velocity_flow(self, x0: Tensor, t: Tensor, xi: Tensor) -> Tensor:
        """Exact ``g0 exp(t hat(xi))`` for a constant ``xi (dim,)``, no vector part.

        Args:
            x0: ``(*b, state_dim)``.
            t: ``(*T,)`` times.
            xi: ``(dim,)`` body velocity.

        Returns:
            ``(*T, *b, state_dim)``.
        """
        g0, _ = self.split_state(x0)
        k = g0.shape[-1]
        step = self.group.exp(t[..., None] * xi)  # (*T, k, k)
        step = step.reshape(*t.shape, *([1] * (x0.ndim - 1)), k, k)
        return (g0 @ step).reshape(*t.shape, *x0.shape)

    def sample_group(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` random group elements ``(n, m, m)`` float64."""
        return self.group.sample(n, generator=generator, dtype=torch.float64)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Random group elements (the group's ``sample``) and a standard normal
        vector part, ``(n, state_dim)`` float64."""
        gen = make_generator(seed)
        g = self.sample_group(check_count(n), gen)
        y = torch.randn(n, self.vector_dim, generator=gen, dtype=torch.float64)
        return self.join_state(g, y)


class ConstantVelocityFlow(LieSystem):
    """``g' = g hat(xi)`` with a constant body velocity ``xi``; no vector part.

    Exact flow ``g(t) = g0 exp(t hat(xi))`` (a one-parameter subgroup). Subclasses
    set :attr:`body_velocity` (``dim`` floats).
    """

    vector_dim = 0
    body_velocity: list[float]

    def xi(self, like: Tensor) -> Tensor:
        """The body velocity ``(dim,)`` in ``like``'s dtype and device."""
        return torch.tensor(self.body_velocity, dtype=like.dtype, device=like.device)

    def lie_field(
        self, t: float | Tensor, g: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        return self.xi(g).expand(*g.shape[:-2], len(self.body_velocity)), y

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        return self.constant_velocity_flow(x0, t, self.xi(x0))


class DiscreteSystem(System):
    """A map ``x_{k+1} = step_map(x_k)``; time advances by ``dt = 1`` per step."""

    is_discrete: ClassVar[bool] = True
    dt: float = 1.0
    default_integrator: str = "map"

    @abc.abstractmethod
    def step_map(self, x: Tensor) -> Tensor:
        """One application of the map, ``(*b, d) -> (*b, d)``."""


# --------------------------------------------------------------------------
# Helpers shared by the families: generators, parameter checks, residuals.


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``.

    Raises:
        ValueError: ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def check_count(n: int) -> int:
    """Validate a sample count ``n >= 1``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (number of samples) must be an integer >= 1, got {n!r}")
    return n


def real_param(
    system: str,
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    nonzero: bool = False,
) -> float:
    """Validate a finite real parameter in ``[lo, hi]`` (ends open if asked).

    Raises:
        ValueError: naming ``system``, ``name`` and the allowed range.
    """
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    rng = (
        f"{'(' if lo_open or lo is None else '['}{lo_s}, {hi_s}"
        f"{')' if hi_open or hi is None else ']'}"
    )
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{system}: parameter {name} must be a real number in {rng}, got {value!r}"
        ) from None
    bad = not math.isfinite(v)
    bad |= lo is not None and (v < lo or (lo_open and v == lo))
    bad |= hi is not None and (v > hi or (hi_open and v == hi))
    bad |= nonzero and v == 0.0
    if bad or isinstance(value, bool):
        extra = ", nonzero" if nonzero else ""
        raise ValueError(
            f"{system}: parameter {name} must be a finite real "
            f"number in {rng}{extra}, got {value!r}"
        )
    return v


def int_param(system: str, name: str, value: Any, *, lo: int | None = None) -> int:
    """Validate an integer parameter ``>= lo``.

    Raises:
        ValueError: naming ``system``, ``name`` and the allowed range.
    """
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if not ok or (lo is not None and value < lo):
        bound = f" >= {lo}" if lo is not None else ""
        raise ValueError(
            f"{system}: parameter {name} must be an integer{bound}, got {value!r}"
        )
    return int(value)


def vector_param(
    system: str, name: str, value: Any, size: int | None = None
) -> list[float]:
    """Validate a finite real vector (of length ``size`` if given).

    Raises:
        ValueError: naming ``system``, ``name`` and the expected length.
    """
    want = f"{size} " if size is not None else ""
    try:
        arr = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{system}: parameter {name} must be a list of {want}"
            f"real numbers, got {value!r}"
        ) from None
    if isinstance(value, str | bytes) or (size is not None and arr.numel() != size):
        raise ValueError(
            f"{system}: parameter {name} must be a list of {want}"
            f"real numbers, got {value!r}"
        )
    if not bool(torch.isfinite(arr).all()):
        raise ValueError(f"{system}: parameter {name} must be finite, got {value!r}")
    return [float(v) for v in arr]


def rotation_constraints(R: Tensor) -> dict[str, Tensor]:
    """``||R^T R - I||_F`` and ``|det R - 1|`` for ``R (*b, k, k)``."""
    eye = torch.eye(R.shape[-1], dtype=R.dtype, device=R.device)
    orth = torch.linalg.matrix_norm(R.transpose(-1, -2) @ R - eye)
    return {"orthogonality": orth, "det": (torch.linalg.det(R) - 1.0).abs()}


def inertia_param(system: str, value: Any) -> list[float]:
    """Validate principal moments of inertia: positive, triangle inequality.

    The principal moments of any rigid body satisfy ``I_i <= I_j + I_k``
    (Landau & Lifshitz, "Mechanics", 3rd ed., sec. 32, problem 1 context;
    equality for a planar body).

    Raises:
        ValueError: a moment is not positive, or the triangle inequality fails.
    """
    inertia = vector_param(system, "inertia", value, 3)
    if min(inertia) <= 0:
        raise ValueError(
            f"{system}: parameter inertia must have three positive "
            f"entries, got {tuple(inertia)}"
        )
    total = sum(inertia)
    for i, moment in enumerate(inertia):
        if moment > (total - moment) * (1 + 1e-12):
            raise ValueError(
                f"{system}: parameter inertia violates the triangle inequality "
                f"I{i + 1} <= sum of the other two: {tuple(inertia)}"
            )
    return inertia


def rigid_motion_constraints(g: Tensor) -> dict[str, Tensor]:
    """Residuals of a homogeneous SE(k) matrix ``g (*b, k+1, k+1)``.

    ``orthogonality`` and ``det`` of the rotation block, and ``bottom_row``,
    the distance of the last row from ``(0, ..., 0, 1)``.
    """
    k = g.shape[-1] - 1
    out = rotation_constraints(g[..., :k, :k])
    last = torch.zeros(k + 1, dtype=g.dtype, device=g.device)
    last[-1] = 1.0
    out["bottom_row"] = torch.linalg.vector_norm(g[..., k, :] - last, dim=-1)
    return out


def group_by_name(system: str, name: str, **kwargs: Any) -> Any:
    """``dynsys.groups.get_group(name, **kwargs)`` with a one-line error.

    Raises:
        ValueError: the group is unknown or its parameters are invalid.
    """
    from dynsys import groups

    try:
        return groups.get_group(name, **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        text = str(exc).strip("'\"")
        known = ", ".join(groups.available_groups())
        if known not in text:
            text = f"{text}; registered groups: {known}"
        raise ValueError(f"{system}: parameter group: {text}") from None
