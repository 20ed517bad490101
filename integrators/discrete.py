"""``map``: iterate a discrete dynamical system ``x_{n+1} = step_map(x_n)``.

There is no discretisation error (the map *is* the dynamics), so the order is
declared as ``math.inf``; ``dt`` only labels the frames in time.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from integrators._base import DISCRETE_MAP, Integrator

__all__ = ["DiscreteMap"]


class DiscreteMap(Integrator):
    """Applies ``problem.step_map`` once per step."""

    kind = "map"
    requires = DISCRETE_MAP

    def __init__(self, name: str = "map") -> None:
        self.name, self.order = name, math.inf

    def step(self, problem: Any, t: float, x: Tensor, dt: float) -> Tensor:
        """``problem.step_map(x)``; ``t`` and ``dt`` are ignored.

        Args:
            problem: an object with ``is_discrete = True`` and ``step_map``.
            t: current time (unused).
            x: state, shape ``(*b, d)``.
            dt: step label (unused).

        Returns:
            The next state, shape ``(*b, d)``.
        """
        return problem.step_map(x)
