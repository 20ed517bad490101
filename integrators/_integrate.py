"""``integrate``: run a registered integrator for a fixed number of steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from integrators._base import Integrator, as_time, check_state
from integrators._registry import get, require_compatible

__all__ = ["integrate"]


def _check_grid(dt: float, steps: int, save_every: int) -> None:
    if not math.isfinite(dt) or dt == 0.0:
        raise ValueError(f"dt must be a finite non-zero number, got {dt}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if isinstance(save_every, bool) or not isinstance(save_every, int):
        raise ValueError(f"save_every must be a positive int, got {save_every!r}")
    if save_every < 1 or steps % save_every:
        raise ValueError(
            f"save_every must be a positive divisor of steps={steps}, got {save_every}"
        )


def integrate(
    problem: Any,
    x0: Tensor,
    dt: float,
    steps: int,
    method: str | Integrator,
    save_every: int = 1,
    t0: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[Tensor, Tensor]:
    """Advance a batch of states ``steps`` times by ``dt`` with ``method``.

    Args:
        problem: an object with the capability the method requires.
        x0: initial states, shape ``(*b, d)``, floating (float64 for ground
            truth); the result keeps its dtype and device.
        dt: step size (negative integrates backwards).
        steps: number of steps.
        method: a registered name or an ``Integrator``.
        save_every: keep every ``save_every``-th state; must divide ``steps``.
        t0: initial time.
        progress: optional ``progress(steps_done)`` called at every saved frame.

    Returns:
        ``(times, states)``: ``times`` of shape ``(frames,)`` (dtype of
        ``x0``) and ``states`` of shape ``(frames, *b, d)`` with
        ``frames = steps // save_every + 1``; frame 0 is ``x0``.

    Raises:
        ValueError: unknown method, a method that cannot serve ``problem``
            (the message names those that can), or a bad grid.
        TypeError: if ``x0`` is not floating point.
        IntegrationError: if an implicit or adaptive solve fails.
    """
    m = get(method)
    require_compatible(m, problem)
    x0 = check_state(x0)
    dt, t0 = as_time(dt), as_time(t0)
    _check_grid(dt, steps, save_every)

    stepper = m.stepper(problem, dt)
    z = stepper.pack(x0)
    frames = [x0]
    for k in range(steps):
        z = stepper.advance(t0 + k * dt, z)
        if (k + 1) % save_every == 0:
            frames.append(stepper.unpack(z))
            if progress is not None:
                progress(k + 1)
    times = t0 + dt * save_every * torch.arange(
        len(frames), dtype=x0.dtype, device=x0.device
    )
    return times, torch.stack(frames)
