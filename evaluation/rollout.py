"""Long batched rollouts of a learned one-step operator.

A rollout iterates ``x_{t+1} = op.step(x_t)`` from a batch of initial states
and keeps every frame. A trajectory whose state stops being finite has
diverged: every frame from the first non-finite one on is frozen to NaN, and
:func:`divergence_step` reads the step back. Divergence is data, not an error.

The loop does nothing per step but the forward call and one copy into a
preallocated buffer; the finiteness bookkeeping runs once at the end (and a
cheap all-diverged check every :data:`CHECK_EVERY` steps), so the overhead
against a bare loop of forward calls stays small (``benchmarks/rollout.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

#: Steps between early-exit checks (all trajectories diverged) and progress calls.
CHECK_EVERY = 512


def rollout(
    op,
    x0: torch.Tensor,
    steps: int,
    dtype: torch.dtype | None = None,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Roll a one-step operator out from a batch of initial states.

    Args:
        op: an operator with ``step(x) -> x_next`` mapping ``(batch, d)`` to
            ``(batch, d)`` (``learners.OneStep``, ``learners.NeuralODE``), or a
            plain callable with that signature.
        x0: initial states ``(batch, d)``.
        steps: number of steps, ``>= 0``.
        dtype: rollout dtype (``torch.float32`` or ``torch.float64``). ``None``
            uses the dtype of the operator's parameters (of ``x0`` if it has
            none). A different dtype runs a converted copy of the operator; the
            caller's operator is never modified.
        progress: optional callable receiving the number of steps done since
            its previous call (fits ``tqdm.update``).

    Returns:
        ``(steps + 1, batch, d)`` states, ``x0`` first; frames from a
        trajectory's divergence on are NaN.

    Raises:
        ValueError: ``steps`` negative or ``x0`` not of shape ``(batch, d)``.
        TypeError: ``steps`` not an int, or ``dtype`` not a floating dtype.
    """
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not isinstance(x0, torch.Tensor) or x0.dim() != 2:
        shape = tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0)
        raise ValueError(f"x0 must be a tensor of shape (batch, d), got {shape}")
    step, dtype = _stepper(op, dtype, x0.dtype)

    x = x0.detach().to(dtype)
    out = torch.empty((steps + 1, *x.shape), dtype=dtype, device=x.device)
    out[0] = x
    done = 0
    with torch.no_grad():
        for t in range(steps):
            x = step(x)
            out[t + 1] = x
            if (t + 1) % CHECK_EVERY == 0:
                if progress is not None:
                    progress(t + 1 - done)
                done = t + 1
                if not torch.isfinite(x).all(-1).any():
                    out[t + 2 :] = float("nan")
                    break
    if progress is not None and steps > done:
        progress(steps - done)
    return freeze_diverged(out)


def _stepper(op, dtype: torch.dtype | None, x_dtype: torch.dtype):
    """The step function and rollout dtype for ``op``."""
    if dtype is not None and (
        not isinstance(dtype, torch.dtype) or not dtype.is_floating_point
    ):
        raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}")
    params = list(op.parameters()) if isinstance(op, torch.nn.Module) else []
    op_dtype = params[0].dtype if params else None
    target = dtype or op_dtype or x_dtype
    if op_dtype is not None and target != op_dtype:
        op = copy.deepcopy(op).to(target)
    step = op.step if hasattr(op, "step") else op
    if not callable(step):
        raise TypeError(f"op must have a step(x) method or be callable, got {op!r}")
    return step, target


def _bad_rows(pred: torch.Tensor) -> torch.Tensor:
    """``(frames, batch)`` mask of states with a non-finite entry.

    A sum over the state is non-finite whenever an entry is, so one reduction
    settles the common all-finite case; only when some sum is non-finite (an
    entry is, or finite entries overflow) is every entry checked.
    """
    flat = pred.reshape(pred.shape[0], pred.shape[1], -1)
    if bool(torch.isfinite(flat.sum(-1)).all()):
        return torch.zeros(flat.shape[:2], dtype=torch.bool, device=pred.device)
    return ~torch.isfinite(flat).all(-1)


def freeze_diverged(pred: torch.Tensor) -> torch.Tensor:
    """Set every frame from a trajectory's first non-finite frame on to NaN.

    Args:
        pred: ``(frames, batch, *state)`` states; modified in place.

    Returns:
        ``pred``.
    """
    bad = _bad_rows(pred)
    if bad.any():
        after = torch.cummax(bad.to(torch.uint8), dim=0).values.bool()
        pred[after] = float("nan")
    return pred


def divergence_step(pred: torch.Tensor) -> torch.Tensor:
    """First frame at which each trajectory is not finite.

    Args:
        pred: ``(frames, batch, *state)`` rollout.

    Returns:
        ``(batch,)`` int64: index of the first frame with a non-finite entry,
        ``-1`` for trajectories that stay finite.
    """
    if pred.dim() < 2:
        raise ValueError(f"pred must be (frames, batch, ...), got {tuple(pred.shape)}")
    bad = _bad_rows(pred)
    first = bad.to(torch.uint8).argmax(dim=0)
    return torch.where(bad.any(dim=0), first, torch.full_like(first, -1))
