"""Trajectory files: exact round trip, atomic writes, clear errors on bad files;
``simulate`` input checks."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

import dynsys
from dynsys import Trajectory
from dynsys.trajectory import FORMAT_VERSION


@pytest.fixture
def traj():
    system = dynsys.get_system("rigid-body", inertia=(1.0, 2.0, 2.5))
    return dynsys.simulate(system, system.sample(3, seed=7), 20, save_every=2, seed=7)


def test_simulate_records_provenance(traj):
    assert traj.states.shape == (11, 3, 12) and traj.times.shape == (11,)
    assert torch.allclose(traj.times, 0.02 * torch.arange(11, dtype=torch.float64))
    meta = traj.meta
    assert meta["integrator"] == "rigid-body-midpoint"
    assert (meta["dt"], meta["steps"], meta["save_every"], meta["seed"]) == (
        0.01,
        20,
        2,
        7,
    )
    assert meta["version"] == dynsys.__version__ and "created" in meta
    e0 = traj.make_system().invariants(traj.states[0])["energy"]
    assert meta["invariants_t0"]["energy"] == e0.tolist()
    assert traj.system == "rigid-body" and traj.params == {"inertia": [1.0, 2.0, 2.5]}


def test_round_trip_is_exact(traj, tmp_path):
    path = traj.save(tmp_path / "run.npz")
    back = Trajectory.load(path)
    assert torch.equal(back.states, traj.states) and torch.equal(back.times, traj.times)
    assert back.system == traj.system
    assert back.params == traj.params and back.meta == traj.meta
    assert back.make_system().params == traj.make_system().params
    with np.load(path, allow_pickle=False) as data:  # no pickled objects inside
        assert sorted(data.files) == ["card", "states", "times"]
        assert data["card"].dtype == np.uint8
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temp left


def test_save_refuses_to_overwrite_without_force(traj, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="force"):
        traj.save(path)
    assert path.read_bytes() == b"keep me"
    traj.save(path, force=True)
    assert Trajectory.load(path).frames == traj.frames


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    bad = Trajectory(torch.zeros(2, 1, 2), torch.zeros(2), "harmonic-oscillator")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        bad.save(tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_truncated_file(traj, tmp_path):
    path = traj.save(tmp_path / "run.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        Trajectory.load(path)


def test_foreign_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.ones(3))
    with pytest.raises(ValueError, match="not a dynsys trajectory"):
        Trajectory.load(other)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a dynsys trajectory"):
        Trajectory.load(text)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Trajectory.load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        Trajectory.load(tmp_path)


def test_random_bytes_are_not_a_trajectory(tmp_path):
    # numpy reads unknown bytes as a pickle and advises allow_pickle: we must not.
    path = tmp_path / "garbage.npz"
    path.write_bytes(bytes(range(256)) * 2)
    with pytest.raises(ValueError, match="not a dynsys trajectory") as info:
        Trajectory.load(path)
    assert "allow_pickle" not in str(info.value)


def _rewrite_card(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    card = json.loads(arrays["card"].tobytes().decode())
    card.update(changes)
    arrays["card"] = np.frombuffer(json.dumps(card).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_newer_format_and_bad_cards(traj, tmp_path):
    path = traj.save(tmp_path / "run.npz")
    _rewrite_card(path, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="newer"):
        Trajectory.load(path)
    _rewrite_card(path, format_version=1, format="something-else")
    with pytest.raises(ValueError, match="not a dynsys trajectory"):
        Trajectory.load(path)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("states", "times", "card"):
            zf.writestr(f"{name}.npy", buf.getvalue())
    with pytest.raises(ValueError, match="not a dynsys trajectory") as info:
        Trajectory.load(path)
    assert "allow_pickle" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be an integer >= 1"),
        ({"dt": 0.0}, ValueError, "dt must be a finite number > 0"),
        ({"dt": -0.1}, ValueError, "dt must be a finite number > 0"),
        ({"dt": float("nan")}, ValueError, "dt must be"),
        ({"save_every": 0}, ValueError, "save_every"),
        ({"save_every": 3}, ValueError, "divisor"),
        ({"x0": torch.zeros(4, 3, dtype=torch.float64)}, ValueError, r"\(batch, 2\)"),
        ({"x0": torch.zeros(2, 4, 2)}, ValueError, r"\(batch, 2\)"),
        ({"x0": torch.zeros(4, 2, dtype=torch.int64)}, TypeError, "floating"),
        ({"x0": torch.zeros(2, 2, dtype=torch.complex128)}, TypeError, "real"),
        (
            {"x0": torch.tensor([[0.1, 0.0], [0.2, float("inf")]])},
            ValueError,
            "state 1 has NaN or inf",
        ),
        ({"integrator": "rkmk4"}, ValueError, "rkmk4"),
        ({"integrator": "no-such-method"}, ValueError, "no-such-method"),
    ],
)
def test_simulate_rejects_bad_input(kwargs, error, match):
    system = dynsys.get_system("harmonic-oscillator")
    args = {"x0": system.sample(4), "steps": 10, **kwargs}
    with pytest.raises(error, match=match):
        dynsys.simulate(system, **args)


def test_simulate_takes_one_state_and_float32():
    system = dynsys.get_system("harmonic-oscillator")
    traj = dynsys.simulate(system, torch.tensor([1.0, 0.0]), 4)
    assert traj.states.shape == (5, 1, 2) and traj.states.dtype == torch.float64
    with pytest.raises(ValueError, match="discrete map"):
        dynsys.simulate(dynsys.get_system("standard-map"), torch.zeros(1, 2), 3, dt=0.5)


def _rewrite(path, **arrays):
    with np.load(path, allow_pickle=False) as data:
        old = {k: data[k] for k in data.files}
    old.update(arrays)
    np.savez(path, **old)


def test_load_checks_states_against_the_card(traj, tmp_path):
    path = traj.save(tmp_path / "run.npz")
    states = traj.states.numpy()
    _rewrite(path, states=states.astype(np.int64))
    with pytest.raises(ValueError, match="states must be real floating point"):
        Trajectory.load(path)
    _rewrite(path, states=states.astype(np.complex128))
    with pytest.raises(ValueError, match="complex128"):
        Trajectory.load(path)
    _rewrite(path, states=states[..., :9])
    with pytest.raises(ValueError, match="dimension 9 but rigid-body has state_dim 12"):
        Trajectory.load(path)
    _rewrite(path, states=states)
    _rewrite_card(path, params={"inertia": [1.0, 2.0, 5.0]})
    with pytest.raises(ValueError, match="card parameters are invalid.*triangle"):
        Trajectory.load(path)
