"""Optional ``torch.compile`` path: several steps fused into one kernel.

Eager PyTorch pays a few microseconds of dispatch per tensor operation, and a
Runge-Kutta step on a small state is dozens of operations, so at small batch
sizes the step is all overhead. Compiling a *chunk* of ``K`` consecutive steps
with TorchInductor fuses the whole chunk (field evaluations included) into a
few C++ loops and pays the call overhead once per chunk.

The compiled chunk for one (integrator, problem, dt, chunk layout, state
shape, dtype and device) is cached, so repeated ``integrate(..., compile=True)``
calls compile once. Each entry is a static-shape graph (``dynamic=False``): a
graph traced for symbolic batch sizes loses the constant loop bounds that let
the C++ compiler unroll and vectorise, and measured 1.5-2x slower at batch 64
(benchmarks/integrators.py). On a CPU the graph is wrapped in generated C++
(Inductor's ``cpp_wrapper``) rather than Python: a chunk launches a few dozen
small kernels, and calling each one from Python cost about half the time of a
chunk at batch 64. Compilation takes tens of seconds per entry on a CPU; it
pays off for long runs only. The time is passed as a 0-d tensor so that a new
start time does not trigger a recompile.

Limitation: only explicit steppers (``compilable = True``) take this path;
the implicit and adaptive solvers run data-dependent iterations that would
break the graph, and ``integrate`` rejects ``compile=True`` for them.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from integrators._base import Integrator, Stepper

__all__ = ["MAX_CHUNK", "MAX_TILE", "chunk_layout", "compiled_chunk"]

MAX_CHUNK = 32

#: Most trajectories one compiled graph advances at once; larger batches are
#: advanced in tiles of this size. A chunk stores a few dozen intermediate
#: arrays per step; for a tile of 1024 rigid-body states (12 numbers each)
#: they stay in the CPU cache, for the whole batch of 4096 they do not:
#: compiled rk4 at batch 4096 measured 3.8e6 traj-steps/s untiled and 8.0e6
#: in tiles of 1024 (5.7e6 in tiles of 256, where the per-call cost shows).
MAX_TILE = 1024
_SERIAL = 0

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STRONG: dict[int, dict] = {}  # problems that cannot be weakly referenced


def chunk_layout(save_every: int, max_chunk: int = MAX_CHUNK) -> tuple[int, int]:
    """Steps per compiled call and saved frames per call.

    Returns:
        ``(K, per_call)``: ``K`` steps per call; ``per_call`` frames saved
        every ``save_every`` steps inside the call (0 when frames are
        sparser than one per call, then saved every ``save_every // K`` calls).
    """
    if save_every <= max_chunk:
        per_call = max(1, max_chunk // save_every)
        return save_every * per_call, per_call
    k = max(d for d in range(1, max_chunk + 1) if save_every % d == 0)
    return k, 0


def _make_chunk(
    stepper: Stepper, dt: float, k: int, save_every: int, device: torch.device
) -> Callable:
    def chunk(t: Tensor, z: Any) -> tuple[Any, list[Tensor]]:
        frames = []
        for i in range(k):
            z = stepper.advance(t + i * dt, z)
            if (i + 1) % save_every == 0:
                frames.append(stepper.unpack(z))
        return z, frames

    # Dynamo keeps its cache (and its recompile limit) per code object; a
    # fresh code object per chunk keeps different problems from evicting
    # each other or exhausting that limit.
    global _SERIAL
    _SERIAL += 1
    code = chunk.__code__.replace(co_name=f"chunk_{_SERIAL}")
    fresh = types.FunctionType(
        code, chunk.__globals__, code.co_name, None, chunk.__closure__
    )
    # Store a value once its expression exceeds 20 operations instead of
    # inlining it into each reader (Inductor's CPU default is 50:
    # realize_cpu_opcount_threshold in torch/_inductor/config.py). A chunk
    # is a chain of K steps; inlined, every step that reads its state twice
    # re-expands the chain behind it, so compile time doubled per step
    # (x' = -x under Euler: 4.6 s at K = 8, 20 s at K = 12, unfinished at
    # K = 16).
    options: dict[str, Any] = {"realize_opcount_threshold": 20}
    if device.type == "cpu":
        options["cpp_wrapper"] = True
    return torch.compile(fresh, dynamic=False, fullgraph=False, options=options)


def _cache_for(problem: Any) -> dict:
    try:
        return _CACHE.setdefault(problem, {})
    except TypeError:
        return _STRONG.setdefault(id(problem), {})


def compiled_chunk(
    method: Integrator, problem: Any, dt: float, k: int, save_every: int, x: Tensor
) -> tuple[Stepper, Callable]:
    """A cached stepper and its compiled ``K``-step chunk.

    Args:
        method: an explicit integrator whose stepper has ``compilable = True``.
        problem: the problem.
        dt: step size (baked into the compiled code).
        k: steps per call.
        save_every: frames saved every ``save_every`` steps inside a call
            (``save_every > k`` saves none).
        x: the states to be advanced; their shape, dtype and device are
            part of the cache key (one static graph each).

    Returns:
        ``(stepper, chunk)`` with ``chunk(t, z) -> (z, frames)``.
    """
    key = (method.name, id(method), float(dt), k, save_every)
    key += (tuple(x.shape), x.dtype, x.device)
    cache = _cache_for(problem)
    if key not in cache:
        stepper = method.stepper(problem, dt)
        cache[key] = (stepper, _make_chunk(stepper, dt, k, save_every, x.device))
    return cache[key]
