"""Discrete maps on cyclic spaces: Z_n shifts, circle rotations, the standard map.

* ``cyclic-shift``: ``x -> x + k (mod n)`` on Z_n, embedded one-hot (the
  shift is a permutation matrix) or by Fourier features ``(cos 2 pi j x/n,
  sin 2 pi j x/n)``, ``j = 1..floor(n/2)`` (the shift rotates each pair by
  ``2 pi j k/n``: the characters of Z_n, Serre, "Linear Representations of
  Finite Groups", 1977, sec. 5.1).
* ``circle-rotation``: ``theta -> theta + omega`` on SO(2), embedded as
  ``(cos theta, sin theta)``.
* ``standard-map``: Chirikov's map ``p' = p + K sin theta``, ``theta' = theta
  + p'`` (mod 2 pi), area preserving on the torus (Chirikov, Phys. Rep. 52,
  263, 1979, eq. 4.1.3; Lichtenberg and Lieberman, "Regular and Chaotic
  Dynamics", 2nd ed., 1992, sec. 4.1b).
"""

from __future__ import annotations

import math

import torch

from dynsys.systems._base import (
    DiscreteSystem,
    StatePart,
    Tensor,
    check_count,
    int_param,
    make_generator,
    real_param,
)
from dynsys.systems._registry import register_system

_EMBEDDINGS = ("one-hot", "fourier")


def _steps(t: Tensor, x0: Tensor) -> Tensor:
    """Integer step counts ``(*T, 1, ..., 1)`` from times (``dt = 1``).

    Raises:
        ValueError: a time is not a whole number of steps.
    """
    k = torch.round(t)
    if not bool(torch.all((t - k).abs() <= 1e-9 * (1 + t.abs()))):
        raise ValueError("exact_solution of a map needs whole-number times")
    return k.reshape(*t.shape, *([1] * (x0.ndim - 1)))


