"""Every registered system meets the System contract (docs/internals.md)."""

from __future__ import annotations

import json

import pytest
import torch
from system_cases import CASES, STEPS, build, case_id, tolerance

import dynsys
import integrators
from dynsys.systems import StatePart

#: DESIGN.md's system names (the learning task modular-addition lives in learners).
DESIGN_NAMES = {
    "cyclic-shift",
    "circle-rotation",
    "standard-map",
    "so3-rotation",
    "rigid-body",
    "heavy-top",
    "se2-unicycle",
    "se2-twist",
    "se3-rigid-body",
    "group-flow",
    "harmonic-oscillator",
    "pendulum",
    "kepler",
    "henon-heiles",
    "linear-symplectic",
}


def test_every_design_name_is_registered_and_tested():
    assert DESIGN_NAMES <= set(dynsys.available_systems())
    assert {c[0] for c in CASES} == set(dynsys.available_systems())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_attributes_layout_and_sampling(case):
    system = build(case)
    assert system.name == case[0]
    assert system.dt > 0 and system.default_integrator in integrators.available()
    assert integrators.get(system.default_integrator).supports(system)
    layout = system.state_layout
    assert all(isinstance(p, StatePart) for p in layout)
    assert [p.start for p in layout[1:]] == [p.stop for p in layout[:-1]]
    assert layout[0].start == 0 and layout[-1].stop == system.state_dim
    x = system.sample(5, seed=3)
    assert x.shape == (5, system.state_dim) and x.dtype == torch.float64
    assert torch.equal(x, system.sample(5, seed=3))
    assert not torch.equal(x, system.sample(5, seed=4))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_params_are_json_and_rebuild_the_system(case):
    system = build(case)
    params = json.loads(json.dumps(system.params))
    again = dynsys.get_system(system.name, **params)
    assert again.params == system.params
    x = system.sample(3)
    assert torch.equal(
        again.step_map(x) if system.is_discrete else again.vector_field(0.3, x),
        system.step_map(x) if system.is_discrete else system.vector_field(0.3, x),
    )


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_invariants_and_constraints_have_batch_shape(case):
    system = build(case)
    x = system.sample(6).reshape(2, 3, -1)
    for value in [*system.invariants(x).values(), *system.constraints(x).values()]:
        assert value.shape == (2, 3)
    for value in system.constraints(x).values():
        assert float(value.max()) < 1e-12


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_ground_truth_conserves_invariants_and_constraints(case):
    system = build(case)
    steps = STEPS
    traj = dynsys.simulate(system, system.sample(4, seed=1), steps)
    assert traj.states.shape == (steps + 1, 4, system.state_dim)
    for name, drift in traj.invariant_drift().items():
        assert float(drift.max()) < tolerance(case, name), name
    for name, resid in traj.constraint_residuals().items():
        assert float(resid.max()) < 1e-11, name


@pytest.mark.parametrize(
    "case", [c for c in CASES if hasattr(build(c), "lie_field")], ids=case_id
)
def test_lie_vector_field_is_tangent(case):
    """For group-valued systems the ambient field is g hat(xi) on the g block."""
    system = build(case)
    x = system.sample(3)
    g, y = system.split_state(x)
    assert torch.equal(system.join_state(g, y), x)
    dx = system.vector_field(0.1, x)
    gdot, _ = system.split_state(dx)
    xi, _ = system.lie_field(0.1, g, y)
    assert torch.allclose(gdot, g @ system.group.hat(xi), atol=1e-14)
