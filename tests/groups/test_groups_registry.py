"""Registry, entry-point discovery, bad input and ``dynsys list groups``."""

from __future__ import annotations

import re
import textwrap
from importlib import metadata

import numpy as np
import pytest
import torch

from dynsys.groups import (
    SE2,
    SE3,
    SO3,
    LieGroup,
    Sp,
    _registry,
    available_groups,
    get_group,
    register_group,
)


def test_get_group_builds_each_builtin_with_the_documented_sizes():
    sizes = {"so2": (1, 2), "so3": (3, 3), "se2": (3, 3), "se3": (6, 4), "sp": (3, 2)}
    for name, (dim, n) in sizes.items():
        G = get_group(name)
        assert isinstance(G, LieGroup)
        assert (G.dim, G.matrix_size) == (dim, n)
    G = get_group("sp", n=3)
    assert (G.dim, G.matrix_size) == (3 * 7, 6)
    assert get_group("SO3").name == "SO3"


def test_unknown_name_lists_known_groups():
    with pytest.raises(ValueError, match="unknown group 'so5'.*so3.*sp"):
        get_group("so5")


def test_unknown_parameter_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="unknown parameter.*n.*accepted: none"):
        get_group("so3", n=2)
    with pytest.raises(ValueError, match="unknown parameter.*m.*accepted: n"):
        get_group("sp", m=2)


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2"])
def test_sp_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        Sp(n)


def test_register_group_and_duplicates(monkeypatch):
    monkeypatch.setattr(_registry, "_FACTORIES", dict(_registry._FACTORIES))
    register_group("my-so3", SO3)
    assert "my-so3" in available_groups()
    assert isinstance(get_group("my-so3"), SO3)
    with pytest.raises(ValueError, match="already registered"):
        register_group("my-so3", SE3)
    register_group("my-so3", SE3, replace=True)
    assert isinstance(get_group("my-so3"), SE3)
    with pytest.raises(ValueError, match="callable"):
        register_group("bad", 3)
    register_group("not-a-group", lambda: 3)
    with pytest.raises(ValueError, match="not a LieGroup"):
        get_group("not-a-group")


