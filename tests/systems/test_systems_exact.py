"""Exact solutions: closed forms against identities and against integration."""

from __future__ import annotations

import math

import pytest
import torch
from system_cases import CASES, build, case_id

import dynsys
from dynsys.systems.linear import symplectic_J

EXACT = [c for c in CASES if build(c).has_exact_solution]


def test_the_systems_with_a_closed_form():
    names = {c[0] for c in EXACT}
    assert names == {
        "cyclic-shift",
        "circle-rotation",
        "so3-rotation",
        "se2-unicycle",
        "group-flow",
        "harmonic-oscillator",
        "linear-symplectic",
        "modular-addition",
        "pendulum",
        "kepler",
        "rigid-body",
    }


@pytest.mark.parametrize("case", EXACT, ids=case_id)
def test_exact_solution_starts_at_x0_and_is_a_flow(case):
    """phi_0 = id and phi_{t+s} = phi_s o phi_t (autonomous flows and maps)."""
    system = build(case)
    x0 = system.sample(3, seed=2)
    t, s = (3.0, 5.0) if system.is_discrete else (0.7, 1.3)
    assert torch.allclose(system.exact_solution(x0, [0.0])[0], x0, atol=1e-15)
    xt = system.exact_solution(x0, t)
    both = system.exact_solution(x0, t + s)
    assert torch.allclose(system.exact_solution(xt, s), both, atol=1e-12)


@pytest.mark.parametrize("case", EXACT, ids=case_id)
def test_ground_truth_matches_the_exact_solution(case):
    system = build(case)
    x0 = system.sample(4, seed=5)
    # A fourth-order method at dt/10 for a short time: error ~ (dt/10)^4 t.
    method = (
        "map"
        if system.is_discrete
        else ("rkmk4" if hasattr(system, "lie_field") else "rk4")
    )
    dt = system.dt if system.is_discrete else system.dt / 10
    traj = dynsys.simulate(system, x0, 100, dt=dt, integrator=method)
    exact = system.exact_solution(x0, traj.times)
    assert exact.shape == traj.states.shape
    assert torch.allclose(traj.states, exact, atol=1e-8, rtol=0)


def test_harmonic_oscillator_closed_form_values():
    system = dynsys.get_system("harmonic-oscillator", omega=2.0, mass=0.5)
    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    # Quarter period t = pi/(2 omega): q = 0, p = -m omega q0 = -1.
    x = system.exact_solution(x0, [math.pi / 4])
    assert torch.allclose(
        x, torch.tensor([[[0.0, -1.0]]], dtype=torch.float64), atol=1e-15
    )


def test_linear_symplectic_flow_is_in_sp_and_keeps_energy():
    system = dynsys.get_system("linear-symplectic", n=3, seed=1)
    M = system.flow_matrix(torch.tensor([0.5, 4.0]))
    J = symplectic_J(3)
    assert torch.allclose(M.transpose(-1, -2) @ J @ M, J.expand(2, 6, 6), atol=1e-12)
    assert torch.allclose(system.S, system.S.T)
    assert bool((torch.linalg.eigvalsh(system.S) > 0).all())
    x0 = system.sample(3)
    x = system.exact_solution(x0, torch.tensor([4.0]))[0]
    e0, e1 = system.invariants(x0)["energy"], system.invariants(x)["energy"]
    assert torch.allclose(e0, e1, rtol=1e-12)


def test_linear_symplectic_given_matrix():
    S = [[2.0, 0.0], [0.0, 2.0]]  # H = q^2 + p^2: rotation at frequency 2
    system = dynsys.get_system("linear-symplectic", n=1, S=S)
    x = system.exact_solution(
        torch.tensor([[1.0, 0.0]], dtype=torch.float64), [math.pi]
    )
    assert torch.allclose(
        x, torch.tensor([[[1.0, 0.0]]], dtype=torch.float64), atol=1e-14
    )


