"""Registry, ``integrate`` contract, bad input, dtype, batching and autograd."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from integrator_cases import cases_for
from integrator_problems import FreeRigidBody, Kepler, Rotation2, TimeDependentScalar

import integrators
from integrators.adaptive import _DP_B4, DOPRI5
from integrators.classical import RK4, ButcherTableau, _order_residuals
from integrators.lie import CROUCH_GROSSMAN3, CrouchGrossman, _check_cg_condition
from integrators.symplectic import YOSHIDA6, CompositionScheme

DESIGN_NAMES = [
    "euler",
    "midpoint",
    "rk4",
    "dopri5",
    "symplectic-euler",
    "verlet",
    "yoshida4",
    "yoshida6",
    "implicit-midpoint",
    "lie-euler",
    "rkmk4",
    "crouch-grossman3",
    "map",
]
ALL = integrators.available()


def test_design_names_registered():
    assert set(DESIGN_NAMES) <= set(ALL)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="unknown integrator 'rk5'.*verlet"):
        integrators.get("rk5")


def test_compatible_per_capability():
    assert "verlet" in integrators.compatible(Kepler())
    assert "rk4" in integrators.compatible(Kepler())
    assert set(integrators.compatible(FreeRigidBody())) == {
        "lie-euler",
        "rkmk4",
        "crouch-grossman3",
        "rigid-body-midpoint",
    }
    assert integrators.compatible(Rotation2()) == ["map"]
    assert "verlet" not in integrators.compatible(TimeDependentScalar())


@pytest.mark.parametrize(
    ("problem", "method", "named"),
    [
        (FreeRigidBody(), "verlet", "rkmk4"),
        (Kepler(), "rkmk4", "yoshida4"),
        (Rotation2(), "rk4", "map"),
        (TimeDependentScalar(), "rigid-body-midpoint", "dopri5"),
    ],
)
def test_unfit_method_names_alternatives(problem, method, named):
    x0 = torch.zeros(1, 12, dtype=torch.float64)
    with pytest.raises(ValueError, match=f"needs a .*methods that can: .*{named}"):
        integrators.integrate(problem, x0, 0.1, 1, method)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": math.nan}, "dt"),
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"steps": 10, "save_every": 3}, "save_every"),
        ({"save_every": 0}, "save_every"),
    ],
)
def test_bad_grid_raises(kwargs, match):
    args = {"dt": 0.1, "steps": 4, **kwargs}
    x0 = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        integrators.integrate(TimeDependentScalar(), x0, method="rk4", **args)


def test_integer_state_is_type_error():
    with pytest.raises(TypeError, match="floating"):
        integrators.integrate(
            TimeDependentScalar(), torch.ones(1, 2, dtype=torch.int64), 0.1, 1, "rk4"
        )


def test_frames_times_t0_and_progress():
    p, x0, seen = TimeDependentScalar(), torch.ones(2, 3, dtype=torch.float64), []
    times, xs = integrators.integrate(
        p, x0, 0.01, 300, "rk4", save_every=100, t0=0.4, progress=seen.append
    )
    assert xs.shape == (4, 2, 3) and seen == [100, 200, 300]
    torch.testing.assert_close(
        times, 0.4 + torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    )
    assert torch.equal(xs[0], x0)
    torch.testing.assert_close(xs[-1], p.exact(x0, 3.4, 0.4), rtol=1e-10, atol=0)


def test_zero_steps_returns_initial_frame():
    x0 = torch.ones(2, 4, dtype=torch.float64)
    times, xs = integrators.integrate(Kepler(), x0, 0.1, 0, "verlet")
    assert times.tolist() == [0.0] and torch.equal(xs[0], x0)


@pytest.mark.parametrize("name", ALL)
def test_dtype_and_batch_shape_preserved(name):
    method = integrators.get(name)
    case = cases_for(method, torch.float32)[0]
    x0 = case.x0.expand(3, *case.x0.shape).clone()  # batch (3, b)
    times, xs = integrators.integrate(case.problem, x0, 0.05, 4, name)
    assert xs.dtype == torch.float32 and times.dtype == torch.float32
    assert xs.shape == (5, *x0.shape)
    assert torch.isfinite(xs).all()


@pytest.mark.parametrize("name", ALL)
def test_gradients_flow_through_steps(name):
    """d(final state)/d(x0) by autograd agrees with central differences."""
    method = integrators.get(name)
    case = cases_for(method)[0]
    x0 = case.x0[:1].clone().requires_grad_(True)
    weights = torch.linspace(0.5, 1.5, x0.shape[-1], dtype=torch.float64)

    def loss(x):
        return (
            integrators.integrate(case.problem, x, 0.05, 5, name)[1][-1] * weights
        ).sum()

    (grad,) = torch.autograd.grad(loss(x0), x0)
    direction = torch.linspace(-1.0, 1.0, x0.shape[-1], dtype=torch.float64)[None]
    h = 1e-6
    with torch.no_grad():
        fd = (loss(x0 + h * direction) - loss(x0 - h * direction)) / (2 * h)
    assert abs((grad * direction).sum().item() - fd.item()) < 1e-6 * max(
        1.0, abs(fd.item())
    )


def test_tableau_rejects_wrong_coefficients():
    b = list(RK4.b)
    b[1], b[2] = b[1] + Fraction(1, 100), b[2] - Fraction(1, 100)
    with pytest.raises(ValueError, match="order-"):
        ButcherTableau(A=RK4.A, b=tuple(b), c=RK4.c, order=4)


def test_order_five_conditions_separate_dormand_prince_pair():
    """The 5th-order weights of Dormand-Prince meet all 9 order-5 tree
    conditions exactly; the embedded 4th-order weights meet order 4 only."""
    groups = _order_residuals([list(r) for r in DOPRI5.A], list(DOPRI5.b), DOPRI5.c)
    assert [len(g) for g in groups] == [1, 1, 2, 4, 9]
    assert all(r == 0 for g in groups for r in g)
    with pytest.raises(ValueError, match="order-5"):
        ButcherTableau(A=DOPRI5.A, b=_DP_B4, c=DOPRI5.c, order=5)
    ButcherTableau(A=DOPRI5.A, b=_DP_B4, c=DOPRI5.c, order=4)


def test_crouch_grossman_condition_is_not_implied_by_classical_order():
    """RK4 meets every classical order-3 condition, yet its frozen-flow products
    give ``sum b_i^2 c_i + 2 sum_{i<j} b_i c_i b_j = 13/36``, not ``1/3``."""
    _check_cg_condition(CROUCH_GROSSMAN3)
    with pytest.raises(ValueError, match="13/36 != 1/3"):
        _check_cg_condition(RK4)
    rk4_as_order3 = ButcherTableau(A=RK4.A, b=RK4.b, c=RK4.c, order=3)
    with pytest.raises(ValueError, match="13/36 != 1/3"):
        CrouchGrossman("cg-from-rk4", rk4_as_order3)
    with pytest.raises(ValueError, match="order 4 claimed"):
        CrouchGrossman("cg-order4", RK4)


def test_composition_rejects_wrong_coefficients():
    g = list(YOSHIDA6.gammas)
    g[0] += 1e-6
    g[-1] += 1e-6
    g[3] -= 2e-6
    with pytest.raises(ValueError, match="order-6"):
        CompositionScheme(tuple(g), order=6)


def test_integrator_without_step_is_type_error():
    class Empty(integrators.Integrator):
        name, order, kind, requires = "empty", 1, "classical", integrators.ODE

    with pytest.raises(TypeError, match="override"):
        Empty().step(TimeDependentScalar(), 0.0, torch.ones(1, 1), 0.1)


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        integrators.register(integrators.get("rk4"))


@pytest.mark.parametrize("name", ["implicit-midpoint", "dopri5", "rigid-body-midpoint"])
def test_compile_rejects_iterative_methods(name):
    case = cases_for(integrators.get(name))[0]
    with pytest.raises(ValueError, match="compile=True needs an explicit method"):
        integrators.integrate(case.problem, case.x0, 0.1, 4, name, compile=True)


@pytest.mark.parametrize(
    ("save_every", "layout"), [(1, (32, 32)), (3, (30, 10)), (50, (25, 0))]
)
def test_compile_chunk_layout(save_every, layout):
    from integrators._compiled import chunk_layout

    assert chunk_layout(save_every) == layout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rk4", "yoshida4", "rkmk4", "heavy-top-splitting"])
def test_compiled_path_matches_eager(name):
    """compile=True gives the eager frames (torch.compile on CPU: slow to build).

    40 steps: one compiled chunk of MAX_CHUNK = 32 steps, then 8 eager ones
    (fewer than 32 steps would never call the compiled chunk)."""
    method = integrators.get(name)
    case = cases_for(method)[0]
    eager = integrators.integrate(case.problem, case.x0, 0.01, 40, name, save_every=1)
    fused = integrators.integrate(
        case.problem, case.x0, 0.01, 40, name, save_every=1, compile=True
    )
    torch.testing.assert_close(fused[0], eager[0])
    torch.testing.assert_close(fused[1], eager[1], rtol=1e-12, atol=1e-12)


class _Decay:
    """``x' = -x``: exact solution ``x0 exp(-t)``."""

    def vector_field(self, t, x):
        return -x