def test_entry_point_groups_are_discovered(monkeypatch, tmp_path):
    plugin = tmp_path / "dynsys_test_plugin.py"
    plugin.write_text(
        textwrap.dedent("""
        from dynsys.groups import SO3

        class Renamed(SO3):
            name = "SO3-plugin"

        def factory(scale=1):
            return Renamed()
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "_FACTORIES", dict(_registry._FACTORIES))
    ep = metadata.EntryPoint(
        name="so3-plugin", value="dynsys_test_plugin:factory", group="dynsys.groups"
    )

    def fake_entry_points(group):
        assert group == "dynsys.groups"
        return [ep]

    monkeypatch.setattr(_registry.metadata, "entry_points", fake_entry_points)
    assert "so3-plugin" in available_groups()
    G = get_group("so3-plugin", scale=2)
    assert G.name == "SO3-plugin"
    w = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    assert torch.allclose(G.log(G.exp(w)), w)


def test_installed_distribution_entry_point_is_discovered(monkeypatch, tmp_path):
    """No monkeypatched metadata: a real ``*.dist-info`` on ``sys.path`` with an
    ``entry_points.txt`` is found by importlib.metadata, as pip would install it."""
    (tmp_path / "dynsys_ep_plugin.py").write_text(
        "from dynsys.groups import SO2\n\nclass Circle(SO2):\n    name = 'Circle'\n"
    )
    info = tmp_path / "dynsys_ep_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dynsys-ep-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[dynsys.groups]\n"
        "circle-ep = dynsys_ep_plugin:Circle\n"
        "broken-ep = dynsys_ep_missing_module:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "_FACTORIES", dict(_registry._FACTORIES))
    assert {"circle-ep", "broken-ep"} <= set(available_groups())
    G = get_group("circle-ep")
    assert G.name == "Circle" and G.dim == 1
    theta = torch.tensor([2.5], dtype=torch.float64)
    assert torch.equal(G.log(G.exp(theta)), theta)
    with pytest.raises(ValueError, match=r"'broken-ep'.*failed to load.*ModuleNotF"):
        get_group("broken-ep")


def test_missing_required_parameter_is_a_value_error(monkeypatch):
    monkeypatch.setattr(_registry, "_FACTORIES", dict(_registry._FACTORIES))
    register_group("needs-n", lambda n: Sp(n))
    with pytest.raises(ValueError, match=r"'needs-n' needs parameter\(s\) n"):
        get_group("needs-n")
    assert get_group("needs-n", n=2).matrix_size == 4


@pytest.mark.parametrize("G", [SO3(), SE2(), Sp(1)], ids=repr)
def test_mismatched_pairs_and_batch_shapes_are_clear_errors(G):
    """compose/dexp_inv with batches that do not broadcast, mixed dtypes,
    half precision and negative batch sizes: ValueError/TypeError naming
    what was expected, never torch's internal RuntimeError."""
    f64, f32 = torch.float64, torch.float32
    g2, g4 = G.identity((2,), dtype=f64), G.identity((4,), dtype=f64)
    with pytest.raises(ValueError, match=r"compose: batch shapes \(2,\) of g and"):
        G.compose(g2, g4)
    with pytest.raises(TypeError, match="compose: expected g and h of the same"):
        G.compose(g2, G.identity((2,), dtype=f32))
    xi2, v4 = torch.zeros(2, G.dim, dtype=f64), torch.zeros(4, G.dim, dtype=f64)
    with pytest.raises(ValueError, match="dexp_inv: batch shapes"):
        G.dexp_inv(xi2, v4)
    with pytest.raises(TypeError, match="float32 or float64.*float16"):
        G.exp(torch.zeros(G.dim, dtype=torch.float16))
    with pytest.raises(ValueError, match="batch_shape of non-negative ints"):
        G.identity((-1,))
    assert G.compose(g2[:1], g2).shape == g2.shape  # broadcasting still works


@pytest.mark.parametrize("group", [SO3(), SE3(), Sp(1)], ids=lambda g: g.name)
def test_wrong_shapes_name_the_expected_shape(group):
    n, d = group.matrix_size, group.dim
    with pytest.raises(
        ValueError, match=rf"exp: expected xi of shape \(\*batch, {d}\)"
    ):
        group.exp(torch.zeros(d + 1, dtype=torch.float64))
    with pytest.raises(
        ValueError, match=rf"log: expected g of shape \(\*batch, {n}, {n}\)"
    ):
        group.log(torch.zeros(n + 1, n + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="dexp_inv: expected v of shape"):
        group.dexp_inv(
            torch.zeros(d, dtype=torch.float64), torch.zeros(d + 2, dtype=torch.float64)
        )
    with pytest.raises(TypeError, match="floating-point"):
        group.exp(torch.zeros(d, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        group.exp([0.0] * d)
    with pytest.raises(ValueError, match="non-negative int"):
        group.sample(-1)


@pytest.mark.parametrize("name", ["so2", "so3", "se2", "se3", "sp"])
def test_log_of_a_non_group_matrix_is_a_value_error(name):
    G = get_group(name)
    g = 1.5 * G.identity(dtype=torch.float64)
    with pytest.raises(
        ValueError, match=rf"not a {re.escape(G.name)} element.*project"
    ):
        G.log(g)


@pytest.mark.parametrize("G", [SO3(), SE3(), Sp(2), get_group("se2")], ids=repr)
def test_non_finite_inputs_pass_through(G):
    """A diverged rollout is data: NaN in, NaN out, no exception, and the
    finite batch entries are unaffected."""
    n, d = G.matrix_size, G.dim
    nan = float("nan")
    g = torch.stack((G.identity(dtype=torch.float64), torch.full((n, n), nan)))
    x = torch.stack((torch.zeros(d, dtype=torch.float64), torch.full((d,), nan)))
    for out in (G.log(g), G.project(g), G.residual(g), G.exp(x), G.dexp_inv(x, x)):
        assert torch.isfinite(out[0]).all()
        assert torch.isnan(out[1]).any()
    assert torch.isnan(G.project(torch.zeros(n, n, dtype=torch.float64))).all() == (
        isinstance(G, Sp)
    )


def test_cli_lists_groups(capsys):
    from dynsys.cli import main

    assert main(["list", "groups"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "groups"
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert rows["so3"][1:] == ["SO3", "3", "3x3"]
    assert rows["se3"][1:] == ["SE3", "6", "4x4"]
    assert rows["sp"][1:] == ["Sp(1)", "3", "2x2"]
    assert set(rows) == set(available_groups())


def test_numpy_integers_are_accepted_as_sizes():
    assert Sp(np.int64(2)).matrix_size == 4
    assert SO3().sample(np.int64(3)).shape == (3, 3, 3)
    assert SO3().identity(np.int64(2)).shape == (2, 3, 3)
    assert SO3().identity((np.int64(2), 1)).shape == (2, 1, 3, 3)
