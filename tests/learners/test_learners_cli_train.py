"""``dynsys train``: round trip through files, one-line errors, nothing written."""

from __future__ import annotations

import pytest
import torch

import learners

dynsys = pytest.importorskip("dynsys")
from dynsys.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-cli")
    system = dynsys.get_system("so3-rotation")
    dynsys.simulate(system, system.sample(32, seed=0), steps=6).save(root / "so3.npz")
    other = dynsys.get_system("circle-rotation")
    dynsys.simulate(other, other.sample(8, seed=0), steps=6).save(root / "circle.npz")
    return root


def _train(capsys, *args):
    try:
        rc = main(["train", *map(str, args)])
    except SystemExit as exc:  # argparse's own errors exit from parse_args
        rc = exc.code
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _quick(capsys, data_file, out, arch="relu", *extra):
    """Train a tiny checkpoint; returns stdout and asserts success."""
    rc, stdout, stderr = _train(
        capsys,
        "--data",
        data_file,
        "--arch",
        arch,
        "--out",
        out,
        "--epochs",
        1,
        "--hidden",
        4,
        *extra,
    )
    assert rc == 0, stderr
    return stdout


@pytest.mark.parametrize("mode", ["one-step", "neural-ode"])
def test_cli_round_trip(data, tmp_path, capsys, mode):
    out = tmp_path / "m.pt"
    rc, stdout, _ = _train(
        capsys,
        "--data",
        data / "so3.npz",
        "--arch",
        "reglu",
        "--mode",
        mode,
        "--out",
        out,
        "--hidden",
        6,
        "--depth",
        2,
        "--epochs",
        3,
        "--lr",
        1e-2,
        "--batch-size",
        32,
        "--unroll",
        2,
        "--seed",
        3,
    )
    assert rc == 0
    op = learners.load(out)
    assert op.kind == mode and op.system == "so3-rotation"
    assert op.model.config["hidden"] == 6 and op.model.config["depth"] == 2
    assert op.training_info["config"]["unroll"] == 2
    n = learners.count_params(op.model)
    assert stdout.count("\n") == 1 and f"{n} parameters" in stdout
    assert "train loss" in stdout and "val loss" in stdout and str(out) in stdout
    traj = dynsys.Trajectory.load(data / "so3.npz")
    with torch.no_grad():
        pred = op.step(traj.states[0])
    assert pred.shape == traj.states[0].shape and torch.isfinite(pred).all()


def test_cli_continues_from_a_checkpoint(data, tmp_path, capsys):
    first = tmp_path / "a.pt"
    _quick(capsys, data / "so3.npz", first)
    rc, stdout, _ = _train(
        capsys,
        "--data",
        data / "so3.npz",
        "--init",
        first,
        "--out",
        tmp_path / "b.pt",
        "--epochs",
        1,
    )
    assert rc == 0 and "relu (one-step" in stdout


def _bad_cases(data, tmp_path):
    good = tmp_path / "good.pt"
    existing = tmp_path / "existing.pt"
    existing.write_bytes(b"keep me")
    base = ["--data", data / "so3.npz", "--epochs", 2, "--hidden", 4]
    return (
        good,
        existing,
        [
            ([*base, "--arch", "mamba", "--out", good], "known: bilinear"),
            ([*base, "--arch", "relu", "--out", good, "--hidden", 0], "hidden must be"),
            ([*base, "--arch", "relu", "--out", existing], "--force"),
            ([*base, "--arch", "relu", "--out", tmp_path / "m.txt"], "must end in .pt"),
            ([*base, "--out", good], "--arch is required"),
            ([*base, "--arch", "bilinear", "--out", good, "--lr", 1e30], "nan|inf"),
            (
                [*base, "--arch", "bilinear", "--out", good, "--epochs", 0],
                "epochs must",
            ),
            (
                ["--data", tmp_path / "none.npz", "--arch", "relu", "--out", good],
                "does not exist",
            ),
            (["--data", existing, "--arch", "relu", "--out", good], "trajectory"),
            (
                [
                    "--data",
                    data / "circle.npz",
                    "--init",
                    data / "ref.pt",
                    "--out",
                    good,
                ],
                "'circle-rotation'",
            ),
            (
                ["--data", data / "so3.npz", "--init", existing, "--out", good],
                "not a readable",
            ),
            ([*base, "--arch", "relu", "--out", good, "--mode", "ode"], "invalid choi"),
            ([*base, "--arch", "relu", "--out", good, "--lr", "fast"], "invalid float"),
            ([*base, "--arch", "relu", "--out", good, "--lr", "nan"], "lr must be"),
            ([*base, "--arch", "relu", "--out", good, "--epochs", -1], "epochs must"),
            ([*base, "--arch", "relu", "--out", tmp_path], "is a directory"),
            ([*base, "--arch", "relu", "--out", good, "--seed", 2**64], "seed must"),
            (
                [*base, "--arch", "relu", "--out", good, "--method", "dopri5"],
                "--method applies only to --mode neural-ode",
            ),
            (
                [*base, "--init", data / "ref.pt", "--arch", "tanh", "--out", good],
                "--arch, --hidden cannot be combined with --init",
            ),
            (["--data", tmp_path, "--arch", "relu", "--out", good], "is a directory"),
            (
                [*base, "--arch", "relu", "--out", existing, "--force", "--lr", 1e30],
                "nan|inf",
            ),
        ],
    )


def test_cli_bad_input_one_line_nothing_written(data, tmp_path, capsys):
    _quick(capsys, data / "so3.npz", data / "ref.pt")
    good, existing, cases = _bad_cases(data, tmp_path)
    for args, message in cases:
        rc, stdout, stderr = _train(capsys, *args)
        lines = stderr.strip().splitlines()
        assert rc == 2, (args, stderr)
        assert len(lines) == 1 and lines[0].startswith("dynsys train: error:")
        assert any(m.lower() in lines[0].lower() for m in message.split("|")), lines
        assert "Traceback" not in stderr and not good.exists()
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.pt"]


def test_cli_force_overwrites(data, tmp_path, capsys):
    out = tmp_path / "m.pt"
    out.write_bytes(b"old")
    _quick(capsys, data / "so3.npz", out, "tanh", "--force")
    assert learners.load(out).model.arch == "tanh"