def test_compiled_chunks_are_static_per_batch_shape():
    """Each batch shape gets its own static graph (a shared dynamic-shape graph
    ran 1.5-2x slower), and each gives the eager frames: 3 full chunks of 32
    steps and 4 eager steps."""
    from integrators._compiled import _cache_for

    problem = _Decay()
    for batch in (2, 3):
        x0 = torch.linspace(1.0, 2.0, batch, dtype=torch.float64)[:, None]
        eager = integrators.integrate(problem, x0, 0.01, 100, "euler", save_every=50)
        fused = integrators.integrate(
            problem, x0, 0.01, 100, "euler", save_every=50, compile=True
        )
        torch.testing.assert_close(fused[1], eager[1], rtol=1e-14, atol=0.0)
        # Forward Euler is exactly x0 (1 - dt)^n on this problem.
        torch.testing.assert_close(fused[1][-1], x0 * 0.99**100, rtol=1e-13, atol=0.0)
    shapes = sorted(key[-3] for key in _cache_for(problem))
    assert shapes == [(2, 1), (3, 1)]
    # Batch axes are flattened: a (1, 3) batch reuses the graph of (3,).
    x0 = torch.linspace(1.0, 2.0, 3, dtype=torch.float64).reshape(1, 3, 1)
    fused = integrators.integrate(
        problem, x0, 0.01, 100, "euler", save_every=50, compile=True
    )
    assert fused[1].shape == (3, 1, 3, 1) and len(_cache_for(problem)) == 2
    torch.testing.assert_close(fused[1][-1], x0 * 0.99**100, rtol=1e-13, atol=0.0)


