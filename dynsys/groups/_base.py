"""The contract every matrix Lie group in dynsys satisfies.

A group ``G`` is a set of ``n x n`` real matrices closed under products and
inverses; its Lie algebra ``g`` is identified with ``R^dim`` through ``hat`` and
``vee``. All methods are batched over leading axes, keep the input dtype and are
differentiable with torch autograd.

Conventions (docs/internals.md): flows are left-invariant, ``g' = g hat(xi)``;
``left_jacobian(xi) = J_l(xi) = sum_k ad_xi^k / (k+1)!`` and the right Jacobian
is ``J_r(xi) = J_l(-xi)`` (Barfoot, "State Estimation for Robotics", 2017,
sec. 7.1.5); ``dexp_inv(xi, v) = J_r(xi)^{-1} v`` (Iserles, Munthe-Kaas,
Norsett & Zanna, "Lie-group methods", Acta Numerica 2000, sec. 2.3).
"""

from __future__ import annotations

import abc
import math
import numbers

import torch
from torch import Tensor

__all__ = ["LieGroup"]


class LieGroup(abc.ABC):
    """Abstract matrix Lie group.

    Subclasses set ``name`` (str), ``dim`` (algebra dimension) and
    ``matrix_size`` (``n``; elements are ``(*batch, n, n)``) and implement the
    abstract methods, including ``_sample(n, generator)`` (float64 draws that
    ``sample`` validates and casts). Tangent vectors are ``(*batch, dim)``.
    The easiest way to add a group is :class:`~dynsys.groups.MatrixLieGroup`.
    """

    name: str
    dim: int
    matrix_size: int

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # ------------------------------------------------------------------
    # Elements
    # ------------------------------------------------------------------
    def identity(
        self,
        batch_shape: int | tuple[int, ...] | torch.Size = (),
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """The identity element.

        Args:
            batch_shape: leading batch shape (an int means ``(batch_shape,)``).
            dtype: floating dtype of the result.
            device: device of the result.

        Returns:
            ``(*batch_shape, n, n)`` identity matrices.
        """
        _check_float_dtype(dtype, f"{self.name}.identity")
        if isinstance(batch_shape, numbers.Integral):
            batch_shape = (batch_shape,)
        if not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
            for s in batch_shape
        ):
            raise ValueError(
                f"{self.name}.identity: expected batch_shape of non-negative ints,"
                f" got {tuple(batch_shape)}"
            )
        eye = torch.eye(self.matrix_size, dtype=dtype, device=device)
        shape = (*(int(s) for s in batch_shape), self.matrix_size, self.matrix_size)
        return eye.expand(shape).clone()

    def compose(self, g: Tensor, h: Tensor) -> Tensor:
        """Group product ``g h``; batch shapes broadcast.

        Args:
            g: ``(*batch, n, n)``.
            h: ``(*batch, n, n)``.

        Returns:
            ``(*batch, n, n)``.

        Raises:
            ValueError: shapes that are not ``(*batch, n, n)`` or batch shapes
                that do not broadcast.
            TypeError: ``g`` and ``h`` of different dtypes.
        """
        self._check_matrix(g, "compose", "g")
        self._check_matrix(h, "compose", "h")
        self._check_pair(g, h, "compose", ("g", "h"), 2)
        return g @ h

    def inverse(self, g: Tensor) -> Tensor:
        """Group inverse ``g^{-1}`` (general matrix inverse; subclasses with a
        closed form override it).

        Args:
            g: ``(*batch, n, n)``.

        Returns:
            ``(*batch, n, n)``.
        """
        self._check_matrix(g, "inverse", "g")
        return torch.linalg.inv(g)

    # ------------------------------------------------------------------
    # Algebra
    # ------------------------------------------------------------------
    @abc.abstractmethod
    def hat(self, xi: Tensor) -> Tensor:
        """Coordinates ``(*batch, dim)`` to algebra matrices ``(*batch, n, n)``."""

    @abc.abstractmethod
    def vee(self, X: Tensor) -> Tensor:
        """Algebra matrices ``(*batch, n, n)`` to coordinates ``(*batch, dim)``."""

    @abc.abstractmethod
    def exp(self, xi: Tensor) -> Tensor:
        """Exponential map ``(*batch, dim) -> (*batch, n, n)``."""

    @abc.abstractmethod
    def log(self, g: Tensor) -> Tensor:
        """Logarithm ``(*batch, n, n) -> (*batch, dim)``; inverse of ``exp``
        inside the injectivity radius. Raises ``ValueError`` for matrices that
        are not (close to) group elements."""

    @abc.abstractmethod
    def adjoint(self, g: Tensor) -> Tensor:
        """``Ad_g`` as ``(*batch, dim, dim)``: ``Ad_g xi = vee(g hat(xi) g^-1)``."""

    @abc.abstractmethod
    def ad(self, xi: Tensor) -> Tensor:
        """``ad_xi``, ``(*batch, dim, dim)``: ``ad_xi eta = vee([hat xi, hat eta])``."""

    @abc.abstractmethod
    def left_jacobian(self, xi: Tensor) -> Tensor:
        """``J_l(xi) = sum_k ad_xi^k/(k+1)!`` as ``(*batch, dim, dim)``."""

    @abc.abstractmethod
    def left_jacobian_inv(self, xi: Tensor) -> Tensor:
        """``J_l(xi)^{-1}`` as ``(*batch, dim, dim)``."""

    def dexp_inv(self, xi: Tensor, v: Tensor) -> Tensor:
        """Left-trivialised inverse differential of exp in the body frame.

        If ``g(t) = g0 exp(Theta(t))`` solves ``g' = g hat(v)``, then
        ``Theta' = dexp_inv(Theta, v) = J_r(Theta)^{-1} v``
        ``= v + ad_Theta v / 2 + ad_Theta^2 v / 12 + ...``.

        Args:
            xi: ``(*batch, dim)``, the current ``Theta``.
            v: ``(*batch, dim)``, the body velocity.

        Returns:
            ``(*batch, dim)``.
        """
        self._check_vector(xi, "dexp_inv", "xi")
        self._check_vector(v, "dexp_inv", "v")
        self._check_pair(xi, v, "dexp_inv", ("xi", "v"), 1)
        return (self.left_jacobian_inv(-xi) @ v.unsqueeze(-1)).squeeze(-1)

    # ------------------------------------------------------------------
    # Drift off the group
    # ------------------------------------------------------------------
    @abc.abstractmethod
    def residual(self, g: Tensor) -> Tensor:
        """Distance-like measure of ``g`` from the group, ``(*batch,)``; 0 on it."""

    @abc.abstractmethod
    def project(self, g: Tensor) -> Tensor:
        """A group element near ``g`` (``(*batch, n, n)``); identity on the group."""

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Random group elements (the distribution is stated per group).

        Args:
            n: how many.
            generator: torch random generator, for reproducible draws.
            dtype: floating dtype of the result (drawn in float64, then cast).

        Returns:
            ``(n, matrix_size, matrix_size)``.

        Raises:
            ValueError: ``n`` is not a non-negative int.
            TypeError: ``dtype`` is not a floating dtype.
        """
        if isinstance(n, numbers.Integral) and not isinstance(n, bool):
            n = int(n)  # numpy integers too
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(
                f"{self.name}.sample: expected n to be a non-negative int, got {n!r}"
            )
        _check_float_dtype(dtype, f"{self.name}.sample")
        return self._sample(n, generator).to(dtype)

    @abc.abstractmethod
    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        """``n`` random elements in float64; ``sample`` validates and casts."""

    # ------------------------------------------------------------------
    # Input checks shared by every implementation
    # ------------------------------------------------------------------
    def _check_vector(self, xi: Tensor, method: str, arg: str = "xi") -> None:
        _check_tensor(xi, f"{self.name}.{method}", arg)
        if xi.ndim < 1 or xi.shape[-1] != self.dim:
            raise ValueError(
                f"{self.name}.{method}: expected {arg} of shape (*batch, {self.dim}),"
                f" got {tuple(xi.shape)}"
            )

    def _check_matrix(self, g: Tensor, method: str, arg: str = "g") -> None:
        _check_tensor(g, f"{self.name}.{method}", arg)
        n = self.matrix_size
        if g.ndim < 2 or g.shape[-2:] != (n, n):
            raise ValueError(
                f"{self.name}.{method}: expected {arg} of shape (*batch, {n}, {n}),"
                f" got {tuple(g.shape)}"
            )

    def _check_pair(
        self, a: Tensor, b: Tensor, method: str, args: tuple[str, str], core: int
    ) -> None:
        """Two inputs must share a dtype and have broadcastable batch shapes
        (all but the last ``core`` axes)."""
        where = f"{self.name}.{method}"
        if a.dtype != b.dtype:
            raise TypeError(
                f"{where}: expected {args[0]} and {args[1]} of the same dtype, got "
                f"{a.dtype} and {b.dtype}"
            )
        sa, sb = a.shape[:-core], b.shape[:-core]
        # Plain shape arithmetic (no try/except), so torch.compile can trace it.
        pairs = zip(sa[::-1], sb[::-1], strict=False)  # aligned from the right
        if any(x != y and 1 not in (x, y) for x, y in pairs):
            raise ValueError(
                f"{where}: batch shapes {tuple(sa)} of {args[0]} and "
                f"{tuple(sb)} of {args[1]} do not broadcast"
            )

    def _check_in_group(self, g: Tensor, method: str) -> None:
        """Raise ``ValueError`` where a finite ``g`` is off the group.

        The tolerance is ``eps**(1/4)`` of the dtype (about 1.2e-4 in float64,
        1.9e-2 in float32): loose enough for matrices that drifted through
        round-off, tight enough to reject matrices that are not group elements.
        Non-finite entries pass through (a diverged rollout is data).
        """
        # Limitation: matrices that drifted further than the tolerance (e.g. a
        # learned model's predictions) are rejected rather than silently
        # projected; callers decide whether to project() first.
        with torch.no_grad():
            res = self.residual(g.detach())
            tol = log_domain_tolerance(g.dtype)
            bad = torch.isfinite(res) & (res > tol)
            if bool(bad.any()):
                worst = float(res[bad].max())
                raise ValueError(
                    f"{self.name}.{method}: input is not a {self.name} element "
                    f"(residual {worst:.3g} > {tol:.2g}); call project() first"
                )


def log_domain_tolerance(dtype: torch.dtype) -> float:
    """Largest residual that ``log`` accepts: ``eps(dtype) ** 0.25``."""
    return math.sqrt(math.sqrt(torch.finfo(dtype).eps))


def _check_tensor(x: object, where: str, arg: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{where}: expected {arg} to be a torch.Tensor, got {type(x).__name__}"
        )
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{where}: expected a floating-point {arg} (float32 or "
            f"float64), got {x.dtype}"
        )


def _check_float_dtype(dtype: torch.dtype, where: str) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{where}: expected a floating dtype such as torch.float64, got {dtype}"
        )