@pytest.mark.parametrize("embedding", ["one-hot", "fourier"])
def test_cyclic_shift_values(embedding):
    system = dynsys.get_system("cyclic-shift", n=5, k=2, embedding=embedding)
    x0 = system.embed(torch.tensor([0, 4]))
    assert torch.equal(system.decode(x0), torch.tensor([0, 4]))
    x3 = system.exact_solution(x0, torch.tensor(3.0))
    assert torch.equal(system.decode(x3), torch.tensor([1, 0]))  # 0+6, 4+6 mod 5
    assert torch.allclose(
        system.step_map(system.step_map(system.step_map(x0))), x3, atol=1e-14
    )
    with pytest.raises(ValueError, match="whole-number"):
        system.exact_solution(x0, torch.tensor(0.5))


def test_circle_rotation_golden_angle_and_period():
    system = dynsys.get_system("circle-rotation", omega=2 * math.pi / 6)
    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(system.exact_solution(x0, torch.tensor(6.0)), x0, atol=1e-14)
    golden = dynsys.get_system("circle-rotation").params["omega"]
    assert golden == pytest.approx(math.pi * (3 - math.sqrt(5)))


def test_so3_rotation_period():
    """Rotation by |omega| t = 2 pi returns to the start."""
    system = dynsys.get_system("so3-rotation", omega=(0.0, 0.0, 2.0))
    x0 = system.sample(2)
    x = system.exact_solution(x0, math.pi)
    assert torch.allclose(x, x0, atol=1e-13)


def test_se2_unicycle_circle():
    system = dynsys.get_system("se2-unicycle", twist=(2.0, 0.0, 0.5))
    x0 = torch.eye(3, dtype=torch.float64).reshape(1, 9)
    inv = system.invariants(x0)
    # Start at the origin heading +x, turning left: centre (0, v/omega) = (0, 4).
    assert float(inv["centre_x"]) == pytest.approx(0.0, abs=1e-15)
    assert float(inv["centre_y"]) == pytest.approx(4.0)
    assert float(inv["radius"]) == pytest.approx(4.0)
    half = system.exact_solution(x0, 2 * math.pi)  # half a turn
    g = half.reshape(3, 3)
    assert torch.allclose(
        g[:2, 2], torch.tensor([0.0, 8.0], dtype=torch.float64), atol=1e-12
    )


def test_group_flow_spatial_velocity_is_conserved_on_sp():
    system = dynsys.get_system("group-flow", group="sp", n=2)
    x0 = system.sample(3)
    x = system.exact_solution(x0, torch.tensor([0.0, 2.0, 7.0]))
    inv = system.invariants(x)
    for value in inv.values():
        assert torch.allclose(value, value[:1].expand_as(value), atol=1e-10)
    assert len(inv) == system.group.dim


def test_kepler_period_perihelion_and_unbound_states():
    for e in (0.0, 0.5, 0.95):
        system = dynsys.get_system("kepler", e=e, mu=2.0)
        x0 = system.perihelion_state()[None]
        zero = torch.zeros(1, dtype=torch.float64)
        assert torch.allclose(system.orbit_state(zero, zero), x0, atol=1e-14)
        inv = system.invariants(x0)
        assert float(inv["energy"]) == pytest.approx(-1.0)  # -mu / (2a), a = 1
        assert float(torch.hypot(inv["lrl_x"], inv["lrl_y"])) == pytest.approx(
            2.0 * e, abs=1e-14
        )  # |A| = mu e
        period = 2 * math.pi / math.sqrt(2.0)
        x = system.exact_solution(system.sample(3), [0.0, period, 3 * period])
        assert torch.allclose(x[1:], x[:1].expand(2, 3, 4), atol=1e-9)
    with pytest.raises(ValueError, match="bound states"):
        system.exact_solution(
            torch.tensor([[1.0, 0.0, 0.0, 3.0]], dtype=torch.float64), [1.0]
        )


def test_pendulum_librations_and_rotations_against_integration():
    system = dynsys.get_system("pendulum", omega0=1.3)
    x0 = torch.tensor(
        [[0.5, 0.2], [3.0, 0.1], [7.0, -2.2], [-6.0, 0.3], [0.5, 2.5], [-1.0, -3.0]],
        dtype=torch.float64,
    )
    traj = dynsys.simulate(system, x0, 400, dt=0.01, integrator="yoshida6")
    exact = system.exact_solution(x0, traj.times)
    assert torch.allclose(traj.states, exact, atol=1e-8)
    # Small oscillations have period 2 pi / omega0.
    small = torch.tensor([[1e-4, 0.0]], dtype=torch.float64)
    back = system.exact_solution(small, [2 * math.pi / 1.3])[0]
    assert torch.allclose(back, small, atol=1e-10)


