"""The system cases every test in this folder runs over (one per registered name
plus variants), with the drift tolerance of their default integrator.

Tolerances: relative invariant drift after ``STEPS`` steps of the default
integrator at the default ``dt``; an order-p method has error ``O(dt^p)``, so
fourth-order methods at dt = 0.01-0.1 give 1e-5 .. 1e-9, and methods that
keep a quadratic invariant exactly (implicit midpoint, Lie-Poisson midpoint,
exact maps, constant-velocity Lie flows) give round-off.
"""

from __future__ import annotations

import dynsys

STEPS = 200
ROUND_OFF = 1e-11

#: (name, params, {invariant: tolerance} overrides, default tolerance)
CASES: list[tuple[str, dict, dict[str, float], float]] = [
    ("cyclic-shift", {}, {}, ROUND_OFF),
    ("cyclic-shift", {"n": 7, "k": 3, "embedding": "fourier"}, {}, ROUND_OFF),
    ("circle-rotation", {}, {}, ROUND_OFF),
    ("standard-map", {}, {}, ROUND_OFF),
    ("modular-addition", {"p": 7}, {}, ROUND_OFF),
    ("so3-rotation", {}, {}, ROUND_OFF),
    # Lie-Poisson midpoint with a Cayley update: energy, |m|^2 and R m exact.
    ("rigid-body", {}, {"spatial_momentum": 1e-10}, ROUND_OFF),
    ("heavy-top", {}, {}, 1e-6),
    ("se2-unicycle", {}, {}, ROUND_OFF),
    ("se2-twist", {}, {}, ROUND_OFF),
    ("se3-rigid-body", {}, {}, 5e-8),  # measured 8.3e-9
    ("group-flow", {}, {}, ROUND_OFF),
    ("group-flow", {"group": "sp", "n": 2}, {}, 1e-10),
    ("group-flow", {"group": "se3"}, {}, ROUND_OFF),
    ("group-flow", {"group": "so2"}, {}, ROUND_OFF),
    ("group-flow", {"group": "so3", "amplitude": 0.5}, {}, ROUND_OFF),
    ("harmonic-oscillator", {}, {}, 3e-5),  # measured 7.6e-6
    ("pendulum", {}, {}, 2e-5),  # measured 4.2e-6
    ("kepler", {}, {}, 1e-6),  # measured 1.4e-7
    ("henon-heiles", {}, {}, 3e-6),  # measured 5.2e-7
    ("linear-symplectic", {}, {}, ROUND_OFF),
    ("linear-symplectic", {"n": 3, "seed": 4}, {}, ROUND_OFF),
]


def case_id(case: tuple) -> str:
    name, params = case[0], case[1]
    extra = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{name}[{extra}]" if extra else name


def build(case: tuple) -> dynsys.systems.System:
    return dynsys.get_system(case[0], **case[1])


def tolerance(case: tuple, invariant: str) -> float:
    for prefix, tol in case[2].items():
        if invariant.startswith(prefix):
            return tol
    return case[3]
