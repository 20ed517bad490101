"""Bad parameters: a one-line ValueError naming the parameter and the range."""

from __future__ import annotations

import pytest
import torch

import dynsys
from dynsys.systems import System, register_system

BAD = [
    ("rigid-body", {"inertia": (0.0, 1.0, 1.0)}, "inertia must have three positive"),
    ("rigid-body", {"inertia": (-1.0, 2.0, 3.0)}, "inertia must have three positive"),
    ("rigid-body", {"inertia": (1.0, 1.0, 3.0)}, "triangle inequality"),
    ("rigid-body", {"inertia": (1.0, 2.0)}, "inertia must be a list of 3"),
    ("rigid-body", {"inertia": "abc"}, "inertia must be a list of 3"),
    ("heavy-top", {"inertia": (5.0, 1.0, 1.0)}, "triangle inequality"),
    ("heavy-top", {"mgl": -1.0}, r"mgl must be a finite real number in \[0, inf\)"),
    ("se3-rigid-body", {"mass": 0.0}, r"mass must be .* in \(0, inf\)"),
    ("kepler", {"e": 1.0}, r"e must be a finite real number in \[0, 1\)"),
    ("kepler", {"e": -0.1}, r"e must be .* \[0, 1\)"),
    ("kepler", {"mu": float("nan")}, "mu must be a finite"),
    ("cyclic-shift", {"n": 1}, "n must be an integer >= 2"),
    ("cyclic-shift", {"n": 2.5}, "n must be an integer >= 2"),
    (
        "cyclic-shift",
        {"embedding": "binary"},
        "embedding must be one of one-hot, fourier",
    ),
    ("harmonic-oscillator", {"omega": 0.0}, r"omega must be .* \(0, inf\)"),
    ("harmonic-oscillator", {"mass": True}, "mass must be"),
    ("pendulum", {"omega0": "fast"}, "omega0 must be a real number"),
    ("henon-heiles", {"energy_max": 0.2}, "energy_max"),
    ("se2-unicycle", {"twist": (1.0, 0.0, 0.0)}, "omega.*nonzero"),
    ("se2-twist", {"frequency": 0.0}, "frequency"),
    ("so3-rotation", {"omega": (1.0, float("inf"), 0.0)}, "omega must be finite"),
    ("group-flow", {"group": "so7"}, "group.*known groups: .*so3"),
    ("group-flow", {"group": "so3", "xi": (1.0, 2.0)}, "xi must be a list of 3"),
    ("group-flow", {"group": "sp", "n": 0}, "n must be an integer >= 1"),
    ("linear-symplectic", {"n": 0}, "n must be an integer >= 1"),
    ("linear-symplectic", {"n": 1, "S": [[1.0, 2.0], [0.0, 1.0]]}, "symmetric"),
    ("linear-symplectic", {"n": 1, "S": [[1.0]]}, "2x2"),
    ("standard-map", {"K": "big"}, "K must be a real number"),
    ("circle-rotation", {"omega": None}, "omega must be a real number"),
]


@pytest.mark.parametrize(
    ("name", "params", "match"), BAD, ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BAD]
)
def test_bad_parameter(name, params, match):
    with pytest.raises(ValueError, match=match) as info:
        dynsys.get_system(name, **params)
    message = str(info.value)
    assert "\n" not in message and message.startswith(name)


def test_unknown_system_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown system 'rigid-bdy'") as info:
        dynsys.get_system("rigid-bdy")
    assert "rigid-body" in str(info.value) and "kepler" in str(info.value)


def test_unknown_parameter_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown parameter 'inertias'.*inertia"):
        dynsys.get_system("rigid-body", inertias=(1, 2, 3))


def test_sample_and_state_checks():
    system = dynsys.get_system("kepler")
    with pytest.raises(ValueError, match="n .* must be an integer >= 1"):
        system.sample(0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        system.sample(2, seed=-1)
    with pytest.raises(ValueError, match=r"shape \(\*batch, 4\)"):
        system.invariants(system.sample(2)[:, :3])
    with pytest.raises(TypeError, match="floating point"):
        system.invariants(torch.zeros(2, 4, dtype=torch.int64))


def test_register_system_checks(monkeypatch):
    from dynsys.systems import _registry

    monkeypatch.setattr(_registry, "_SYSTEMS", dict(_registry._SYSTEMS))

    class Custom(System):
        name = "custom"
        state_dim = 1

        def sample(self, n, seed=0):
            raise AssertionError

        def invariants(self, x):
            return {}

    register_system("custom-test-system", Custom)
    assert "custom-test-system" in dynsys.available_systems()
    register_system("custom-test-system", Custom)  # same class: no-op
    with pytest.raises(ValueError, match="already registered"):
        register_system("rigid-body", Custom)
    with pytest.raises(TypeError, match="System subclass"):
        register_system("not-a-system", dict)
    with pytest.raises(ValueError, match="non-empty"):
        register_system("", Custom)
