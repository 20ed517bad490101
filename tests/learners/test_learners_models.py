"""Architectures: registry, contract attributes, exact forms, size matching."""

from __future__ import annotations

import pytest
import torch

import learners

ARCHS = learners.available()
BILINEAR_FAMILY = ("bilinear", "bilinear-nobias", "swiglu", "geglu", "reglu")
POINTWISE = ("relu", "tanh", "sigmoid", "gelu")


def test_registry_lists_every_family():
    assert set(BILINEAR_FAMILY + POINTWISE) <= set(ARCHS)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("depth", [1, 3])
def test_shapes_config_and_rebuild(arch, depth):
    model = learners.make_model(arch, 5, 3, hidden=7, depth=depth, seed=1)
    x = torch.randn(2, 4, 5)
    assert model(x).shape == (2, 4, 3)
    assert model.arch == arch and model.config["depth"] == depth
    again = learners.make_model(**model.config, seed=1)
    assert torch.equal(again(x), model(x))


@pytest.mark.parametrize("arch", BILINEAR_FAMILY)
def test_bilinear_family_exposes_w_v_p(arch):
    model = learners.make_model(arch, 4, 4, hidden=6, depth=2)
    for block in model.blocks:
        for name, shape in (("W", (6, 4)), ("V", (6, 4)), ("P", (4, 6))):
            layer = getattr(block, name)
            assert isinstance(layer, torch.nn.Linear) and layer.weight.shape == shape


@pytest.mark.parametrize("arch", POINTWISE)
def test_pointwise_blocks_expose_layers(arch):
    block = learners.make_model(arch, 3, 2, hidden=5).blocks[0]
    assert isinstance(block.layers, torch.nn.Sequential)
    assert block.layers[0].weight.shape == (5, 3) and block.layers[2].weight.shape == (
        2,
        5,
    )


def test_bilinear_block_is_the_stated_formula():
    model = learners.make_model("bilinear", 3, 2, hidden=4, seed=0)
    b = model.blocks[0]
    x = torch.randn(10, 3)
    by_hand = (
        (x @ b.W.weight.T + b.W.bias) * (x @ b.V.weight.T + b.V.bias)
    ) @ b.P.weight.T
    torch.testing.assert_close(model(x), by_hand + b.P.bias)


def test_bias_free_bilinear_is_an_even_quadratic_form():
    # P(Wx * Vx) is homogeneous of degree 2: f(a x) = a^2 f(x), so f(-x) = f(x).
    model = learners.make_model("bilinear-nobias", 3, 3, hidden=8, seed=0)
    assert all(p.bias is None for blk in model.blocks for p in (blk.W, blk.V, blk.P))
    assert learners.make_model("bilinear", 3, 3, bias=False).config["bias"] is False
    x = torch.randn(20, 3, dtype=torch.float64)
    model.double()
    torch.testing.assert_close(model(-x), model(x))
    torch.testing.assert_close(model(2.5 * x), 6.25 * model(x))


@pytest.mark.parametrize(
    "act",
    [
        ("swiglu", torch.nn.functional.silu),
        ("geglu", torch.nn.functional.gelu),
        ("reglu", torch.relu),
    ],
)
def test_gated_block_formula(act):
    arch, fn = act
    block = learners.make_model(arch, 3, 2, hidden=4, seed=0).blocks[0]
    x = torch.randn(10, 3)
    torch.testing.assert_close(block(x), block.P(fn(block.W(x)) * block.V(x)))


def test_depth_stacks_residual_blocks_then_an_output_block():
    model = learners.make_model("tanh", 3, 2, hidden=4, depth=3, seed=0)
    x = torch.randn(6, 3)
    h = x + model.blocks[0](x)
    h = h + model.blocks[1](h)
    torch.testing.assert_close(model(x), model.blocks[2](h))
    assert [(b.d_in, b.d_out) for b in model.blocks] == [(3, 3), (3, 3), (3, 2)]


def test_parameter_count_formula():
    # bilinear with bias: W, V: d*h + h each; P: h*d_out + d_out.
    d, h, o = 5, 7, 3
    model = learners.make_model("bilinear", d, o, hidden=h)
    assert learners.count_params(model) == 2 * (d * h + h) + h * o + o
    mlp = learners.make_model("relu", d, o, hidden=h)
    assert learners.count_params(mlp) == d * h + h + h * o + o


@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("dims", [(2, 2), (9, 9), (12, 3)])
def test_matched_hidden_within_five_percent(depth, dims):
    d_in, d_out = dims
    target = learners.count_params(
        learners.make_model("bilinear", d_in, d_out, 64, depth)
    )
    counts = {}
    for arch in ARCHS:
        model = learners.make_model(arch, d_in, d_out, depth=depth, match_params=target)
        counts[arch] = learners.count_params(model)
        assert abs(counts[arch] - target) <= 0.05 * target, (arch, counts[arch])
    # The widths really differ: bilinear blocks have two input maps per unit.
    assert learners.matched_hidden("relu", d_in, d_out, target, depth) > 64


def test_matched_hidden_refuses_impossible_targets():
    with pytest.raises(ValueError, match="within 5%"):
        learners.matched_hidden("bilinear", 9, 9, 20)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arch": "transformer"}, "known: bilinear, bilinear-nobias, swiglu"),
        ({"hidden": 0}, "hidden must be an integer >= 1"),
        ({"hidden": 2.5}, "hidden must be an integer >= 1"),
        ({"depth": 0}, "depth must be an integer >= 1"),
        ({"d_in": -1}, "d_in must be"),
        ({"dropout": 0.1}, "unknown model option"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    args = {"arch": "swiglu", "d_in": 3, "d_out": 3, "hidden": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        learners.make_model(**args)


def test_seed_fixes_the_initialisation_without_touching_global_rng():
    state = torch.random.get_rng_state()
    a = learners.make_model("geglu", 3, 3, hidden=5, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = learners.make_model("geglu", 3, 3, hidden=5, seed=4)
    assert all(
        torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def test_register_architecture_adds_a_family():
    class Linear(learners.Block):
        def __init__(self, d_in, d_out, hidden, bias=True):
            super().__init__(d_in, d_out, hidden)
            self.lin = torch.nn.Linear(d_in, d_out, bias=bias)

        def forward(self, x):
            return self.lin(x)

    learners.register_architecture("test-linear", Linear)
    try:
        assert "test-linear" in learners.available()
        assert learners.make_model("test-linear", 2, 2)(torch.ones(1, 2)).shape == (
            1,
            2,
        )
        with pytest.raises(ValueError, match="already registered"):
            learners.register_architecture("test-linear", Linear)
    finally:
        from learners import models

        models._ARCHS.pop("test-linear")
