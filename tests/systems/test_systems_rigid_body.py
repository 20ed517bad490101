"""Free rigid body against the Jacobi-elliptic solution (Landau & Lifshitz sec. 37)."""

from __future__ import annotations

import pytest
import torch

import dynsys

#: (inertia, omega0): both regimes M^2 > 2 E I2 and M^2 < 2 E I2, and an
#: unsorted inertia so the axis relabelling is exercised.
STARTS = [
    ((1.0, 2.0, 3.0), (0.3, 0.4, 1.0)),  # near the largest axis
    ((1.0, 2.0, 3.0), (1.0, 0.4, -0.3)),  # near the smallest axis
    ((3.0, 1.0, 2.0), (0.2, -0.9, 0.5)),  # unsorted moments
    ((1.0, 1.5, 2.2), (-0.7, 0.5, -0.6)),
]


def _m0(inertia, omega0):
    return (
        torch.tensor(inertia, dtype=torch.float64)
        * torch.tensor(omega0, dtype=torch.float64)
    )[None]


@pytest.mark.parametrize(("inertia", "omega0"), STARTS)
def test_elliptic_solution_solves_eulers_equations(inertia, omega0):
    system = dynsys.get_system("rigid-body", inertia=inertia)
    m0 = _m0(inertia, omega0)
    t = torch.linspace(0.0, 7.0, 41, dtype=torch.float64)
    h = 1e-5
    w = system.exact_omega(m0, t)[:, 0]
    assert torch.allclose(w[0], m0[0] / system.inertia, atol=1e-13)
    dw = (system.exact_omega(m0, t + h) - system.exact_omega(m0, t - h))[:, 0] / (2 * h)
    m = w * system.inertia
    rhs = torch.linalg.cross(m, w) / system.inertia  # I w' = (I w) x w
    assert torch.allclose(dw, rhs, atol=1e-8)


@pytest.mark.parametrize(("inertia", "omega0"), STARTS)
def test_ground_truth_matches_elliptic_solution(inertia, omega0):
    system = dynsys.get_system("rigid-body", inertia=inertia)
    m0 = _m0(inertia, omega0)
    x0 = system.join_state(torch.eye(3, dtype=torch.float64)[None], m0)
    traj = dynsys.simulate(system, x0, 400, dt=0.01, integrator="rkmk4")
    _, m = system.split_state(traj.states)

    def exact_at(times):
        return system.exact_omega(m0, times)

    exact = exact_at(traj.times)
    assert torch.allclose(m / system.inertia, exact, atol=1e-9)  # measured <2e-10
    # The default Lie-Poisson method: second order, quadratic invariants exact.
    # Measured errors 5e-7 .. 1.6e-5 over these starts; halving dt quarters them.
    errors = []
    for dt, steps in ((0.01, 400), (0.005, 800)):
        traj2 = dynsys.simulate(system, x0, steps, dt=dt)
        _, m2 = system.split_state(traj2.states)
        errors.append(float((m2 / system.inertia - exact_at(traj2.times)).abs().max()))
    assert errors[0] < 5e-5
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_dzhanibekov_flip_happens_when_the_exact_solution_says():
    """Spin near the intermediate axis flips; the flip time is where sn = 0."""
    system = dynsys.get_system("rigid-body", inertia=(1.0, 2.0, 3.0))
    m0 = _m0((1.0, 2.0, 3.0), (1e-3, 1.0, 1e-3))
    t_flip = float(system.flip_time(m0)[0])
    assert 10.0 < t_flip < 30.0  # slow: close to the separatrix
    x0 = system.join_state(torch.eye(3, dtype=torch.float64)[None], m0)
    dt = 0.005
    traj = dynsys.simulate(
        system, x0, int(1.3 * t_flip / dt), dt=dt, integrator="rkmk4"
    )
    m2 = traj.states[:, 0, 10]
    first = int(torch.nonzero(m2 < 0)[0])
    assert traj.times[first - 1] <= t_flip + 1e-3
    assert abs(float(traj.times[first]) - t_flip) < 2 * dt
    # The momentum turns over: m2 goes from +|m| to about -|m|.
    assert float(m2.min()) < -0.95 * float(m0.norm())


