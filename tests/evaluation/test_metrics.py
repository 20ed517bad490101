"""Metrics on hand-built cases whose answers are known in closed form."""

from __future__ import annotations

import math

import pytest
import torch
from eval_standins import LinearOp, PlaneSystem, rotation

from evaluation import (
    drift_exponent,
    rollout,
    score,
    step_jacobians,
    symplecticity_defect,
)
from evaluation.metrics import valid_prediction_time


def _rollout(A, steps, batch=3):
    x0 = torch.randn(batch, A.shape[0], dtype=torch.float64)
    return rollout(LinearOp(A), x0, steps)


def test_volume_of_linear_map_is_steps_log_det():
    A = torch.tensor([[1.1, 0.3], [-0.2, 0.7]], dtype=torch.float64)
    pred = _rollout(A, 40)
    s = score(PlaneSystem(), pred, pred, op=LinearOp(A), jacobian_points=40)
    expect = 40 * math.log(abs(torch.linalg.det(A).item()))
    assert s.summary["log_volume_final"] == pytest.approx(expect, rel=1e-12)
    assert s.jacobian_series["log_det"].shape == (40, 3)


def test_volume_with_subsampled_jacobians_uses_stride():
    A = torch.diag(torch.tensor([2.0, 0.25], dtype=torch.float64)) * 1.5
    pred = _rollout(A, 12)
    s = score(PlaneSystem(), pred, pred, op=LinearOp(A), jacobian_points=4)
    assert s.jacobian_steps.tolist() == [0, 3, 6, 9]
    expect = 12 * math.log(0.5 * 2.25)
    assert s.summary["log_volume_final"] == pytest.approx(expect, rel=1e-12)


def test_volume_counts_a_short_last_interval_once():
    # 10 steps sampled at 3 points: stride 4 gives frames 0, 4, 8 and the last
    # sample covers only steps 8 and 9, so the total is 10 log|det A|, not 12.
    A = torch.diag(torch.tensor([2.0, 0.25], dtype=torch.float64)) * 1.5
    pred = _rollout(A, 10)
    s = score(PlaneSystem(), pred, pred, op=LinearOp(A), jacobian_points=3)
    assert s.jacobian_steps.tolist() == [0, 4, 8]
    per_step = math.log(0.5 * 2.25)
    vol = s.jacobian_series["log_volume"][:, 0]
    assert vol.tolist() == pytest.approx([4 * per_step, 8 * per_step, 10 * per_step])
    assert s.summary["log_volume_final"] == pytest.approx(10 * per_step, rel=1e-12)


def test_slogdet_keeps_huge_determinants_finite():
    A = torch.eye(8, dtype=torch.float64) * 1e60
    jac = step_jacobians(LinearOp(A), torch.ones(2, 8, dtype=torch.float64))
    assert torch.linalg.slogdet(jac).logabsdet[0] == pytest.approx(480 * math.log(10))


def test_symplecticity_defect_rotation_zero_scaling_known():
    R = rotation(0.37)
    assert symplecticity_defect(R, 1).item() == pytest.approx(0.0, abs=1e-15)
    # J = a I: J^T Omega J - Omega = (a^2 - 1) Omega, ||Omega||_F = sqrt(2)
    a = 1.2
    S = a * torch.eye(2, dtype=torch.float64)
    expect = abs(a * a - 1) * math.sqrt(2)
    assert symplecticity_defect(S, 1).item() == pytest.approx(expect, rel=1e-14)
    s = score(PlaneSystem(), _rollout(S, 5), _rollout(S, 5), op=LinearOp(S))
    assert s.summary["symplecticity_median"] == pytest.approx(expect, rel=1e-12)


def test_energy_drift_of_scaling_map_is_known_series():
    a = 1.01
    pred = _rollout(a * torch.eye(2, dtype=torch.float64), 50)
    s = score(PlaneSystem(), pred, pred)
    t = torch.arange(51, dtype=torch.float64)
    expect = a ** (2 * t) - 1  # E_t = a^{2t} E_0
    drift = s.series["drift/energy"]
    assert torch.allclose(drift, expect[:, None].expand_as(drift), rtol=1e-10)
    assert s.summary["drift_final"] == pytest.approx(expect[-1].item(), rel=1e-10)
    assert s.summary["drift_max"] == pytest.approx(expect[-1].item(), rel=1e-10)


def test_rotation_conserves_energy_to_roundoff():
    pred = _rollout(rotation(0.1), 200)
    s = score(PlaneSystem(), pred, pred)
    assert s.summary["drift_max"] < 1e-13


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_drift_exponent_recovers_power_law(p):
    t = torch.arange(1000, dtype=torch.float64)
    assert drift_exponent(3e-6 * t**p) == pytest.approx(p, rel=1e-10)


