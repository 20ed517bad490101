"""Conformance checks that every :class:`~dynsys.groups.LieGroup` must pass.

``check_group(G)`` tests the group axioms and the contract of
docs/internals.md on random inputs, in float32 and float64, and raises an
``AssertionError`` whose message names the failed property. Derivatives
(``ad``, ``left_jacobian``, ``dexp_inv``) are compared with central finite
differences of ``exp``/``Ad`` at step ``h = eps**(1/3)``, whose error is
``O(h^2 + eps/h) = O(eps**(2/3))``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dynsys.groups._base import LieGroup

__all__ = ["check_group", "PROPERTIES"]

_BATCH = (2, 3)


class _Ctx:
    """Inputs and tolerances shared by the property checks for one dtype."""

    def __init__(self, G: LieGroup, dtype: torch.dtype, seed: int) -> None:
        self.G, self.dtype = G, dtype
        self.gen = torch.Generator().manual_seed(seed)
        eps = torch.finfo(dtype).eps
        self.tol = 2e3 * eps if dtype == torch.float64 else 3e2 * eps
        self.h = eps ** (1.0 / 3.0)
        self.fd_tol = 50.0 * eps ** (2.0 / 3.0)

    def vec(self, *shape: int, radius: float = 1.0) -> Tensor:
        """Tangent vectors with norm uniform in ``[0, radius)``."""
        z = torch.randn(*shape, self.G.dim, generator=self.gen, dtype=torch.float64)
        r = torch.rand(*shape, 1, generator=self.gen, dtype=torch.float64)
        z = z / torch.linalg.vector_norm(z, dim=-1, keepdim=True) * r * radius
        return z.to(self.dtype)

    def elements(self, *shape: int) -> Tensor:
        count = 1
        for s in shape:
            count *= s
        g = self.G.sample(count, generator=self.gen, dtype=self.dtype)
        return g.reshape(*shape, *g.shape[-2:])


def _fail(ctx: _Ctx, prop: str, detail: str) -> None:
    raise AssertionError(
        f"check_group({ctx.G.name}, {ctx.dtype}): property '{prop}' failed: {detail}"
    )


def _close(ctx: _Ctx, prop: str, got: Tensor, want: Tensor, tol: float) -> None:
    if got.shape != want.shape:
        _fail(ctx, prop, f"shape {tuple(got.shape)} != expected {tuple(want.shape)}")
    got64, want64 = got.detach().double(), want.detach().double()
    scale = want64.abs().amax().clamp_min(1.0)
    err = float((got64 - want64).abs().amax() / scale) if got.numel() else 0.0
    if not err <= tol:
        _fail(ctx, prop, f"max relative error {err:.3g} > tolerance {tol:.3g}")


def _hat_vee(ctx: _Ctx) -> None:
    G, xi = ctx.G, ctx.vec(*_BATCH)
    X = G.hat(xi)
    _close(ctx, "hat/vee inverse", G.vee(X), xi, ctx.tol)
    _close(ctx, "hat/vee inverse", G.hat(G.vee(X)), X, ctx.tol)


def _exp_log(ctx: _Ctx) -> None:
    G, xi = ctx.G, ctx.vec(*_BATCH)
    _close(ctx, "exp/log round trip", G.log(G.exp(xi)), xi, 10 * ctx.tol)
    g = ctx.elements(*_BATCH)
    _close(ctx, "exp/log round trip", G.exp(G.log(g)), g, 10 * ctx.tol)
    zero = torch.zeros(G.dim, dtype=ctx.dtype)
    _close(ctx, "exp/log round trip", G.exp(zero), G.identity(dtype=ctx.dtype), 0.0)
    # Near the identity, absolute error ~eps is attainable from the matrix
    # entries; an angle from arccos of the trace loses everything below
    # |xi| ~ sqrt(eps) (at 1e-6 in float64 its error is ~4e-10).
    tiny = ctx.vec(*_BATCH)
    tiny = 1e-6 * tiny / torch.linalg.vector_norm(tiny, dim=-1, keepdim=True)
    prop = "exp/log round trip near the identity (|xi| = 1e-6)"
    _close(ctx, prop, G.log(G.exp(tiny)), tiny, 10 * ctx.tol)


def _group_axioms(ctx: _Ctx) -> None:
    G = ctx.G
    g, h, k = ctx.elements(*_BATCH), ctx.elements(*_BATCH), ctx.elements(*_BATCH)
    e = G.identity(_BATCH, dtype=ctx.dtype)
    _close(ctx, "identity", G.compose(e, g), g, ctx.tol)
    _close(ctx, "identity", G.compose(g, e), g, ctx.tol)
    _close(ctx, "inverse", G.compose(g, G.inverse(g)), e, 10 * ctx.tol)
    _close(ctx, "inverse", G.compose(G.inverse(g), g), e, 10 * ctx.tol)
    left = G.compose(G.compose(g, h), k)
    _close(ctx, "associativity", left, G.compose(g, G.compose(h, k)), 10 * ctx.tol)


def _adjoint(ctx: _Ctx) -> None:
    G, g, h, xi = ctx.G, ctx.elements(*_BATCH), ctx.elements(*_BATCH), ctx.vec(*_BATCH)
    want = G.vee(g @ G.hat(xi) @ G.inverse(g))
    got = (G.adjoint(g) @ xi[..., None])[..., 0]
    _close(ctx, "adjoint Ad_g xi == vee(g hat(xi) g^-1)", got, want, 10 * ctx.tol)
    got = G.adjoint(G.compose(g, h))
    _close(
        ctx,
        "adjoint Ad_gh == Ad_g Ad_h",
        got,
        G.adjoint(g) @ G.adjoint(h),
        10 * ctx.tol,
    )


def _ad(ctx: _Ctx) -> None:
    G, xi, eta = ctx.G, ctx.vec(*_BATCH), ctx.vec(*_BATCH)
    X, Y = G.hat(xi), G.hat(eta)
    got = (G.ad(xi) @ eta[..., None])[..., 0]
    _close(
        ctx,
        "ad_xi eta == vee([hat xi, hat eta])",
        got,
        G.vee(X @ Y - Y @ X),
        10 * ctx.tol,
    )
    h = ctx.h
    dAd = (G.adjoint(G.exp(h * xi)) - G.adjoint(G.exp(-h * xi))) / (2 * h)
    _close(ctx, "ad is the derivative of Ad at the identity", dAd, G.ad(xi), ctx.fd_tol)


def _jacobians(ctx: _Ctx) -> None:
    G, xi, d = ctx.G, ctx.vec(*_BATCH), ctx.vec(*_BATCH)
    h = ctx.h
    g_inv = G.inverse(G.exp(xi))
    diff = (G.exp(xi + h * d) - G.exp(xi - h * d)) / (2 * h)
    got = (G.left_jacobian(xi) @ d[..., None])[..., 0]
    _close(
        ctx,
        "left_jacobian vs finite differences of exp",
        got,
        G.vee(diff @ g_inv),
        ctx.fd_tol,
    )
    eye = torch.eye(G.dim, dtype=ctx.dtype).expand(*_BATCH, G.dim, G.dim)
    prod = G.left_jacobian_inv(xi) @ G.left_jacobian(xi)
    _close(
        ctx,
        "left_jacobian_inv is the inverse of left_jacobian",
        prod,
        eye,
        10 * ctx.tol,
    )


def _dexp_inv(ctx: _Ctx) -> None:
    G, xi, v = ctx.G, ctx.vec(*_BATCH), ctx.vec(*_BATCH)
    w = G.dexp_inv(xi, v)
    h = ctx.h
    # Theta' = dexp_inv(Theta, v) must give d/dt exp(Theta) = exp(Theta) hat(v).
    diff = (G.exp(xi + h * w) - G.exp(xi - h * w)) / (2 * h)
    _close(
        ctx,
        "dexp_inv vs finite differences of exp",
        G.vee(G.inverse(G.exp(xi)) @ diff),
        v,
        ctx.fd_tol,
    )
    want = (G.left_jacobian_inv(-xi) @ v[..., None])[..., 0]
    _close(ctx, "dexp_inv(xi, v) == left_jacobian_inv(-xi) v", w, want, 10 * ctx.tol)


def _residual_project(ctx: _Ctx) -> None:
    G, g = ctx.G, ctx.elements(*_BATCH)
    zero = torch.zeros(_BATCH, dtype=ctx.dtype)
    _close(ctx, "residual ~0 on samples", G.residual(g), zero, 100 * ctx.tol)
    _close(ctx, "project is the identity on the group", G.project(g), g, 100 * ctx.tol)
    noise = 1e-3 * torch.randn(g.shape, generator=ctx.gen, dtype=torch.float64)
    p = g + noise.to(ctx.dtype)
    if not bool((G.residual(p) >= 0).all()):
        _fail(ctx, "residual non-negative", "negative residual off the group")
    q = G.project(p)
    _close(ctx, "residual ~0 after project", G.residual(q), zero, 100 * ctx.tol)
    _close(ctx, "project idempotent", G.project(q), q, 100 * ctx.tol)
    moved = float((q - p).abs().amax() / g.abs().amax().clamp_min(1.0))
    if not moved <= 100 * 1e-3:
        _fail(ctx, "project stays near its input", f"moved by {moved:.3g}")


def _method_calls(ctx: _Ctx, *batch: int) -> dict[str, tuple[Callable, tuple]]:
    """Each batched method with random arguments of leading shape ``batch``."""
    G = ctx.G
    g, h = ctx.elements(*batch), ctx.elements(*batch)
    xi, v = ctx.vec(*batch), ctx.vec(*batch)
    return {
        "hat": (G.hat, (xi,)),
        "vee": (G.vee, (G.hat(xi),)),
        "exp": (G.exp, (xi,)),
        "log": (G.log, (g,)),
        "compose": (G.compose, (g, h)),
        "inverse": (G.inverse, (g,)),
        "adjoint": (G.adjoint, (g,)),
        "ad": (G.ad, (xi,)),
        "dexp_inv": (G.dexp_inv, (xi, v)),
        "left_jacobian": (G.left_jacobian, (xi,)),
        "left_jacobian_inv": (G.left_jacobian_inv, (xi,)),
        "residual": (G.residual, (g,)),
        "project": (G.project, (g,)),
    }


def _call(ctx: _Ctx, prop: str, name: str, fn: Callable, args: tuple) -> Tensor:
    """``fn(*args)``; an exception fails ``prop`` naming the method ``name``."""
    try:
        return fn(*args)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        _fail(ctx, prop, f"{name} raised {type(exc).__name__}: {text}")


def _batching(ctx: _Ctx) -> None:
    count = _BATCH[0] * _BATCH[1]
    for name, (fn, args) in _method_calls(ctx, *_BATCH).items():
        single = torch.stack(
            [fn(*(a.flatten(0, 1)[i] for a in args)) for i in range(count)]
        )
        want = single.reshape(*_BATCH, *single.shape[1:])
        prop = f"batching ({name} over leading shape {_BATCH})"
        _close(ctx, prop, fn(*args), want, 10 * ctx.tol)


def _dtype(ctx: _Ctx) -> None:
    G = ctx.G
    n, d = G.matrix_size, G.dim
    shapes = {
        "hat": (3, n, n),
        "vee": (3, d),
        "log": (3, d),
        "adjoint": (3, d, d),
        "ad": (3, d, d),
        "dexp_inv": (3, d),
        "left_jacobian": (3, d, d),
        "left_jacobian_inv": (3, d, d),
        "residual": (3,),
    }
    calls = _method_calls(ctx, 3).items()
    outputs = {name: _call(ctx, "dtype and shapes", name, *c) for name, c in calls}
    outputs["identity"] = G.identity((3,), dtype=ctx.dtype)
    outputs["sample"] = G.sample(3, generator=ctx.gen, dtype=ctx.dtype)
    for name, out in outputs.items():
        if out.dtype != ctx.dtype:
            _fail(ctx, "dtype preserved", f"{name} returned {out.dtype}")
        want = shapes.get(name, (3, n, n))
        if tuple(out.shape) != want:
            _fail(ctx, "output shapes", f"{name} returned {tuple(out.shape)} != {want}")


def _differentiable(ctx: _Ctx) -> None:
    """Autograd through exp, log and dexp_inv matches central differences."""
    G, xi, d = ctx.G, ctx.vec(3), ctx.vec(3)
    w_g = torch.randn(3, G.matrix_size, G.matrix_size, generator=ctx.gen)
    w_x = torch.randn(3, G.dim, generator=ctx.gen)
    w_g, w_x = w_g.to(ctx.dtype), w_x.to(ctx.dtype)

    def loss(z: Tensor) -> Tensor:
        g = G.exp(z)
        # log(exp(z)) is z, but autograd must go through both maps to get it.
        return (w_g * g).sum() + (w_x * G.log(g)).sum() + (w_x * G.dexp_inv(z, d)).sum()

    z = xi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(z), z)
    if not bool(torch.isfinite(grad).all()):
        _fail(ctx, "differentiable", "non-finite gradient through exp/log/dexp_inv")
    h = ctx.h
    with torch.no_grad():
        fd = (loss(xi + h * d) - loss(xi - h * d)) / (2 * h)
    got = (grad * d).sum()
    _close(ctx, "differentiable (autograd vs finite differences)", got, fd, ctx.fd_tol)


def _sample(ctx: _Ctx) -> None:
    G = ctx.G
    a = G.sample(4, generator=torch.Generator().manual_seed(7), dtype=ctx.dtype)
    b = G.sample(4, generator=torch.Generator().manual_seed(7), dtype=ctx.dtype)
    n = G.matrix_size
    if tuple(a.shape) != (4, n, n):
        _fail(ctx, "sample", f"sample(4) has shape {tuple(a.shape)} != (4, {n}, {n})")
    _close(ctx, "sample reproducible with a seeded generator", a, b, 0.0)


#: Property checks in the order they run: (name, check).
PROPERTIES: list[tuple[str, Callable[[_Ctx], None]]] = [
    ("sample", _sample),
    ("dtype and shapes", _dtype),
    ("hat/vee inverse", _hat_vee),
    ("exp/log round trip", _exp_log),
    ("group axioms", _group_axioms),
    ("adjoint", _adjoint),
    ("ad", _ad),
    ("left Jacobians", _jacobians),
    ("dexp_inv", _dexp_inv),
    ("residual and project", _residual_project),
    ("batching", _batching),
    ("differentiable", _differentiable),
]


def check_group(
    G: LieGroup,
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> None:
    """Run the conformance suite on ``G``.

    Tangent vectors are drawn with norm below 1 (inside the injectivity
    radius of every shipped group); elements come from ``G.sample``.

    Args:
        G: the group to check.
        dtype: ``torch.float32`` or ``torch.float64``; ``None`` checks both.
        seed: seed of the random inputs.

    Raises:
        AssertionError: naming the first property that fails (an exception
            raised inside a check is reported as that property failing).
        TypeError: if ``G`` is not a :class:`LieGroup`.
    """
    if not isinstance(G, LieGroup):
        raise TypeError(f"check_group: expected a LieGroup, got {type(G).__name__}")
    for dt in (torch.float32, torch.float64) if dtype is None else (dtype,):
        ctx = _Ctx(G, dt, seed)
        for prop, check in PROPERTIES:
            try:
                check(ctx)
            except AssertionError:
                raise
            except Exception as exc:  # a crash is a failed property, named
                text = " ".join(str(exc).split())[:300]
                _fail(ctx, prop, f"raised {type(exc).__name__}: {text}")
