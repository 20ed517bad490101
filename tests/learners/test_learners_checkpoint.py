"""Checkpoints: exact round trips, safe loading, clear errors for bad files."""

from __future__ import annotations

import os
import pickle
import stat
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import dynsys
import learners


def _traj(d=3, batch=6, frames=8):
    gen = torch.Generator().manual_seed(2)
    A = torch.eye(d, dtype=torch.float64) + 0.05 * torch.randn(
        d, d, generator=gen, dtype=torch.float64
    )
    states = [torch.randn(batch, d, generator=gen, dtype=torch.float64)]
    for _ in range(frames - 1):
        states.append(states[-1] @ A.T)
    return SimpleNamespace(
        states=torch.stack(states),
        times=0.2 * torch.arange(frames),
        system="linear-symplectic",
        params={"n": 1, "a": [1.0, 2]},
        meta={"dt": 0.2},
    )


def _trained(kind: str, arch: str = "swiglu"):
    model = learners.make_model(arch, 3, 3, hidden=5, depth=2, seed=0)
    op = (
        learners.OneStep(model)
        if kind == "one-step"
        else learners.NeuralODE(model, method="rk4", substeps=2)
    )
    learners.train(op, _traj(), epochs=2, lr=1e-2, batch_size=8)
    return op


@pytest.mark.parametrize("kind", ["one-step", "neural-ode"])
@pytest.mark.parametrize("arch", ["bilinear-nobias", "geglu", "sigmoid"])
def test_round_trip_is_bit_for_bit(tmp_path, kind, arch):
    op = _trained(kind, arch)
    path = learners.save(op, tmp_path / "m.pt")
    back = learners.load(path)
    assert type(back) is type(op) and back.kind == kind
    assert back.model.config == op.model.config and back.model.arch == arch
    assert back.system == "linear-symplectic" and back.system_params == {
        "n": 1,
        "a": [1.0, 2],
    }
    assert back.dt == op.dt == pytest.approx(0.2)
    assert back.options() == op.options()
    assert back.training_info["config"]["lr"] == 1e-2
    assert back.training_info["summary"]["epochs_run"] == 2
    for name in ("mean", "std", "delta_std"):
        assert torch.equal(getattr(back.normalizer, name), getattr(op.normalizer, name))
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(back.step(x), op.step(x))
        assert torch.equal(back(x.float()), op(x.float()))


def test_float64_model_and_bare_model_round_trip(tmp_path):
    model = learners.make_model("bilinear", 4, 2, hidden=3, seed=1).double()
    back = learners.load(learners.save(model, tmp_path / "bare.pt"))
    assert isinstance(back, learners.ResidualStack)
    assert next(back.parameters()).dtype == torch.float64
    x = torch.randn(7, 4, dtype=torch.float64)
    assert torch.equal(back(x), model(x))


def test_save_overwrites_atomically_and_leaves_no_temp_files(tmp_path):
    op = _trained("one-step")
    path = tmp_path / "m.pt"
    path.write_bytes(b"old")
    learners.save(op, path)
    assert learners.load(path).system == "linear-symplectic"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_saved_checkpoint_gets_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o027)
    try:
        learners.save(_trained("one-step"), tmp_path / "m.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.pt").stat().st_mode) == 0o640


def test_save_refuses_foreign_modules(tmp_path):
    with pytest.raises(TypeError, match="operator or a model"):
        learners.save(torch.nn.Linear(2, 2), tmp_path / "x.pt")


