"""Gradient flow of factorised and bilinear parameterisations, and of networks."""

import numpy as np
import pytest
import torch
from torch import nn

from evaluation import gradient_flow as gf

S = [3.0, 2.0, 1.0, 0.5]


def test_aligned_factorised_flow_has_no_cross_terms_and_follows_saxe():
    target = gf.linear_target(S, d_in=7, d_out=6, seed=2)
    scale = 1e-2
    res = gf.factorised_flow(
        target, hidden=5, init_scale=scale, t_max=20.0, n_times=60, aligned=True
    )
    # Cross terms start at 0 and the flow keeps them there (up to rounding).
    assert res.cross.max() < 1e-12
    for i, s in enumerate(S):
        expected = gf.saxe_coefficient(s, scale**2, res.times)
        np.testing.assert_allclose(res.diagonal[:, i], expected, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(res.diagonal[-1], S, rtol=1e-3)


def test_random_start_factorised_flow_reaches_target():
    target = gf.linear_target(S, d_in=6, d_out=6, seed=0)
    res = gf.factorised_flow(target, hidden=6, init_scale=1e-3, t_max=25.0, n_times=50)
    np.testing.assert_allclose(res.diagonal[-1], S, rtol=1e-3)
    assert res.loss[-1] < 1e-6 * res.loss[0]
    assert res.final_cross_ratio() < 1e-3
    # Starting from noise, cross terms are nonzero at some point.
    assert 0.0 < res.cross_ratio() < 1.0


def test_saxe_coefficient_limits():
    t = np.array([0.0, 1e3])
    np.testing.assert_allclose(gf.saxe_coefficient(2.0, 1e-4, t), [1e-4, 2.0])


def test_bilinear_gradient_matches_autograd():
    target = gf.bilinear_target([1.5, 0.7], d_in=5, d_out=3, seed=1)
    rng = np.random.default_rng(0)
    P, W, V = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    gP, gW, gV, loss = gf._bilinear_grad(P, W, V, target.operator())
    tP, tW, tV = (torch.tensor(a, requires_grad=True) for a in (P, W, V))
    B = torch.einsum("kh,hi,hj->kij", tP, tW, tV)
    E = 0.5 * (B + B.transpose(1, 2)) - torch.tensor(target.operator())
    tr = torch.einsum("kii->k", E)
    t_loss = (E**2).sum() + 0.5 * (tr**2).sum()
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item())
    for mine, ref in ((gP, tP), (gW, tW), (gV, tV)):
        np.testing.assert_allclose(mine, ref.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_bilinear_population_loss_matches_monte_carlo():
    # E[(x^T A x)^2] = 2 tr(A^2) + (tr A)^2 for x ~ N(0, I) (Isserlis).
    target = gf.bilinear_target([1.0], d_in=3, d_out=1, seed=0)
    rng = np.random.default_rng(5)
    P, W, V = rng.normal(size=(1, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    loss = gf._bilinear_grad(P, W, V, target.operator())[3]
    x = torch.randn(400_000, 3, dtype=torch.float64)
    model = torch.einsum(
        "kh,nh->nk", torch.tensor(P), (x @ torch.tensor(W).T) * (x @ torch.tensor(V).T)
    )
    mc = 0.5 * ((model - target(x)) ** 2).sum(-1).mean()
    assert float(mc) == pytest.approx(loss, rel=0.03)


def test_aligned_bilinear_flow_keeps_modes_separate():
    target = gf.bilinear_target([2.0, 1.0], d_in=4, d_out=2, seed=3)
    res = gf.bilinear_flow(
        target, hidden=3, init_scale=0.3, t_max=20.0, n_times=40, aligned=True
    )
    assert res.coeffs.shape == (40, 2, 2, 2)
    assert res.cross.max() < 1e-10
    np.testing.assert_allclose(res.diagonal[-1], [2.0, 1.0], rtol=1e-4)


def test_network_flow_reads_exact_operators():
    lin = gf.linear_target([2.0, 1.0], d_in=3, d_out=2, seed=0)

    class Exact(nn.Module):
        def __init__(self, target):
            super().__init__()
            self.target = target
            self.offset = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return self.target(x) + 0.3 + self.offset

    res = gf.network_flow(Exact(lin), lin, lr=0.1, t_max=0.1, n_times=2, n_samples=64)
    np.testing.assert_allclose(res.coeffs[0], np.diag([2.0, 1.0]), atol=1e-12)
    quad = gf.bilinear_target([2.0, 1.0], d_in=4, d_out=2, seed=0)
    res = gf.network_flow(Exact(quad), quad, lr=0.1, t_max=0.1, n_times=2, n_samples=64)
    assert res.cross[0] < 1e-12
    np.testing.assert_allclose(res.diagonal[0], [2.0, 1.0], atol=1e-12)


def test_network_flow_of_a_linear_layer_follows_its_gradient_flow():
    # f(x) = A x with loss 1/2 mean |A x - Q* x|^2 has A' = -(A - Q*) Sigma,
    # Sigma the sample second moment: descent converges to Q*.
    target = gf.linear_target([1.0, 0.5], d_in=2, d_out=2, seed=4)
    layer = nn.Linear(2, 2, bias=False)
    res = gf.network_flow(layer, target, lr=0.05, t_max=30.0, n_times=5, n_samples=512)
    np.testing.assert_allclose(res.coeffs[-1], np.diag([1.0, 0.5]), atol=1e-6)
    assert layer.weight.dtype == torch.float32  # the caller's model is untouched


def test_bad_targets_and_settings():
    with pytest.raises(ValueError, match="positive"):
        gf.linear_target([1.0, -1.0], 3, 3)
    with pytest.raises(ValueError, match="modes need"):
        gf.linear_target([1.0, 1.0, 1.0], 2, 5)
    with pytest.raises(ValueError, match="d_in >= 4"):
        gf.bilinear_target([1.0, 1.0], d_in=3, d_out=2)
    target = gf.linear_target([1.0], 2, 2)
    with pytest.raises(ValueError, match="hidden"):
        gf.factorised_flow(target, hidden=0)
    with pytest.raises(ValueError, match="t_max"):
        gf.factorised_flow(target, hidden=1, t_max=0.0)
