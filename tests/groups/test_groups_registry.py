"""Registry, entry-point discovery, bad input and ``dynsys list groups``."""

from __future__ import annotations

import re
import textwrap
from importlib import metadata

import pytest
import torch

from dynsys.groups import (
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
