"""Small hand-built systems and operators with known answers for the metric tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class Part:
    name: str
    start: int
    stop: int
    group: object = None


class PlaneSystem:
    """``[q, p]`` in the plane: energy ``(q^2 + p^2) / 2``, Hamiltonian, 1 dof."""

    name = "plane"
    state_dim = 2
    dt = 0.1
    is_hamiltonian = True
    n_dof = 1
    is_discrete = False
    state_layout = [Part("qp", 0, 2)]

    def invariants(self, x):
        return {"energy": 0.5 * (x**2).sum(-1)}

    def constraints(self, x):
        return {}


class LinearOp(torch.nn.Module):
    """``x -> x A^T``: the one-step map of a linear system."""

    def __init__(self, A: torch.Tensor):
        super().__init__()
        self.A = torch.nn.Parameter(A.clone())

    def step(self, x):
        return x @ self.A.T


def rotation(theta: float, dtype=torch.float64) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, s], [-s, c]], dtype=dtype)