def _write_foreign_files(tmp_path):
    op = _trained("one-step")
    good = learners.save(op, tmp_path / "good.pt").read_bytes()
    files = {
        "truncated": good[: len(good) // 2],
        "random bytes": bytes(range(256)) * 4,
        "empty": b"",
    }
    for name, data in files.items():
        (tmp_path / f"{name}.pt").write_bytes(data)
    torch.save({"weights": torch.ones(2)}, tmp_path / "plain torch.pt")
    torch.save(
        {"format": "dynsys-learner", "version": 99, "meta": "{}", "state": {}},
        tmp_path / "future.pt",
    )
    torch.save(
        {"format": "dynsys-learner", "version": 1, "meta": "{not json", "state": {}},
        tmp_path / "bad card.pt",
    )
    card = learners.checkpoint._card(op)
    card["model"]["hidden"] = 9  # state no longer fits the card
    import json

    torch.save(
        {
            "format": "dynsys-learner",
            "version": 1,
            "meta": json.dumps(card),
            "state": op.state_dict(),
        },
        tmp_path / "mismatch.pt",
    )
    np.savez(tmp_path / "array.pt", x=np.ones(3))
    return {
        "truncated": "not a readable",
        "random bytes": "not a readable",
        "empty": "not a readable",
        "plain torch": "no format tag",
        "future": "version 99",
        "bad card": "damaged card",
        "mismatch": "does not match its own card",
        "array": "not a readable",
    }


def test_a_flipped_bit_in_a_weight_is_detected(tmp_path):
    """torch's zip container does not check tensor bytes; the checkpoint's
    SHA-256 does (before it, this file loaded with a changed weight)."""
    op = _trained("one-step", "relu")
    path = learners.save(op, tmp_path / "m.pt")
    raw = bytearray(path.read_bytes())
    weight = op.model.blocks[0].layers[0].weight.detach().numpy().tobytes()
    at = raw.find(weight)
    assert at > 0
    raw[at + 3] ^= 0x01  # the exponent byte of the first float32 weight
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted.*SHA-256"):
        learners.load(path)


def test_checkpoint_without_checksum_still_loads(tmp_path):
    op = _trained("one-step", "relu")
    path = learners.save(op, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    del payload["sha256"]
    torch.save(payload, path)
    x = torch.randn(3, 3, dtype=torch.float64)
    assert torch.equal(learners.load(path).step(x), op.step(x))


def test_corrupted_and_foreign_files_give_clear_errors(tmp_path):
    expected = _write_foreign_files(tmp_path)
    for name, message in expected.items():
        path = tmp_path / f"{name}.pt"
        if name == "array":
            path = tmp_path / "array.pt.npz"
        with pytest.raises(ValueError, match=message):
            learners.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        learners.load(tmp_path / "missing.pt")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        learners.load(tmp_path)


class _Boom:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_trajectory_file_passed_as_checkpoint_is_named_as_such(tmp_path):
    system = dynsys.get_system("harmonic-oscillator")
    traj = dynsys.simulate(system, system.sample(1, seed=0), 2)
    traj.save(tmp_path / "t.npz")
    with pytest.raises(ValueError, match=r"is a dynsys trajectory \(\.npz\), not a"):
        learners.load(tmp_path / "t.npz")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match=r"not a readable .* \(truncated, corrupt"):
        learners.load(tmp_path / "text.pt")


def test_a_checkpoint_cannot_run_code(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save(
        {
            "format": "dynsys-learner",
            "version": 1,
            "meta": "{}",
            "state": {"x": _Boom()},
        },
        path,
        pickle_module=pickle,
    )
    with pytest.raises(ValueError, match="not a readable"):
        learners.load(path)
    assert "code ran" not in capsys.readouterr().out


def test_numpy_scalars_are_accepted_and_checkpoints_stay_json(tmp_path):
    """Sizes and settings from a numpy sweep grid (np.int64, np.float32) were
    refused with a confusing 'must be an integer >= 1, got 4'."""
    model = learners.make_model(
        "relu", np.int64(3), np.int64(3), hidden=np.int64(4), seed=np.int64(0)
    )
    assert model.config["hidden"] == 4 and type(model.config["hidden"]) is int
    op = learners.OneStep(model)
    hist = learners.train(
        op, _traj(), epochs=np.int64(2), lr=np.float32(1e-2), batch_size=np.int32(8)
    )
    assert hist.epochs_run == 2 and type(hist.config["lr"]) is float
    back = learners.load(learners.save(op, tmp_path / "np.pt"))
    assert back.training_info["config"]["epochs"] == 2