def test_rigid_body_exact_attitude_on_long_times_and_symmetric_bodies():
    system = dynsys.get_system("rigid-body", inertia=(3.0, 1.0, 2.0))
    x0 = system.sample(2, seed=9)
    t = torch.tensor([-7.0, 0.0, 40.0, 250.0], dtype=torch.float64)
    x = system.exact_solution(x0, t)
    for value in system.constraints(x).values():
        assert float(value.max()) < 1e-12
    inv, inv0 = system.invariants(x), system.invariants(x0)
    for name, value in inv.items():
        assert torch.allclose(value, inv0[name].expand_as(value), atol=1e-12), name
    # Backward then forward returns to the start (the flow property).
    back = system.exact_solution(x[0], [7.0])[0]
    assert torch.allclose(back, x0, atol=1e-12)

    # Symmetric bodies: regular precession, checked against integration.
    for inertia in [(1.0, 1.0, 1.5), (2.0, 1.0, 2.0), (1.0, 1.0, 1.0)]:
        sym = dynsys.get_system("rigid-body", inertia=inertia)
        y0 = sym.sample(2, seed=1)
        traj = dynsys.simulate(sym, y0, 200, dt=0.005, integrator="rkmk4")
        exact = sym.exact_solution(y0, traj.times)
        assert torch.allclose(traj.states, exact, atol=1e-10), inertia


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="kepler exact_solution covers bound (elliptic) orbits only",
)
def test_kepler_exact_solution_for_a_hyperbolic_orbit():
    system = dynsys.get_system("kepler")
    x0 = torch.tensor([[1.0, 0.0, 0.0, 2.0]], dtype=torch.float64)  # E = 1 > 0
    assert system.exact_solution(x0, [1.0]) is not None


def test_modular_addition_stays_exactly_on_the_lattice():
    # The Fibonacci map amplifies off-lattice error by ~phi per step; with an
    # FFT convolution round-off reached O(1) after ~70 steps. The direct sum is
    # exact on one-hot codes, so 300 steps agree bit for bit with the closed form.
    system = dynsys.get_system("modular-addition", p=97)
    x0 = system.sample(16, seed=3)
    x = x0
    for _ in range(300):
        x = system.step_map(x)
    assert float(system.constraints(x)["lattice"].max()) == 0.0
    assert torch.equal(x, system.exact_solution(x0, [300.0])[0])
    # Fibonacci check by hand: (a, b) = (0, 1) after 10 steps is (F10, F11) mod 97.
    one = system.embed(torch.tensor([0]), torch.tensor([1]))
    for _ in range(10):
        one = system.step_map(one)
    a, b = system.decode(one)
    assert (int(a), int(b)) == (55 % 97, 89 % 97)


def test_pendulum_exact_solution_at_the_equilibria():
    # The inverted equilibria (k = 1, p = 0) used to give NaN: the elliptic
    # phase F(pi/2 | 1) is infinite there. All equilibria stay put.
    system = dynsys.get_system("pendulum", omega0=1.5)
    x0 = torch.tensor(
        [[math.pi, 0.0], [-math.pi, 0.0], [3 * math.pi, 0.0], [0.0, 0.0]],
        dtype=torch.float64,
    )
    exact = system.exact_solution(x0, torch.tensor([0.0, 2.0, 50.0]))
    assert torch.equal(exact, x0.expand(3, 4, 2))
    # Next to the top the motion is still the elliptic one (slow, finite).
    near = torch.tensor([[math.pi - 1e-6, 0.0]], dtype=torch.float64)
    moved = system.exact_solution(near, [1.0])[0]
    assert torch.isfinite(moved).all() and abs(float(moved[0, 0]) - math.pi) < 1e-5