def test_exact_omega_is_periodic_and_rejects_a_symmetric_body():
    system = dynsys.get_system("rigid-body")
    m0 = _m0((1.0, 2.0, 3.0), (0.3, 0.4, 1.0))
    w = system.exact_omega(m0, torch.tensor([0.0, 0.5]))
    # Half the flip-to-flip time is not a period, but 2 flips later omega_2
    # has the starting sign again: check the values along a long window.
    assert torch.isfinite(w).all()
    sym = dynsys.get_system("rigid-body", inertia=(1.0, 1.0, 1.5))
    with pytest.raises(ValueError, match="distinct"):
        sym.exact_omega(m0, torch.tensor([0.0]))


def test_rigid_body_default_method_keeps_all_invariants_to_round_off():
    system = dynsys.get_system("rigid-body")
    assert system.default_integrator == "rigid-body-midpoint"
    assert system.is_free_rigid_body
    traj = dynsys.simulate(system, system.sample(8), 2000)
    drift = traj.invariant_drift()
    assert float(drift["energy"].max()) < 1e-12
    assert float(drift["casimir"].max()) < 1e-12
    for axis in "xyz":  # relative per component: looser for small components
        assert float(drift[f"spatial_momentum_{axis}"].max()) < 1e-10


def test_heavy_top_sleeping_top_stays_upright():
    """Upright spin about the vertical symmetry axis is an equilibrium."""
    top = dynsys.get_system("heavy-top")
    x0 = top.join_state(
        torch.eye(3, dtype=torch.float64)[None],
        torch.tensor([[0.0, 0.0, 5.0]], dtype=torch.float64),
    )
    traj = dynsys.simulate(top, x0, 100)
    R, m = top.split_state(traj.states[-1])
    assert torch.allclose(m, x0[:, 9:], atol=1e-12)
    assert torch.allclose(R[:, 2, 2], torch.ones(1, dtype=torch.float64), atol=1e-12)
    assert "m3" in top.invariants(x0)
    assert "m3" not in dynsys.get_system("heavy-top", inertia=(1, 2, 2.5)).invariants(
        x0
    )


@pytest.mark.parametrize(
    "m0", [(0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -2.0, 0.0), (3.0, 0.0, 0.0)]
)
def test_steady_starts_rest_and_principal_axis_spins(m0):
    # Fixed points of Euler's equations (m x omega = 0; Landau and Lifshitz,
    # sec. 37): the elliptic formulas degenerate there (|m| = 0, or k^2 = 1 with
    # an infinite phase on the intermediate axis) and used to fail with NaN.
    system = dynsys.get_system("rigid-body", inertia=(1.0, 2.0, 3.0))
    m = torch.tensor([m0], dtype=torch.float64)
    R0 = system.group.exp(torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64))
    x0 = system.join_state(R0, m)
    t = torch.tensor([0.0, 0.7, 4.0], dtype=torch.float64)
    exact = system.exact_solution(x0, t)
    omega = m / system.inertia
    R_t = R0 @ system.group.exp(t[:, None] * omega)
    assert torch.allclose(exact[:, 0, :9], R_t.reshape(3, 9), atol=1e-14)
    assert torch.equal(exact[:, 0, 9:], m.expand(3, 3))
    assert torch.equal(system.exact_omega(m, t)[:, 0], omega.expand(3, 3))
    assert float(system.flip_time(m)[0]) == float("inf")


@pytest.mark.parametrize("inertia", [(1.0, 2.0, 3.0), (2.0, 0.5, 1.7)])
def test_entrywise_field_equals_the_lie_field_through_hat(inertia):
    """The per-entry ``vector_field`` is ``[R hat(m / I), m x (m / I)]``."""
    system = dynsys.get_system("rigid-body", inertia=inertia)
    x = system.sample(16, seed=3)
    R, m = system.split_state(x)
    omega = m / torch.tensor(inertia, dtype=x.dtype)
    generic = system.join_state(
        R @ dynsys.groups.SO3().hat(omega), torch.linalg.cross(m, omega)
    )
    torch.testing.assert_close(
        system.vector_field(0.0, x), generic, rtol=0.0, atol=1e-14
    )
