"""``integrate``: run a registered integrator for a fixed number of steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from integrators._base import Integrator, Stepper, as_time, check_state
from integrators._compiled import MAX_TILE, chunk_layout, compiled_chunk
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
    compile: bool = False,
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
        progress: optional ``progress(steps_done)`` called at every saved frame;
            with ``compile=True`` once per compiled chunk that saves frames
            (at the last of them) instead, and for a batch advanced in tiles
            with the steps done scaled by the share of tiles finished
            (non-decreasing, ending at ``steps``).
        compile: fuse chunks of steps with ``torch.compile`` (explicit methods
            only). One static graph per problem, method, ``dt`` and number
            of trajectories, cached; the first call for each compiles for
            tens of seconds. The problem must not change afterwards.
            Batches of more than ``MAX_TILE`` (1024) trajectories are
            advanced in tiles of that size, so the batch axes must be
            independent trajectories. Off by default.

    Returns:
        ``(times, states)``: ``times`` of shape ``(frames,)`` (dtype of
        ``x0``) and ``states`` of shape ``(frames, *b, d)`` with
        ``frames = steps // save_every + 1``; frame 0 is ``x0``.

    Raises:
        ValueError: unknown method, a method that cannot serve ``problem``
            (the message names those that can), a bad grid, or
            ``compile=True`` with an implicit or adaptive method.
        TypeError: if ``x0`` is not floating point.
        IntegrationError: if an implicit or adaptive solve fails.
    """
    m = get(method)
    require_compatible(m, problem)
    x0 = check_state(x0)
    dt, t0 = as_time(dt), as_time(t0)
    _check_grid(dt, steps, save_every)

    if compile:
        frames = _run_compiled(m, problem, x0, dt, steps, save_every, t0, progress)
    else:
        stepper = m.stepper(problem, dt)
        frames = _run_eager(stepper, x0, dt, range(steps), save_every, t0, progress)
    times = t0 + dt * save_every * torch.arange(
        len(frames), dtype=x0.dtype, device=x0.device
    )
    return times, torch.stack(frames)


def _run_eager(
    stepper: Stepper,
    x: Tensor,
    dt: float,
    ks: range,
    save_every: int,
    t0: float,
    progress: Callable[[int], None] | None,
    z: Any = None,
) -> list[Tensor]:
    """Frames after the steps ``ks`` (``x`` first, unless resuming from ``z``)."""
    frames = [] if z is not None else [x]
    z = stepper.pack(x) if z is None else z
    for k in ks:
        z = stepper.advance(t0 + k * dt, z)
        if (k + 1) % save_every == 0:
            frames.append(stepper.unpack(z))
            if progress is not None:
                progress(k + 1)
    return frames


def _run_compiled(
    m: Integrator,
    problem: Any,
    x0: Tensor,
    dt: float,
    steps: int,
    save_every: int,
    t0: float,
    progress: Callable[[int], None] | None,
) -> list[Tensor]:
    """Frames from compiled chunks of steps, the batch advanced in tiles.

    The batch axes are flattened, so the graph is keyed by the number of
    trajectories only. A batch of more than ``MAX_TILE`` trajectories is cut
    into tiles of ``MAX_TILE`` (the last one padded with copies of the last
    state, so that every tile reuses one static graph: 1025 trajectories cost
    as much as 2048) and each tile is advanced over the whole horizon; the
    batch axes must therefore be independent trajectories, as the integrator
    contract says. The problem is treated as immutable once compiled: the
    cache keeps its stepper (and so the problem) alive, and a parameter
    changed afterwards is not seen by the cached graph.
    """
    if not m.stepper(problem, dt).compilable:
        raise ValueError(
            f"compile=True needs an explicit method; {m.name!r} iterates (implicit "
            "or adaptive), use compile=False"
        )
    flat = x0.reshape(-1, x0.shape[-1])
    n = flat.shape[0]
    n_tiles = -(-n // MAX_TILE)
    if n_tiles > 1:
        pad = n_tiles * MAX_TILE - n
        flat = torch.cat([flat, flat[-1:].expand(pad, -1)])
    tiles = []
    for i, tile in enumerate(flat.split(MAX_TILE)):
        report = None
        if progress is not None:

            def report(done: int, i: int = i) -> None:
                progress((i * steps + done) // n_tiles)

        tiles.append(
            _run_compiled_tile(m, problem, tile, dt, steps, save_every, t0, report)
        )
    return [
        (frames[0] if n_tiles == 1 else torch.cat(frames)[:n]).reshape(x0.shape)
        for frames in zip(*tiles, strict=True)
    ]


def _run_compiled_tile(
    m: Integrator,
    problem: Any,
    x0: Tensor,
    dt: float,
    steps: int,
    save_every: int,
    t0: float,
    progress: Callable[[int], None] | None,
) -> list[Tensor]:
    """Frames from compiled chunks of steps, the remainder stepped eagerly."""
    k, per_call = chunk_layout(save_every)
    stepper, chunk = compiled_chunk(
        m, problem, dt, k, save_every if per_call else k + 1, x0
    )
    z, frames, done = stepper.pack(x0), [x0], 0
    while done + k <= steps:
        t = torch.tensor(t0 + done * dt, dtype=torch.float64, device=x0.device)
        z, new = chunk(t, z)
        done += k
        if not per_call and done % save_every == 0:
            new = [stepper.unpack(z)]
        frames += new
        if new and progress is not None:
            progress(done)
    rest = range(done, steps)
    return frames + _run_eager(stepper, x0, dt, rest, save_every, t0, progress, z)
