"""``dynsys simulate`` and ``dynsys list systems`` end to end."""

from __future__ import annotations

import os
import re
import stat

import numpy as np
import pytest

import dynsys
from dynsys.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_writes_file_summary_and_plot(tmp_path, capsys):
    out = tmp_path / "rb.npz"
    code, stdout, err = _run(
        capsys,
        "simulate",
        "rigid-body",
        "--param",
        "inertia=1,2,3",
        "--batch",
        "3",
        "--steps",
        "40",
        "--save-every",
        "4",
        "--seed",
        "2",
        "--out",
        str(out),
        "--plot",
    )
    assert code == 0, err
    traj = dynsys.Trajectory.load(out)
    assert traj.states.shape == (11, 3, 12) and traj.meta["seed"] == 2
    assert np.array_equal(
        traj.states[0].numpy(),
        dynsys.get_system("rigid-body").sample(3, seed=2).numpy(),
    )
    assert "max relative drift  energy" in stdout
    assert "max residual        orthogonality" in stdout and "wall time" in stdout
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rb.npz", "rb.png"]


def test_simulate_from_x0_file(tmp_path, capsys):
    x0 = tmp_path / "x0.npy"
    np.save(x0, np.array([[1.0, 0.0], [0.0, 2.0]]))
    code, _, err = _run(
        capsys,
        "simulate",
        "harmonic-oscillator",
        "--x0",
        str(x0),
        "--steps",
        "5",
        "--out",
        str(tmp_path / "ho.npz"),
    )
    assert code == 0, err
    assert dynsys.Trajectory.load(tmp_path / "ho.npz").states.shape == (6, 2, 2)


BAD = [
    (["simulate", "rigid-bdy", "--batch", "2", "--steps", "3"], "unknown system"),
    (
        [
            "simulate",
            "rigid-body",
            "--param",
            "inertia=0,1,1",
            "--batch",
            "2",
            "--steps",
            "3",
        ],
        "inertia must have three positive",
    ),
    (
        [
            "simulate",
            "rigid-body",
            "--param",
            "inertia=1,1,3",
            "--batch",
            "2",
            "--steps",
            "3",
        ],
        "triangle inequality",
    ),
    (
        ["simulate", "kepler", "--param", "e=1.2", "--batch", "2", "--steps", "3"],
        r"e must be",
    ),
    (
        ["simulate", "cyclic-shift", "--param", "n=1", "--batch", "2", "--steps", "3"],
        "n must be an integer >= 2",
    ),
    (
        [
            "simulate",
            "kepler",
            "--param",
            "eccentricity=0.3",
            "--batch",
            "2",
            "--steps",
            "3",
        ],
        "unknown parameter",
    ),
    (
        ["simulate", "kepler", "--batch", "2", "--steps", "3", "--dt", "0"],
        "--dt must be",
    ),
    (
        ["simulate", "kepler", "--batch", "2", "--steps", "3", "--dt", "-1"],
        "--dt must be",
    ),
    (["simulate", "kepler", "--batch", "2", "--steps", "0"], "--steps must be >= 1"),
    (["simulate", "kepler", "--batch", "0", "--steps", "3"], "--batch must be >= 1"),
    (["simulate", "kepler", "--steps", "3"], "give --batch"),
    (
        ["simulate", "kepler", "--batch", "2", "--steps", "3", "--save-every", "2"],
        "divisor",
    ),
    (
        ["simulate", "kepler", "--batch", "2", "--steps", "3", "--integrator", "rkmk4"],
        "rkmk4",
    ),
]


@pytest.mark.parametrize(("argv", "match"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, match):
    out = tmp_path / "x.npz"
    code, stdout, err = _run(capsys, *argv, "--out", str(out), "--plot")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("dynsys simulate: error:")
    assert re.search(match, err), err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_wrong_x0_shape(tmp_path, capsys):
    x0 = tmp_path / "x0.npy"
    np.save(x0, np.zeros((2, 3)))
    code, _, err = _run(
        capsys,
        "simulate",
        "kepler",
        "--x0",
        str(x0),
        "--steps",
        "3",
        "--out",
        str(tmp_path / "k.npz"),
    )
    assert code == 2 and r"shape (batch, 4)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x0.npy"]


def test_plot_panel_without_series_says_so():
    from matplotlib.figure import Figure

    from dynsys.cli.simulate import _plot_log

    ax = Figure().subplots()
    _plot_log(ax, np.arange(3.0), {}, 1, "max constraint residual")
    assert [t.get_text() for t in ax.texts] == ["(the system declares none)"]
    assert len(ax.lines) == 0 and ax.get_legend() is None


def test_non_finite_x0_is_refused(tmp_path, capsys):
    x0 = tmp_path / "x0.npy"
    np.save(x0, np.array([[0.1, 0.2], [np.nan, 1.0]]))
    out = tmp_path / "p.npz"
    code, _, err = _run(
        capsys,
        "simulate",
        "pendulum",
        "--x0",
        str(x0),
        "--steps",
        "3",
        "--out",
        str(out),
    )
    assert code == 2 and "state 1 has NaN or inf" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x0.npy"]


