"""The adaptive Dormand-Prince solver: accuracy, span, end time, failures."""

from __future__ import annotations

import math

import pytest
import torch
from integrator_problems import Kepler, TimeDependentScalar

import integrators
from integrators.adaptive import DOPRI5, DOPRI5_ERROR_WEIGHTS


class Recording:
    """Wraps a vector field and records every time it is evaluated at."""

    def __init__(self, field):
        self.field, self.times = field, []

    def vector_field(self, t, x):
        self.times.append(float(t))
        return self.field(t, x)


class Blowup:
    """``x' = x^2``, ``x(0) = 1``: ``x = 1 / (1 - t)`` blows up at ``t = 1``."""

    def vector_field(self, t, x):
        return x * x


def test_embedded_pair_weights():
    """b5 and b4 both sum to one: error weights sum to zero (HNW Table II.5.2)."""
    assert abs(sum(DOPRI5_ERROR_WEIGHTS)) < 1e-16
    assert DOPRI5.b == DOPRI5.A[-1]  # first-same-as-last


@pytest.mark.parametrize("rtol", [1e-6, 1e-9, 1e-12])
def test_error_follows_tolerance(rtol):
    x0 = Kepler.pericentre(0.6)[None]
    times, xs = integrators.solve_adaptive(
        Kepler(), x0, (0.0, 3.0), rtol=rtol, atol=rtol
    )
    err = (xs[-1, 0] - Kepler.exact(0.6, 3.0)).abs().max().item()
    assert err < 300 * rtol
    assert err > 1e-16 or rtol < 1e-10


def test_time_dependent_field_and_t_eval():
    p = TimeDependentScalar()
    x0 = torch.tensor([[1.0], [-3.0]], dtype=torch.float64)
    t_eval = [0.5, 1.25, 2.0]
    times, xs = integrators.solve_adaptive(p, x0, (0.5, 2.0), 1e-11, 1e-13, t_eval)
    assert times.tolist() == t_eval
    for t, x in zip(t_eval, xs, strict=True):
        torch.testing.assert_close(x, p.exact(x0, t, 0.5), rtol=1e-9, atol=0)


@pytest.mark.parametrize("span", [(0.0, 0.7), (0.3, 1.0 / 3.0 + 2.0), (2.0, -1.1)])
def test_never_evaluates_outside_span_and_ends_exactly(span):
    p = Recording(TimeDependentScalar().vector_field)
    x0 = torch.ones(3, 2, dtype=torch.float64)
    times, xs = integrators.solve_adaptive(p, x0, span, rtol=1e-8, atol=1e-10)
    lo, hi = min(span), max(span)
    assert all(lo <= t <= hi for t in p.times)
    assert times[0].item() == span[0] and times[-1].item() == span[1]
    assert xs.shape == (len(times), 3, 2)
    exact = TimeDependentScalar().exact(x0, span[1], span[0])
    torch.testing.assert_close(xs[-1], exact, rtol=1e-7, atol=0)


def test_blowup_raises_with_time_reached():
    x0 = torch.ones(1, 1, dtype=torch.float64)
    with pytest.raises(integrators.IntegrationError, match="underflow") as info:
        integrators.solve_adaptive(Blowup(), x0, (0.0, 2.0))
    assert 0.999 < info.value.t_reached < 1.0
    assert f"reached t={info.value.t_reached}" in str(info.value)


def test_step_limit_raises_with_time_reached():
    x0 = torch.ones(1, 1, dtype=torch.float64)
    with pytest.raises(integrators.IntegrationError, match="more than 5 steps") as info:
        integrators.solve_adaptive(TimeDependentScalar(), x0, (0.0, 10.0), max_steps=5)
    assert 0.0 < info.value.t_reached < 10.0


def test_non_finite_field_reports_failure_not_nan():
    class NaNAfterHalf:
        def vector_field(self, t, x):
            return x * (float("nan") if t > 0.5 else 1.0)

    with pytest.raises(integrators.IntegrationError) as info:
        integrators.solve_adaptive(
            NaNAfterHalf(), torch.ones(1, 1, dtype=torch.float64), (0.0, 1.0)
        )
    assert 0.49 < info.value.t_reached <= 0.5


def test_tolerance_below_dtype_warns_at_caller():
    x0 = torch.ones(1, 1, dtype=torch.float32)
    with pytest.warns(UserWarning, match="rtol") as record:
        integrators.solve_adaptive(TimeDependentScalar(), x0, (0.0, 0.1), rtol=1e-9)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtol": 0.0}, "rtol must be a finite positive"),
        ({"rtol": -1e-6}, "rtol must be a finite positive"),
        ({"atol": -1.0}, "atol must be a finite non-negative"),
        ({"t_eval": [0.5, 2.0]}, "t_eval must lie inside"),
        ({"t_eval": [0.5, 0.2]}, "strictly monotone"),
        ({"t_span": (0.0, math.inf)}, "t_span must be finite"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"t_span": (0.0, 1.0), **kwargs}
    x0 = torch.ones(1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        integrators.solve_adaptive(TimeDependentScalar(), x0, **args)


def test_problem_without_vector_field_is_value_error():
    x0 = torch.ones(1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="has no vector_field"):
        integrators.solve_adaptive(object(), x0, (0.0, 1.0))


def test_dopri5_integrate_lands_on_grid():
    x0 = Kepler.pericentre(0.6)[None]
    times, xs = integrators.integrate(Kepler(), x0, 0.5, 12, "dopri5")
    assert times[-1].item() == 6.0
    torch.testing.assert_close(xs[-1, 0], Kepler.exact(0.6, 6.0), rtol=0, atol=1e-7)


def test_float32_preserved():
    x0 = torch.ones(2, 1, dtype=torch.float32)
    times, xs = integrators.solve_adaptive(
        TimeDependentScalar(), x0, (0.0, 1.0), 1e-5, 1e-7
    )
    assert xs.dtype == torch.float32 and times.dtype == torch.float32
