"""Ground truth against textbook numbers: periods, published constants and a
stability threshold, so that a sign or factor slip in an equation shows."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import special

import dynsys

F64 = torch.float64


@pytest.mark.parametrize(("e", "mu"), [(0.0, 1.0), (0.5, 1.0), (0.9, 4.0)])
def test_kepler_period_and_conserved_quantities(e, mu):
    # a = 1: T = 2 pi a^(3/2) / sqrt(mu), E = -mu / (2a), L = sqrt(mu a (1 - e^2)),
    # |A| = mu e (Goldstein, Poole, Safko, "Classical Mechanics", 3rd ed., 2002,
    # secs. 3.7-3.9; Landau and Lifshitz, "Mechanics", 3rd ed., sec. 15).
    system = dynsys.get_system("kepler", e=e, mu=mu)
    x0 = system.perihelion_state()[None]
    inv = system.invariants(x0)
    assert float(inv["energy"]) == pytest.approx(-mu / 2, rel=1e-14)
    assert float(inv["angular_momentum"]) == pytest.approx(
        math.sqrt(mu * (1 - e * e)), rel=1e-14
    )
    lrl = float(torch.hypot(inv["lrl_x"], inv["lrl_y"]))
    assert lrl == pytest.approx(mu * e, abs=1e-14)
    period = 2 * math.pi / math.sqrt(mu)
    half = system.exact_solution(x0, torch.tensor([period / 2, period], dtype=F64))
    # Aphelion at T/2: q = (-(1 + e), 0); back at perihelion after T.
    assert torch.allclose(half[0, 0, :2], torch.tensor([-(1 + e), 0.0], dtype=F64))
    assert torch.allclose(half[1], x0, atol=1e-12)
    if e <= 0.5:  # a fixed step does not resolve the e = 0.9 perihelion pass
        steps = 4000
        traj = dynsys.simulate(system, x0, steps, dt=period / steps)
        assert torch.allclose(traj.states[-1], x0, atol=1e-7)  # measured 5e-9


@pytest.mark.parametrize("q0", [1e-3, 1.0, 2.5])
def test_pendulum_period_is_4K_over_omega0(q0):
    # Released from rest at q0: T = 4 K(k^2) / omega0 with k = sin(q0/2), which
    # tends to 2 pi / omega0 for small q0 (Landau and Lifshitz, "Mechanics",
    # sec. 11, problem 1; Lawden, "Elliptic Functions and Applications", 1989,
    # sec. 5.2).
    omega0 = 2.0
    system = dynsys.get_system("pendulum", omega0=omega0)
    period = 4 * special.ellipk(math.sin(q0 / 2) ** 2) / omega0
    if q0 < 0.01:
        assert period == pytest.approx(2 * math.pi / omega0, rel=1e-6)
    x0 = torch.tensor([[q0, 0.0]], dtype=F64)
    exact = system.exact_solution(x0, torch.tensor([period / 2, period], dtype=F64))
    assert torch.allclose(exact[0], -x0, atol=1e-12)  # at -q0 after half a period
    assert torch.allclose(exact[1], x0, atol=1e-12)
    traj = dynsys.simulate(system, x0, 2000, dt=period / 2000)
    assert torch.allclose(traj.states[-1], x0, atol=1e-9)


def test_henon_heiles_potential_and_escape_saddle():
    # H = (px^2 + py^2 + x^2 + y^2)/2 + x^2 y - y^3/3 (Henon and Heiles, Astron. J.
    # 69, 73, 1964); saddle (0, 1) at the escape energy 1/6.
    system = dynsys.get_system("henon-heiles")
    x, y, px, py = 0.1, -0.2, 0.3, 0.4
    h = (px**2 + py**2 + x**2 + y**2) / 2 + x**2 * y - y**3 / 3
    state = torch.tensor([[x, y, px, py]], dtype=F64)
    assert float(system.invariants(state)["energy"]) == pytest.approx(h, rel=1e-15)
    saddle = torch.tensor([[0.0, 1.0]], dtype=F64)
    assert float(system.potential(saddle)) == pytest.approx(1 / 6, rel=1e-15)
    assert torch.allclose(system.dH_dq(saddle), torch.zeros(1, 2, dtype=F64))


def test_standard_map_step_and_area():
    # p' = p + K sin q, q' = q + p' (mod 2 pi) (Chirikov, Phys. Rep. 52, 263,
    # 1979, sec. 4.1); Jacobian determinant 1.
    system = dynsys.get_system("standard-map", K=1.3)
    q, p = 1.0, 6.0
    p1 = (p + 1.3 * math.sin(q)) % (2 * math.pi)
    q1 = (q + p1) % (2 * math.pi)
    out = system.step_map(torch.tensor([[q, p]], dtype=F64))
    assert torch.allclose(out, torch.tensor([[q1, p1]], dtype=F64), atol=1e-14)
    jac = torch.autograd.functional.jacobian(
        lambda v: system.step_map(v[None])[0], torch.tensor([0.4, 2.0], dtype=F64)
    )
    assert float(torch.linalg.det(jac)) == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize(("ratio", "stable"), [(1.2, True), (0.8, False)])
def test_sleeping_top_stability_threshold(ratio, stable):
    # A Lagrange top spinning upright is stable iff m3^2 > 4 I1 mgl (Landau and
    # Lifshitz, "Mechanics", sec. 35, problem 1; Goldstein et al., sec. 5.7,
    # the "sleeping top", with m3 = I3 omega3). A wrong sign of
    # the gravity torque or of m x omega moves or removes the threshold.
    inertia, mgl = (1.0, 1.0, 0.5), 1.0
    system = dynsys.get_system("heavy-top", inertia=inertia, mgl=mgl)
    m3 = ratio * 2 * math.sqrt(inertia[0] * mgl)
    tilt = 0.01
    c, s = math.cos(tilt), math.sin(tilt)
    R = torch.tensor([[1.0, 0, 0], [0, c, -s], [0, s, c]], dtype=F64)
    x0 = torch.cat([R.reshape(9), torch.tensor([0.0, 0.0, m3], dtype=F64)])[None]
    traj = dynsys.simulate(system, x0, 1500, dt=0.02)
    # Gamma_3 = e3 . R e3 = cos(tilt of the body axis from the vertical).
    max_tilt = float(torch.arccos(traj.states[:, 0, 8].clamp(-1, 1)).max())
    assert (max_tilt < 5 * tilt) if stable else (max_tilt > 0.5)


def test_standard_map_stays_in_the_half_open_square():
    # remainder(-1e-17, 2 pi) rounds to 2 pi; the state must stay in [0, 2 pi).
    system = dynsys.get_system("standard-map", K=1.0)
    out = system.step_map(torch.tensor([[0.0, -1e-17], [2.0, 1.0]], dtype=F64))
    assert float(out[0, 1]) == 0.0 and float(out[0, 0]) == 0.0
    assert bool(((out >= 0) & (out < 2 * math.pi)).all())
