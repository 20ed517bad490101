"""Rollout shapes, exactness on linear maps, divergence handling, dtypes."""

from __future__ import annotations

import pytest
import torch
from eval_standins import LinearOp, rotation

from evaluation import divergence_step, rollout
from evaluation.rollout import CHECK_EVERY


def test_linear_rollout_is_matrix_power():
    A = rotation(0.3) * 1.01
    x0 = torch.randn(5, 2, dtype=torch.float64)
    pred = rollout(LinearOp(A), x0, 25)
    assert pred.shape == (26, 5, 2)
    assert torch.equal(pred[0], x0)
    expect = x0 @ torch.linalg.matrix_power(A, 25).T
    assert torch.allclose(pred[-1], expect, rtol=1e-12, atol=1e-14)


def test_zero_steps_returns_initial_state():
    x0 = torch.randn(3, 2, dtype=torch.float64)
    pred = rollout(LinearOp(rotation(0.1)), x0, 0)
    assert pred.shape == (1, 3, 2) and torch.equal(pred[0], x0)


class PlantedNaN:
    """Identity map that puts a NaN into trajectory ``b`` at step ``k``."""

    def __init__(self, b: int, k: int):
        self.b, self.k, self.calls = b, k, 0

    def step(self, x):
        self.calls += 1
        x = x.clone()
        if self.calls == self.k:
            x[self.b, 0] = float("nan")
        return x


def test_planted_nan_freezes_trajectory_and_sets_divergence_step():
    x0 = torch.ones(3, 4, dtype=torch.float64)
    pred = rollout(PlantedNaN(1, 7), x0, 20)
    assert divergence_step(pred).tolist() == [-1, 7, -1]
    assert torch.isnan(pred[7:, 1]).all()
    assert torch.isfinite(pred[:7, 1]).all()
    assert torch.isfinite(pred[:, [0, 2]]).all()


def test_overflow_is_data_not_an_error():
    A = torch.eye(2) * 1e6  # float32 overflows to inf after 7 steps (1e42)
    pred = rollout(LinearOp(A), torch.ones(2, 2), 12)
    assert divergence_step(pred).tolist() == [7, 7]


def test_all_diverged_stops_early_and_fills_nan():
    op = PlantedNaN(0, 1)
    pred = rollout(op, torch.ones(1, 2, dtype=torch.float64), 3 * CHECK_EVERY)
    assert op.calls == CHECK_EVERY
    assert torch.isnan(pred[1:]).all() and pred.shape[0] == 3 * CHECK_EVERY + 1


def test_float64_rollout_leaves_operator_untouched():
    op = LinearOp(rotation(0.2, dtype=torch.float32))
    pred = rollout(op, torch.randn(2, 2), 10, dtype=torch.float64)
    assert pred.dtype == torch.float64
    assert op.A.dtype == torch.float32


def test_progress_counts_every_step():
    seen = []
    rollout(
        LinearOp(rotation(0.1)),
        torch.randn(1, 2, dtype=torch.float64),
        CHECK_EVERY + 5,
        progress=seen.append,
    )
    assert sum(seen) == CHECK_EVERY + 5


@pytest.mark.parametrize(
    ("steps", "x0", "err"),
    [
        (-1, torch.zeros(1, 2), ValueError),
        (2.0, torch.zeros(1, 2), TypeError),
        (3, torch.zeros(2), ValueError),
    ],
)
def test_bad_input(steps, x0, err):
    with pytest.raises(err):
        rollout(LinearOp(rotation(0.1, torch.float32)), x0, steps)


def test_bad_dtype():
    with pytest.raises(TypeError, match="floating"):
        rollout(LinearOp(rotation(0.1)), torch.zeros(1, 2), 3, dtype=torch.int64)


def test_large_finite_states_are_not_divergence():
    pred = torch.full((3, 2, 2), 3e38, dtype=torch.float32)  # sums overflow
    pred[2, 1, 0] = float("inf")
    assert divergence_step(pred).tolist() == [-1, 2]