def test_compiled_path_tiles_large_batches(monkeypatch):
    """Batches above MAX_TILE run tile by tile (the last tile padded): the
    frames are the eager ones in the caller's batch shape, and progress rises
    to the step count."""
    import integrators._integrate as integrate_module

    monkeypatch.setattr(integrate_module, "MAX_TILE", 4)
    x0 = torch.arange(1.0, 11.0, dtype=torch.float64).reshape(5, 2, 1)
    seen: list[int] = []
    args = (_Decay(), x0, 0.01, 64, "euler")
    eager = integrators.integrate(*args, save_every=32)
    fused = integrators.integrate(
        *args, save_every=32, compile=True, progress=seen.append
    )
    assert fused[1].shape == (3, 5, 2, 1)
    torch.testing.assert_close(fused[1], eager[1], rtol=1e-14, atol=0.0)
    assert seen == sorted(seen) and seen[-1] == 64


class _Stiff:
    """``x' = -1000 x``: fixed-point iteration diverges for ``dt > 2e-3``."""

    def vector_field(self, t, x):
        return -1000.0 * x


@pytest.mark.xfail(
    raises=integrators.IntegrationError,
    strict=True,
    reason="implicit midpoint uses fixed-point iteration, not Newton; "
    "it fails (with IntegrationError) when dt * Lipschitz >= 2",
)
def test_implicit_midpoint_on_stiff_problem():
    x0 = torch.ones(1, 1, dtype=torch.float64)
    xs = integrators.integrate(_Stiff(), x0, 0.01, 10, "implicit-midpoint")[1]
    exact_amplification = (1 - 5.0) / (1 + 5.0)  # midpoint rule on -1000 x, h = 0.01
    torch.testing.assert_close(xs[-1], x0 * exact_amplification**10)
