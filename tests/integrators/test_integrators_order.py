"""Observed convergence order equals declared order, for every registered method."""

from __future__ import annotations

import math

import pytest
import torch
from integrator_cases import cases_for, observed_order, run, step_counts

import integrators

ALL = integrators.available()


@pytest.mark.parametrize("name", ALL)
def test_declares_order_and_kind(name):
    m = integrators.get(name)
    assert m.name == name
    assert m.kind in ("classical", "symplectic", "lie", "map")
    assert m.order >= 1
    assert isinstance(m.requires, integrators.Capability)


@pytest.mark.parametrize("name", [n for n in ALL if integrators.get(n).kind != "map"])
def test_observed_order_matches_declared(name):
    method = integrators.get(name)
    counts = step_counts(method.order, method.kind)
    for case in cases_for(method):
        exact = case.exact()
        errors = [(run(method, case, n) - exact).abs().max().item() for n in counts]
        slope = observed_order(errors, counts)
        assert abs(slope - method.order) < 0.3, (case.name, errors, slope)


def test_map_is_exact_iteration():
    method = integrators.get("map")
    assert math.isinf(method.order)
    for case in cases_for(method):
        out = integrators.integrate(case.problem, case.x0, 0.1, 10, "map")[1][-1]
        torch.testing.assert_close(out, case.exact(), rtol=0, atol=1e-14)


def test_order_check_can_fail():
    """An order-1 result would not pass as order 2: the fit is discriminating."""
    method = integrators.get("euler")
    case = cases_for(method)[0]
    counts = step_counts(2)
    errors = [(run(method, case, n) - case.exact()).abs().max().item() for n in counts]
    assert abs(observed_order(errors, counts) - 2) > 0.5