def test_drift_exponent_needs_three_points():
    assert math.isnan(drift_exponent(torch.zeros(100)))


def test_vpt_first_step_over_threshold():
    ref = torch.zeros(11, 1, 2, dtype=torch.float64)
    ref[:, 0, 0] = torch.tensor([1.0, -1.0] * 5 + [1.0])  # sigma = 1
    pred = ref.clone()
    pred[:, 0, 1] = 0.1 * torch.arange(11)  # error 0.1 t
    _, vpt = valid_prediction_time(pred, ref, 0.45)
    assert vpt.tolist() == [5]
    _, vpt = valid_prediction_time(ref, ref, 0.45)
    assert vpt.tolist() == [10]


def test_divergence_recorded_in_summary():
    pred = _rollout(rotation(0.2), 30, batch=4)
    pred[17, 2, 1] = float("nan")
    from evaluation.rollout import freeze_diverged

    freeze_diverged(pred)
    ref = _rollout(rotation(0.2), 30, batch=4)
    s = score(PlaneSystem(), pred, ref)
    assert s.divergence_step.tolist() == [-1, -1, 17, -1]
    assert s.summary["divergence_step"] == 17
    assert s.summary["diverged_fraction"] == 0.25
    assert s.vpt_steps[2] <= 17


def test_score_rejects_mismatched_shapes():
    a = torch.zeros(5, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="batch and state size"):
        score(PlaneSystem(), a, torch.zeros(5, 3, 2, dtype=torch.float64))


@pytest.mark.parametrize("theta", [1e-9, 0.3, 2.0, math.pi - 1e-6])
def test_geodesic_error_of_known_rotation(theta):
    import dynsys
    from dynsys.groups import get_group

    system = dynsys.get_system("so3-rotation")
    G = get_group("so3")
    axis = torch.tensor([1.0, -2.0, 2.0], dtype=torch.float64) / 3.0
    h = G.sample(4, generator=torch.Generator().manual_seed(1))
    g = G.compose(h, G.exp(theta * axis).expand(4, 3, 3))
    ref = h.reshape(1, 4, 9).repeat(2, 1, 1)
    pred = g.reshape(1, 4, 9).repeat(2, 1, 1)
    pred[1] *= 1.05  # off the group: projected back before the geodesic
    s = score(system, pred, ref)
    part = system.state_layout[0].name
    geo = s.series[f"geodesic_error/{part}"]
    assert torch.allclose(geo, torch.full_like(geo, theta), rtol=1e-6, atol=1e-9)
    res = s.series[f"group_residual/{part}"]
    assert res[0].max() < 1e-12 and (res[1] > 1e-2).all()


def test_time_units_come_from_the_reference_trajectory():
    import dynsys

    system = dynsys.get_system("harmonic-oscillator")
    ref = dynsys.simulate(system, system.sample(2, seed=0), steps=8, dt=0.25)
    s = score(system, ref.states.clone(), ref)
    assert s.dt == 0.25 and s.summary["vpt_time"] == pytest.approx(8 * 0.25)


def test_score_rejects_trajectories_at_different_times():
    import dynsys

    system = dynsys.get_system("harmonic-oscillator")
    x0 = system.sample(2, seed=0)
    ref = dynsys.simulate(system, x0, steps=8, dt=0.25)
    coarse = dynsys.simulate(system, x0, steps=8, dt=0.5)
    with pytest.raises(ValueError, match="frame 1: 0.5 vs 0.25"):
        score(system, coarse, ref)
    assert score(system, ref, ref).summary["state_error_final"] == 0.0


class _VectorInvariantSystem:
    """The state is itself a vector invariant ``v`` plus a scalar ``s``."""

    def invariants(self, x):
        return {"v_x": x[..., 0], "v_y": x[..., 1], "s": x[..., 2]}


def test_vector_invariant_components_share_the_vector_norm():
    from evaluation.metrics import invariant_drift

    # v = (2, 0) rotated by theta: the y component starts at 0, so a
    # per-component scale would report theta / 1e-12.
    theta = 1e-3
    pred = torch.tensor(
        [[[2.0, 0.0, -4.0]], [[2 * math.cos(theta), 2 * math.sin(theta), -5.0]]],
        dtype=torch.float64,
    )
    drift = invariant_drift(_VectorInvariantSystem(), pred)
    assert drift["drift/v_y"][1, 0].item() == pytest.approx(math.sin(theta) / 1)
    assert drift["drift/v_x"][1, 0].item() == pytest.approx(1 - math.cos(theta))
    assert drift["drift/s"][1, 0].item() == pytest.approx(0.25)