def test_outputs_get_the_umask_mode_not_0600(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "ho.npz"
        argv = ["simulate", "harmonic-oscillator", "--batch", "1", "--steps", "2"]
        code, _, err = _run(capsys, *argv, "--out", str(out), "--plot")
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE(out.with_suffix(".png").stat().st_mode) == 0o644


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "ho.npz"
    out.write_bytes(b"precious")
    argv = [
        "simulate",
        "harmonic-oscillator",
        "--batch",
        "1",
        "--steps",
        "2",
        "--out",
        str(out),
    ]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and "--force" in err and out.read_bytes() == b"precious"
    # An existing plot blocks too, before anything is written.
    out.unlink()
    out.with_suffix(".png").write_bytes(b"old plot")
    code, _, err = _run(capsys, *argv, "--plot")
    assert code == 2 and not out.exists()
    code, _, err = _run(capsys, *argv, "--plot", "--force")
    assert code == 0, err
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_list_systems(capsys):
    code, out, _ = _run(capsys, "list", "systems")
    assert code == 0
    for name in dynsys.available_systems():
        assert name in out
    assert "spatial_momentum_x" in out and "inertia=[1.0, 2.0, 3.0]" in out


def _simulate_x0(capsys, tmp_path, x0):
    out = tmp_path / "run.npz"
    args = ["simulate", "pendulum", "--x0", str(x0), "--steps", "3", "--out", str(out)]
    code, _, err = _run(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and not out.exists(), err
    return err


def test_bad_x0_files_are_named_plainly(tmp_path, capsys):
    err = _simulate_x0(capsys, tmp_path, tmp_path)
    assert "is a directory" in err
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([[{}, {}]], dtype=object), allow_pickle=True)
    err = _simulate_x0(capsys, tmp_path, pickled)
    assert "not a .npy file of plain numbers" in err and "allow_pickle" not in err
    archive = tmp_path / "states.npz"
    np.savez(archive, x0=np.zeros((2, 2)))
    assert "an .npz archive" in _simulate_x0(capsys, tmp_path, archive)
    ints = tmp_path / "ints.npy"
    np.save(ints, np.zeros((2, 2), dtype=np.int64))
    assert "floating-point array, got int64" in _simulate_x0(capsys, tmp_path, ints)


@pytest.mark.parametrize("method", ["nosuch", "rkmk4", "map"])
def test_bad_integrator_fails_before_the_progress_bar(
    tmp_path, capsys, monkeypatch, method
):
    monkeypatch.delenv("DYNSYS_NO_PROGRESS", raising=False)
    out = tmp_path / "k.npz"
    argv = ["simulate", "kepler", "--batch", "2", "--steps", "3"]
    code, _, err = _run(capsys, *argv, "--integrator", method, "--out", str(out))
    assert code == 2 and err.startswith("dynsys simulate: error:"), err
    assert err.count("\n") == 1 and "\r" not in err and method in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_group_lists_the_groups_once(tmp_path, capsys):
    argv = ["simulate", "group-flow", "--param", "group=nosuch", "--batch", "2"]
    code, _, err = _run(capsys, *argv, "--steps", "3", "--out", str(tmp_path / "g.npz"))
    assert code == 2 and "unknown group 'nosuch'" in err
    assert err.count("so3") == 1, err


def test_interrupted_run_writes_nothing(tmp_path, capsys, monkeypatch):
    def interrupted(*args, progress=None, **kwargs):
        progress(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(dynsys, "simulate", interrupted)
    argv = ["simulate", "rigid-body", "--batch", "4", "--steps", "100", "--plot"]
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "rb.npz"))
    assert code == 130 and out == "" and err == "dynsys simulate: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_summary_gives_absolute_drift_for_invariants_starting_at_zero(tmp_path, capsys):
    # From perihelion on the x axis the LRL vector is (mu e, 0): lrl_y starts at
    # 0, so its relative drift is |change| / 1e-12 (~1e5); the absolute is small.
    x0 = tmp_path / "peri.npy"
    np.save(x0, dynsys.get_system("kepler").perihelion_state()[None].numpy())
    out = tmp_path / "k.npz"
    argv = ["simulate", "kepler", "--x0", str(x0), "--steps", "200"]
    code, stdout, err = _run(capsys, *argv, "--out", str(out))
    assert code == 0, err
    line = next(s for s in stdout.splitlines() if "lrl_y" in s)
    absolute = float(re.search(r"absolute ([0-9.e+-]+)", line).group(1))
    assert 0 < absolute < 1e-5, line  # yoshida4 error at dt = 0.01, not 1e6
    traj = dynsys.Trajectory.load(out)
    inv = dynsys.get_system("kepler").invariants(traj.states)["lrl_y"]
    assert absolute == pytest.approx(float(inv.abs().max()), rel=1e-3, abs=1e-15)


def test_run_too_large_for_memory_is_refused_up_front(tmp_path, capsys, monkeypatch):
    from dynsys.cli import simulate as cli_simulate

    monkeypatch.setattr(cli_simulate, "_available_memory", lambda: 10**9)
    argv = ["simulate", "rigid-body", "--batch", "64", "--steps", "100000000"]
    code, _, err = _run(capsys, *argv, "--out", str(tmp_path / "rb.npz"))
    assert code == 2 and err.count("\n") == 1, err
    assert "need about 1.23e+03 GB but 1 GB" in err and "--save-every" in err
    assert list(tmp_path.iterdir()) == []
