"""Training: known maps are learned, operators fit so3-rotation, failures are clean."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import learners

ARCHS = learners.available()
LINEAR_CAPABLE = [a for a in ARCHS if a != "bilinear-nobias"]


def _rotation(theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


#: The two linear maps every architecture must learn: a rotation of the plane
#: by 0.3 rad and a non-normal shear-and-scale with eigenvalues 1.0 and 1.25.
MAPS = {
    "rotation": _rotation(0.3),
    "linear": torch.tensor([[1.5, -0.5], [0.25, 0.75]], dtype=torch.float64),
}


def _pairs(fn, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(
        n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    return x, fn(x)


def _fit(model, fn, epochs: int = 300, lr: float = 1e-2, batch_size: int = 64):
    """Fit a bare model to ``fn`` on 256 Gaussian points, 25% held out."""
    return learners.train(
        model,
        _pairs(fn, 256, 0),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        patience=None,
        val_fraction=0.25,
    )


def _rel_rms(model, fn, seed: int = 99) -> float:
    x, y = _pairs(fn, 400, seed)
    with torch.no_grad():
        pred = model(x.float()).double()
    return float(
        (pred - y).pow(2).sum(-1).mean().sqrt() / y.pow(2).sum(-1).mean().sqrt()
    )


@pytest.mark.parametrize("arch", LINEAR_CAPABLE)
@pytest.mark.parametrize("name", list(MAPS))
def test_every_architecture_learns_linear_maps(arch, name):
    A = MAPS[name]
    fn = lambda x: x @ A.T  # noqa: E731
    model = learners.make_model(arch, 2, 2, hidden=16, seed=0)
    assert _rel_rms(model, fn) > 0.3  # untrained: far off
    hist = _fit(model, fn, lr=2e-2, batch_size=128)
    # Measured (torch 2.13, CPU): val loss <= 3.3e-3 and relative RMS error on
    # fresh points <= 0.081 (sigmoid); every other family <= 1.3e-3 and 0.048.
    assert hist.val_loss[-1] < 5e-3
    assert _rel_rms(model, fn) < (0.1 if arch == "sigmoid" else 0.07)


def test_bilinear_with_bias_learns_a_linear_map_to_round_off():
    # (W x + b) * (V x + c) contains the linear terms c W x + b V x exactly.
    A = MAPS["rotation"]
    model = learners.make_model("bilinear", 2, 2, hidden=16, seed=0)
    _fit(model, lambda x: x @ A.T)
    assert _rel_rms(model, lambda x: x @ A.T) < 1e-4


def test_bias_free_bilinear_learns_a_quadratic_map():
    # q(x) = (x1 x2, x1^2 - x2^2) is a pure quadratic form: P(Wx * Vx) holds it.
    def q(x):
        return torch.stack([x[:, 0] * x[:, 1], x[:, 0] ** 2 - x[:, 1] ** 2], -1)

    model = learners.make_model("bilinear-nobias", 2, 2, hidden=8, seed=0)
    _fit(model, q)
    assert _rel_rms(model, q) < 1e-3


def test_bias_free_bilinear_cannot_learn_a_rotation():
    # P(Wx * Vx) is even in x. For symmetric x, E[f(x) . A x] = 0 for any even
    # f, so E|f(x) - A x|^2 = E|f|^2 + E|A x|^2 >= E|A x|^2: the relative RMS
    # error of the best even fit is 1, whatever the training. (This was a
    # strict xfail, which also "passed" on any crash.)
    A = MAPS["rotation"]
    model = learners.make_model("bilinear-nobias", 2, 2, hidden=16, seed=0)
    _fit(model, lambda x: x @ A.T, epochs=30)
    assert _rel_rms(model, lambda x: x @ A.T) > 0.95


def _plane_rotation_trajectory(batch=16, frames=21, theta=0.1, dt=0.1):
    """A stand-in with the attributes of dynsys.Trajectory: exact rotations."""
    x0 = torch.randn(
        batch, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    R = _rotation(theta)
    states = torch.stack(
        [x0 @ torch.linalg.matrix_power(R, k).T for k in range(frames)]
    )
    return SimpleNamespace(
        states=states,
        times=dt * torch.arange(frames),
        system="circle-rotation",
        params={"omega": theta / dt},
        meta={"dt": dt},
    )


@pytest.mark.parametrize("make_op", [learners.OneStep, learners.NeuralODE])
def test_operator_learns_a_plane_rotation_from_a_trajectory(make_op):
    traj = _plane_rotation_trajectory(frames=11)
    op = make_op(learners.make_model("bilinear", 2, 2, hidden=8, seed=0))
    hist = learners.train(
        op, traj, epochs=150, lr=2e-2, batch_size=40, patience=None, val_fraction=0
    )
    assert hist.val_loss == [] and hist.n_train == 160
    assert op.dt == pytest.approx(0.1) and op.system == "circle-rotation"
    x = torch.randn(50, 2, dtype=torch.float64)
    with torch.no_grad():
        err = (op.step(x) - x @ _rotation(0.1).T).norm(dim=-1) / x.norm(dim=-1)
    assert err.max() < 1e-4
    # Statistics of the training states and of the one-frame increments.
    states, inc = traj.states[:-1], traj.states[1:] - traj.states[:-1]
    torch.testing.assert_close(op.normalizer.mean, states.reshape(-1, 2).mean(0))
    torch.testing.assert_close(
        op.normalizer.delta_std, inc.reshape(-1, 2).pow(2).mean(0).sqrt()
    )


def test_normalizer_statistics_and_inverse():
    norm = learners.Normalizer(3)
    states = (
        torch.randn(500, 3, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.0]) + 5
    )
    norm.fit(states, 0.1 * torch.randn(500, 3, dtype=torch.float64))
    torch.testing.assert_close(norm.mean, states.mean(0))
    assert norm.std[1] == pytest.approx(float(states[:, 1].std(correction=0)))
    # The constant third coordinate gets the mean spread of the others, not 0.
    assert norm.std[2] == pytest.approx(float(norm.std[:2].mean()))
    torch.testing.assert_close(norm.decode(norm.encode(states)), states)


@pytest.fixture(scope="module")
def so3():
    dynsys = pytest.importorskip("dynsys")
    system = dynsys.get_system("so3-rotation")
    train = dynsys.simulate(system, system.sample(64, seed=0), steps=8)
    test = dynsys.simulate(system, system.sample(8, seed=5), steps=8)
    return train, test


@pytest.mark.parametrize(
    ("mode", "unroll"), [("one-step", 1), ("neural-ode", 1), ("one-step", 3)]
)
def test_so3_rotation_one_step_and_neural_ode(so3, mode, unroll):
    train, test = so3
    model = learners.make_model("bilinear", 9, 9, hidden=16, seed=0)
    op = learners.OneStep(model) if mode == "one-step" else learners.NeuralODE(model)
    hist = learners.train(
        op, train, epochs=60, lr=1e-2, batch_size=64, patience=None, unroll=unroll
    )
    assert hist.train_loss[-1] < 0.2 * hist.train_loss[0]
    assert op.system == "so3-rotation" and op.dt == pytest.approx(train.meta["dt"])
    with torch.no_grad():
        pred = op.step(test.states[:-1])
    step = (test.states[1:] - test.states[:-1]).norm(dim=-1)
    rel = (pred - test.states[1:]).norm(dim=-1) / step
    assert rel.median() < 0.15  # error well below one frame's motion


def test_training_is_deterministic_for_a_seed():
    traj = _plane_rotation_trajectory(batch=8, frames=11)

    def run(seed):
        op = learners.OneStep(learners.make_model("swiglu", 2, 2, hidden=6, seed=0))
        hist = learners.train(op, traj, epochs=5, lr=1e-2, batch_size=16, seed=seed)
        return hist.train_loss, [p.clone() for p in op.parameters()]

    (l1, p1), (l2, p2), (l3, _) = run(0), run(0), run(1)
    assert l1 == l2 and all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert l1 != l3


def test_history_schedule_and_early_stopping():
    x, y = _pairs(lambda x: x @ MAPS["linear"].T, 64, 0)
    model = learners.make_model("relu", 2, 2, hidden=4, seed=0)
    hist = learners.train(
        model,
        (x, y),
        epochs=500,
        lr=1e-3,
        patience=3,
        min_delta=1e9,
        schedule="step",
        step_every=1,
        gamma=0.5,
    )
    # min_delta is huge, so no epoch after the first counts as an improvement.
    assert hist.stopped_early and hist.epochs_run == 4 and hist.best_epoch == 1
    assert hist.lr == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])
    assert len(hist.val_loss) == 4 and hist.n_val == 6 and hist.n_train == 58
    assert hist.summary()["epochs_run"] == 4


def test_nan_loss_raises_and_keeps_last_good_parameters():
    x, y = _pairs(lambda x: x @ MAPS["linear"].T, 64, 0)
    model = learners.make_model("bilinear", 2, 2, hidden=4, seed=0)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(learners.TrainingError, match="NaN|nan|inf") as info:
        learners.train(model, (x, y), epochs=5, lr=1e30)
    assert info.value.history is not None
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
    )


def test_nan_in_a_later_epoch_restores_the_previous_epoch():
    x, y = _pairs(lambda x: x @ MAPS["linear"].T, 64, 0)
    model = learners.make_model("relu", 2, 2, hidden=4, seed=0)
    snapshot = {}

    def poison(epoch, train_loss, val_loss):
        if epoch == 2:  # after epoch 2 was recorded as good, break a weight
            snapshot.update({k: v.clone() for k, v in model.state_dict().items()})
            with torch.no_grad():
                model.blocks[0].layers[0].weight[0, 0] = float("nan")

    with pytest.raises(learners.TrainingError, match="epoch 3.*parameters of epoch 2"):
        learners.train(model, (x, y), epochs=5, lr=1e-2, progress=poison)
    state = model.state_dict()
    assert snapshot and all(torch.equal(state[k], v) for k, v in snapshot.items())


def test_data_with_another_frame_interval_is_refused():
    traj = _plane_rotation_trajectory(batch=4, frames=6)
    op = learners.NeuralODE(learners.make_model("relu", 2, 2, hidden=4, seed=0))
    learners.train(op, traj, epochs=1)
    assert op.dt == pytest.approx(0.1)
    # Same system and parameters (omega = theta / dt), but frames 0.2 apart.
    slow = _plane_rotation_trajectory(batch=4, frames=6, theta=0.2, dt=0.2)
    with pytest.raises(ValueError, match=r"frame interval dt=0.2.*dt=0.1"):
        learners.train(op, slow, epochs=1)


def test_training_logs_but_configures_no_logging(caplog):
    import logging

    root_handlers = list(logging.getLogger().handlers)
    model = learners.make_model("relu", 2, 2, hidden=4, seed=0)
    with caplog.at_level(logging.INFO, logger="learners.training"):
        learners.train(model, _pairs(lambda x: x, 32, 0), epochs=2, val_fraction=0)
    assert any(
        r.name == "learners.training" and "trained 2 epochs" in r.getMessage()
        for r in caplog.records
    )
    assert logging.getLogger("learners.training").handlers == []
    assert list(logging.getLogger().handlers) == root_handlers


def test_data_of_another_system_is_refused():
    traj = _plane_rotation_trajectory(batch=4, frames=6)
    op = learners.OneStep(learners.make_model("relu", 2, 2, hidden=4))
    learners.train(op, traj, epochs=1)
    other = SimpleNamespace(**{**vars(traj), "params": {"omega": 2.0}})
    with pytest.raises(ValueError, match="trained on 'circle-rotation'"):
        learners.train(op, other, epochs=1)
    other = SimpleNamespace(**{**vars(traj), "system": "harmonic-oscillator"})
    with pytest.raises(ValueError, match="harmonic-oscillator"):
        learners.train(op, other, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "data", "error", "message"),
    [
        ({"epochs": 0}, None, ValueError, "epochs must be"),
        ({"lr": float("nan")}, None, ValueError, "lr must be"),
        ({"schedule": "linear"}, None, ValueError, "schedule must be"),
        ({"colour": 1}, None, ValueError, "unknown training option"),
        ({}, (torch.zeros(4, 3), torch.zeros(4, 2)), ValueError, "maps 2 -> 2"),
        ({}, (torch.full((4, 2), float("nan")), torch.zeros(4, 2)), ValueError, "NaN"),
        (
            {},
            (torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 2)),
            TypeError,
            "floating",
        ),
        ({}, [1, 2, 3], TypeError, "trajectory or a tuple"),
        ({"unroll": 2}, None, ValueError, "unroll > 1 needs trajectory"),
        # A NaN min_delta once made every epoch "no improvement", so train()
        # silently returned the untrained parameters.
        ({"min_delta": float("nan")}, None, ValueError, "min_delta must be"),
        ({"grad_clip": -1.0}, None, ValueError, "grad_clip must be"),
        ({"weight_decay": float("nan")}, None, ValueError, "weight_decay must be"),
        ({"patience": 1.5}, None, ValueError, "patience must be an integer"),
        ({"lr": "1e-3"}, None, ValueError, "lr must be"),
        ({"seed": 2**70}, None, ValueError, r"seed must be an integer in \[0, 2\*\*63"),
        ({"val_fraction": float("nan")}, None, ValueError, "val_fraction must be"),
    ],
)
def test_bad_training_input(kwargs, data, error, message):
    model = learners.make_model("relu", 2, 2, hidden=4)
    data = data if data is not None else (torch.zeros(8, 2), torch.zeros(8, 2))
    with pytest.raises(error, match=message):
        learners.train(model, data, **kwargs)


@pytest.mark.parametrize("kind", ["one-step", "neural-ode"])
def test_step_rejects_states_of_the_wrong_size_or_dtype(kind):
    model = learners.make_model("relu", 3, 3, hidden=4, seed=0)
    op = (
        learners.OneStep(model)
        if kind == "one-step"
        else learners.NeuralODE(model, dt=0.1)
    )
    name = type(op).__name__
    with pytest.raises(
        ValueError, match=rf"{name}.step: .*\(\*batch, 3\), got \(2, 4\)"
    ):
        op.step(torch.zeros(2, 4))
    # Integer states once went through, with delta_std truncated to integers.
    with pytest.raises(TypeError, match="floating-point tensor of states.*int64"):
        op.step(torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="seed must be None or an integer"):
        learners.make_model("relu", 3, 3, seed=-1)


def test_operator_needs_a_square_model_and_known_method():
    with pytest.raises(ValueError, match="d_in == d_out"):
        learners.OneStep(learners.make_model("relu", 3, 2))
    with pytest.raises(ValueError, match="known: euler"):
        learners.NeuralODE(learners.make_model("relu", 2, 2), method="leapfrog")
    with pytest.raises(ValueError, match="has no dt"):
        learners.NeuralODE(learners.make_model("relu", 2, 2)).step(torch.zeros(1, 2))


def test_neural_ode_adjoint_and_dopri5_agree_with_rk4():
    model = learners.make_model("tanh", 2, 2, hidden=4, seed=0).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    outs = {}
    for kw in (
        {"method": "rk4", "substeps": 50},
        {"method": "dopri5", "rtol": 1e-10, "atol": 1e-12},
        {"method": "rk4", "substeps": 50, "adjoint": True},
    ):
        op = learners.NeuralODE(model, dt=0.5, **kw)
        y = op.step(x)
        y.sum().backward()
        outs[str(kw)] = (y.detach(), model.blocks[0].layers[0].weight.grad.clone())
        model.zero_grad()
    (y0, g0), *rest = outs.values()
    for y, g in rest:
        torch.testing.assert_close(y, y0, atol=1e-8, rtol=0)
        torch.testing.assert_close(g, g0, atol=1e-6, rtol=0)


def _identity_op(d: int) -> learners.OneStep:
    """A residual operator whose model outputs exactly zero: x_{t+1} = x_t."""
    model = learners.make_model("bilinear", d, d, hidden=3, seed=0)
    torch.nn.init.zeros_(model.blocks[0].P.weight)
    torch.nn.init.zeros_(model.blocks[0].P.bias)
    return learners.OneStep(model)


def test_float64_states_are_not_rounded_through_the_float32_model():
    op = _identity_op(2)
    x = torch.tensor([[1.0 + 1e-12, -3.0 + 1e-13]], dtype=torch.float64)
    assert op.step(x).dtype == torch.float64 and torch.equal(op.step(x), x)
    assert op.step(x.float()).dtype == torch.float32


@pytest.mark.parametrize("unroll", [1, 3])
def test_window_loss_matches_a_hand_computation(unroll):
    # The identity map's K-step loss is mean_k mean(((x_0 - x_k) / delta_std)^2)
    # over all windows; lr is so small that the first epoch's loss is that value.
    traj = _plane_rotation_trajectory(batch=4, frames=7)
    op = _identity_op(2)
    seen = []
    hist = learners.train(
        op,
        traj,
        epochs=1,
        lr=1e-30,
        val_fraction=0,
        unroll=unroll,
        dtype="float64",
        progress=lambda *a: seen.append(a),
    )
    s = traj.states
    inc = (s[1:] - s[:-1]).reshape(-1, 2)
    scale = inc.pow(2).mean(0).sqrt()
    windows = s.unfold(0, unroll + 1, 1)  # (F - K, B, 2, K + 1)
    err = (windows[..., 1:] - windows[..., :1]) / scale[:, None]
    expected = err.pow(2).mean(dim=(0, 1, 2)).mean()
    assert hist.train_loss[0] == pytest.approx(float(expected), rel=1e-12)
    assert seen == [(1, hist.train_loss[0], None)]
