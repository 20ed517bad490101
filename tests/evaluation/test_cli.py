"""The ``dynsys bench``, ``rollout`` and ``score`` commands, in process."""

from __future__ import annotations

import pytest
import torch

import dynsys
import learners
from dynsys.cli import main


def test_bench_bad_config_one_line_error_nothing_written(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('archs = ["relu"]\n[[systems]]\nname = "no-such-system"\n')
    out = tmp_path / "out"
    assert main(["bench", "--config", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dynsys bench: error: unknown system")
    assert "\n" not in err and not out.exists()


def test_bench_missing_suite_module(tmp_path, capsys, monkeypatch):
    from dynsys.cli import bench as bench_cli

    monkeypatch.setitem(bench_cli.EXTERNAL, "structure", "evaluation.no_such_suite")
    assert main(["bench", "--suite", "structure", "--out", str(tmp_path / "o")]) == 2
    assert "evaluation.no_such_suite" in capsys.readouterr().err


@pytest.fixture
def files(tmp_path):
    system = dynsys.get_system("pendulum")
    traj = dynsys.simulate(system, system.sample(4, seed=0), steps=20)
    data = tmp_path / "ref.npz"
    traj.save(data)
    op = learners.OneStep(learners.make_model("relu", 2, 2, hidden=8, seed=0))
    learners.train(op, traj, epochs=2)
    model = tmp_path / "model.pt"
    learners.save(op, model)
    return data, model, tmp_path


def _rollout(model, data, steps: int, out) -> list[str]:
    return [
        "rollout",
        "--model",
        str(model),
        "--data",
        str(data),
        "--steps",
        str(steps),
        "--out",
        str(out),
    ]


def test_rollout_then_score(files, capsys):
    data, model, tmp = files
    pred = tmp / "pred.npz"
    args = _rollout(model, data, 20, pred)
    assert main(args) == 0
    traj = dynsys.Trajectory.load(pred)
    assert traj.states.shape == (21, 4, 2) and traj.meta["prediction"] is True
    assert torch.equal(traj.states[0], dynsys.Trajectory.load(data).states[0])
    assert main(args) == 2  # exists: needs --force
    assert "--force" in capsys.readouterr().err
    summary = tmp / "s.json"
    score = [
        "score",
        "--data",
        str(pred),
        "--reference",
        str(data),
        "--model",
        str(model),
        "--json",
        str(summary),
    ]
    assert main(score) == 0
    out = capsys.readouterr().out
    assert "drift_final" in out and "symplecticity_median" in out
    assert summary.exists()


def test_rollout_rejects_negative_steps(files, capsys):
    data, model, tmp = files
    assert main(_rollout(model, data, -5, tmp / "p.npz")) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert not (tmp / "p.npz").exists()


def _one_line_error(capsys, *needles: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_rollout_rejects_model_of_other_system_parameters(files, capsys):
    data, model, tmp = files
    system = dynsys.get_system("pendulum", omega0=2.0)
    other = tmp / "other.npz"
    dynsys.simulate(system, system.sample(4, seed=1), steps=5).save(other)
    out = tmp / "p.npz"
    assert main(_rollout(model, other, 5, out)) == 2
    _one_line_error(capsys, "trained on pendulum", "omega0")
    assert not out.exists()
    score = ["score", "--data", str(other), "--reference", str(other)]
    summary = tmp / "s.json"
    assert main([*score, "--model", str(model), "--json", str(summary)]) == 2
    _one_line_error(capsys, "trained on pendulum")
    assert not summary.exists()


def test_score_rejects_reference_at_other_times(files, capsys):
    data, model, tmp = files
    system = dynsys.get_system("pendulum")
    coarse = tmp / "coarse.npz"
    x0 = dynsys.Trajectory.load(data).states[0]
    dynsys.simulate(system, x0, steps=20, dt=2 * system.dt).save(coarse)
    summary = tmp / "s.json"
    args = ["score", "--data", str(data), "--reference", str(coarse)]
    assert main([*args, "--json", str(summary)]) == 2
    _one_line_error(capsys, "different times")
    assert not summary.exists()


@pytest.mark.parametrize("suite", ["dynamics", "structure", "unlearning"])
def test_bench_config_not_utf8_toml_names_the_file(tmp_path, capsys, suite):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe archs = 1\n")
    out = tmp_path / "out"
    assert (
        main(["bench", "--suite", suite, "--config", str(bad), "--out", str(out)]) == 2
    )
    _one_line_error(capsys, "bad.toml", "not valid TOML")
    assert not out.exists()


@pytest.mark.parametrize(
    "text, needle",
    [
        ('archs = ["relu"]\nsystems = 3\n', "'systems' must be a list"),
        ('archs = ["relu"]\nsystems = [3]\n', "must be a table or a name"),
        ('archs = ["relu"]\ntrain = 3\n[[systems]]\nname = "pendulum"\n', "[train]"),
        (
            'archs = ["relu"]\n[[systems]]\nname = "pendulum"\nparams = 3\n',
            "'params' a table",
        ),
        (
            'archs = ["relu"]\n[[systems]]\nname = "pendulum"\nmodes = "one-step"\n',
            "'modes' must be a list",
        ),
    ],
)
def test_bench_config_of_wrong_shape_one_line_error(tmp_path, capsys, text, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "out"
    assert main(["bench", "--config", str(bad), "--out", str(out)]) == 2
    _one_line_error(capsys, needle)
    assert not out.exists()