@register_system("cyclic-shift")
class CyclicShift(DiscreteSystem):
    """Shift on Z_n, ``x -> x + k (mod n)``, in a one-hot or Fourier embedding.

    State: ``one-hot``: ``n`` entries, ``e_x``. ``fourier``: ``2 floor(n/2)``
    entries ``[cos(2 pi j x/n), sin(2 pi j x/n)]`` for ``j = 1..floor(n/2)``
    (pairs adjacent). The map is linear in both embeddings, so it is defined
    off the lattice too. Invariants: one-hot ``mass`` (sum of entries);
    Fourier ``amplitude_j`` (``cos^2 + sin^2`` of pair ``j``). Constraint
    ``lattice``: distance to the embedding of the decoded residue.

    Args:
        n: order of the cyclic group, >= 2.
        k: shift, any integer (taken mod n).
        embedding: ``"one-hot"`` or ``"fourier"``.
    """

    name = "cyclic-shift"

    def __init__(self, n: int = 8, k: int = 1, embedding: str = "one-hot") -> None:
        super().__init__()
        self.n = int_param(self.name, "n", n, lo=2)
        self.k = int_param(self.name, "k", k)
        if embedding not in _EMBEDDINGS:
            raise ValueError(
                f"{self.name}: parameter embedding must be one of "
                f"{', '.join(_EMBEDDINGS)}, got {embedding!r}"
            )
        self.embedding = embedding
        self._params = {"n": self.n, "k": self.k, "embedding": embedding}

    @property
    def _freqs(self) -> Tensor:
        return torch.arange(1, self.n // 2 + 1, dtype=torch.float64)

    @property
    def state_dim(self) -> int:
        return self.n if self.embedding == "one-hot" else 2 * (self.n // 2)

    def embed(self, residues: Tensor) -> Tensor:
        """Embed integer residues ``(*b,)`` as states ``(*b, state_dim)`` float64."""
        r = torch.remainder(residues.to(torch.int64), self.n)
        if self.embedding == "one-hot":
            return torch.nn.functional.one_hot(r, self.n).to(torch.float64)
        angle = 2 * math.pi * r[..., None].to(torch.float64) * self._freqs / self.n
        return torch.stack([torch.cos(angle), torch.sin(angle)], -1).flatten(-2)

    def decode(self, x: Tensor) -> Tensor:
        """Nearest residue ``(*b,)`` int64: argmax, or the phase of pair ``j=1``."""
        self.check_state(x)
        if self.embedding == "one-hot":
            return x.argmax(-1)
        angle = torch.atan2(x[..., 1], x[..., 0])
        return torch.remainder(torch.round(angle * self.n / (2 * math.pi)), self.n).to(
            torch.int64
        )

    def step_map(self, x: Tensor) -> Tensor:
        self.check_state(x)
        if self.embedding == "one-hot":
            return torch.roll(x, shifts=self.k % self.n, dims=-1)
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        angle = (2 * math.pi * self.k / self.n) * self._freqs.to(x)
        c, s = torch.cos(angle), torch.sin(angle)
        a, b = pairs[..., 0], pairs[..., 1]
        return torch.stack([c * a - s * b, s * a + c * b], -1).flatten(-2)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        residues = torch.randint(
            0, self.n, (check_count(n),), generator=make_generator(seed)
        )
        return self.embed(residues)

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        if self.embedding == "one-hot":
            return {"mass": x.sum(-1)}
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        amp = (pairs * pairs).sum(-1)
        return {f"amplitude_{j + 1}": amp[..., j] for j in range(amp.shape[-1])}

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        nearest = self.embed(self.decode(x)).to(x)
        return {"lattice": torch.linalg.vector_norm(x - nearest, dim=-1)}

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        shift = _steps(t, x0).to(torch.int64) * self.k
        return self.embed(self.decode(x0) + shift).to(x0)


@register_system("circle-rotation")
class CircleRotation(DiscreteSystem):
    """Rotation of the circle, ``theta -> theta + omega``, state ``(cos, sin)``.

    The default ``omega = pi (3 - sqrt 5)`` (the golden angle) is an
    irrational multiple of ``2 pi``, so orbits are dense. Invariant ``radius``
    ``|x|``; constraint ``circle`` ``||x| - 1|``. Exact: rotation by
    ``omega t``.

    Args:
        omega: rotation angle per step (radians), finite.
    """

    name = "circle-rotation"

    def __init__(self, omega: float = math.pi * (3.0 - math.sqrt(5.0))) -> None:
        super().__init__()
        self.omega = real_param(self.name, "omega", omega)
        self._params = {"omega": self.omega}

    @property
    def state_dim(self) -> int:
        return 2

    @property
    def state_layout(self) -> list[StatePart]:
        return [StatePart("cos_sin", 0, 2, None)]

    def _rotate(self, x: Tensor, angle: Tensor | float) -> Tensor:
        angle = torch.as_tensor(angle, dtype=x.dtype, device=x.device)
        c, s = torch.cos(angle), torch.sin(angle)
        return torch.stack(
            [c * x[..., 0] - s * x[..., 1], s * x[..., 0] + c * x[..., 1]], -1
        )

    def step_map(self, x: Tensor) -> Tensor:
        self.check_state(x)
        return self._rotate(x, self.omega)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        theta = (
            2
            * math.pi
            * torch.rand(
                check_count(n), generator=make_generator(seed), dtype=torch.float64
            )
        )
        return torch.stack([torch.cos(theta), torch.sin(theta)], -1)

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        return {"radius": torch.linalg.vector_norm(x, dim=-1)}

    def constraints(self, x: Tensor) -> dict[str, Tensor]:
        return {"circle": (self.invariants(x)["radius"] - 1.0).abs()}

    def _exact(self, x0: Tensor, t: Tensor) -> Tensor:
        # Reduce omega t mod 2 pi in float64 before rotating, for long times.
        angle = torch.remainder(_steps(t, x0) * self.omega, 2 * math.pi)
        return self._rotate(x0, angle)


def _wrap(angle: Tensor) -> Tensor:
    """``angle mod 2 pi`` in ``[0, 2 pi)``: ``torch.remainder`` of a tiny negative
    number rounds to ``2 pi`` itself, which is mapped to 0 here."""
    two_pi = 2 * math.pi
    r = torch.remainder(angle, two_pi)
    return torch.where(r >= two_pi, torch.zeros_like(r), r)


@register_system("standard-map")
class StandardMap(DiscreteSystem):
    """Chirikov standard map on the torus, state ``[theta, p]`` in ``[0, 2 pi)^2``.

    ``p' = p + K sin theta``, ``theta' = theta + p'``, both mod ``2 pi``. The
    map is symplectic (Jacobian determinant 1). The default ``K = 0.971635``
    is Greene's threshold for the break-up of the last KAM circle (Greene,
    J. Math. Phys. 20, 1183, 1979). There is no conserved quantity for
    ``K > 0``; ``invariants`` is empty.

    Args:
        K: kick strength, finite.
    """

    name = "standard-map"
    is_hamiltonian = True
    n_dof = 1

    def __init__(self, K: float = 0.971635) -> None:
        super().__init__()
        self.K = real_param(self.name, "K", K)
        self._params = {"K": self.K}

    @property
    def state_dim(self) -> int:
        return 2

    @property
    def state_layout(self) -> list[StatePart]:
        return [StatePart("theta", 0, 1, None), StatePart("p", 1, 2, None)]

    def step_map(self, x: Tensor) -> Tensor:
        self.check_state(x)
        p = _wrap(x[..., 1] + self.K * torch.sin(x[..., 0]))
        theta = _wrap(x[..., 0] + p)
        return torch.stack([theta, p], -1)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        return (
            2
            * math.pi
            * torch.rand(
                check_count(n), 2, generator=make_generator(seed), dtype=torch.float64
            )
        )

    def invariants(self, x: Tensor) -> dict[str, Tensor]:
        self.check_state(x)
        return {}
