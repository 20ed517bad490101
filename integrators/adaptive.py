"""Adaptive Dormand-Prince 5(4) solver with error control.

The embedded pair of Dormand & Prince (J. Comput. Appl. Math. 6:19-26, 1980),
coefficients as in Hairer, Norsett & Wanner, *Solving ODEs I*, 2nd ed. 1993,
Table II.5.2: the 5th-order solution is propagated (local extrapolation), the
4th-order one only estimates the error. The step size follows the standard
controller ``h_new = h min(5, max(0.2, 0.9 err^(-1/5)))`` (HNW I, eq.
II.4.13) and the starting step the algorithm of HNW I, sec. II.4. One step
size is shared by the whole batch; the error norm is the largest per-trajectory
RMS of ``err_i / (atol + rtol max(|x0_i|, |x1_i|))``.

Guarantees: stages are evaluated only at times inside the requested span
(steps are clipped so that ``t + h`` never passes the end, and all nodes lie in
``[0, 1]``); the last output time equals the requested end exactly; a blow-up
or a step size that underflows raises ``IntegrationError`` carrying the time
reached; a relative tolerance below ``10 eps`` of the dtype warns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor

from integrators._base import ODE, IntegrationError, Integrator, Stepper, check_state
from integrators.classical import ButcherTableau, _RKStepper, combine, scaled_tableau

__all__ = ["DOPRI5", "DOPRI5_ERROR_WEIGHTS", "DormandPrince5", "solve_adaptive"]

_F = Fraction
# HNW I, Table II.5.2 (Dormand & Prince 1980).
_DP_A = (
    (0, 0, 0, 0, 0, 0, 0),
    (_F(1, 5), 0, 0, 0, 0, 0, 0),
    (_F(3, 40), _F(9, 40), 0, 0, 0, 0, 0),
    (_F(44, 45), _F(-56, 15), _F(32, 9), 0, 0, 0, 0),
    (_F(19372, 6561), _F(-25360, 2187), _F(64448, 6561), _F(-212, 729), 0, 0, 0),
    (
        _F(9017, 3168),
        _F(-355, 33),
        _F(46732, 5247),
        _F(49, 176),
        _F(-5103, 18656),
        0,
        0,
    ),
    (_F(35, 384), 0, _F(500, 1113), _F(125, 192), _F(-2187, 6784), _F(11, 84), 0),
)
_DP_C = (0, _F(1, 5), _F(3, 10), _F(4, 5), _F(8, 9), 1, 1)
_DP_B5 = (_F(35, 384), 0, _F(500, 1113), _F(125, 192), _F(-2187, 6784), _F(11, 84), 0)
_DP_B4 = (
    _F(5179, 57600),
    0,
    _F(7571, 16695),
    _F(393, 640),
    _F(-92097, 339200),
    _F(187, 2100),
    _F(1, 40),
)
# The tableaus check the rooted-tree conditions up to order 5 when built.
DOPRI5 = ButcherTableau(A=_DP_A, b=_DP_B5, c=_DP_C, order=5)
_DOPRI4 = ButcherTableau(A=_DP_A, b=_DP_B4, c=_DP_C, order=4)
#: ``h * sum (b5 - b4) k`` is the local error estimate.
DOPRI5_ERROR_WEIGHTS = tuple(float(a - b) for a, b in zip(_DP_B5, _DP_B4, strict=True))

_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 5.0


def check_tolerances(rtol: float, atol: float, dtype: torch.dtype) -> None:
    """Validate tolerances; warn when ``rtol`` is below what ``dtype`` can do.

    Raises:
        ValueError: if ``rtol <= 0`` or ``atol < 0`` or either is not finite.
    """
    if not (math.isfinite(rtol) and rtol > 0):
        raise ValueError(f"rtol must be a finite positive number, got {rtol}")
    if not (math.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be a finite non-negative number, got {atol}")
    floor = 10 * torch.finfo(dtype).eps
    if rtol < floor:
        warnings.warn(
            f"rtol={rtol:.3g} is below what {dtype} can deliver (about {floor:.3g}); "
            "the solver will take tiny steps and may fail with step-size underflow",
            stacklevel=3,
        )


class _Controller:
    """One Dormand-Prince integration over ``[t0, t1]`` with FSAL reuse."""

    def __init__(self, field: Any, rtol: float, atol: float, max_steps: int) -> None:
        self.field, self.rtol, self.atol = field, rtol, atol
        self.max_steps = max_steps

    def _attempt(self, t: float, x: Tensor, k1: Tensor, h: float):
        """A trial step: ``(x_new, k_last, err)`` with ``err`` the scaled norm."""
        rows, _, nodes = scaled_tableau(DOPRI5, h)
        ks = [k1]
        for row, ch in zip(rows[1:], nodes[1:], strict=True):
            xi = combine(x, row, ks)
            ks.append(self.field(t + ch, xi))
        x_new = xi  # the last row of A is b5 (FSAL)
        e = sum(w * h * k for w, k in zip(DOPRI5_ERROR_WEIGHTS, ks, strict=True))
        scale = self.atol + self.rtol * torch.maximum(x.abs(), x_new.abs())
        ratio = (e / scale).detach()
        err = ratio.pow(2).mean(-1).sqrt().max().item() if x.numel() else 0.0
        return x_new, ks[-1], err

    def initial_step(self, t0: float, x0: Tensor, k1: Tensor, span: float) -> float:
        """Starting step (HNW I, sec. II.4), never beyond the span."""
        scale = self.atol + self.rtol * x0.abs().detach()
        d0 = (x0.detach() / scale).pow(2).mean().sqrt().item()
        d1 = (k1.detach() / scale).pow(2).mean().sqrt().item()
        h0 = 1e-6 if min(d0, d1) < 1e-5 else 0.01 * d0 / d1
        h0 = min(h0, abs(span))
        x1 = torch.add(x0, k1, alpha=math.copysign(h0, span))
        k2 = self.field(t0 + math.copysign(h0, span), x1)
        d2 = ((k2 - k1).detach() / scale).pow(2).mean().sqrt().item() / h0
        dmax = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** 0.2
        return min(100 * h0, h1, abs(span))


def _march(
    ctl: _Controller,
    t0: float,
    x0: Tensor,
    t1: float,
    h: float | None,
    record: bool,
) -> tuple[list[float], list[Tensor], float]:
    """Adaptive steps from ``t0`` to exactly ``t1``.

    Returns:
        ``(times, states, h_next)``: every accepted step when ``record``, else
        only the final one; ``h_next`` is the step size proposed next.

    Raises:
        IntegrationError: on step-size underflow, too many steps, or blow-up.
    """
    span, direction = t1 - t0, math.copysign(1.0, t1 - t0)
    t, x = t0, x0
    k1 = ctl.field(t, x)
    h = ctl.initial_step(t0, x0, k1, span) if h is None else min(h, abs(span))
    times, states = [], []
    eps = torch.finfo(x0.dtype).eps
    for _ in range(ctl.max_steps):
        if t == t1:
            break
        last = abs(t1 - t) <= h * (1 + 4 * eps)
        h_try = abs(t1 - t) if last else h
        if h_try <= 16 * eps * max(abs(t), abs(t1), 1e-300):
            raise IntegrationError(f"step size underflow (h={h_try:.3g})", t)
        x_new, k_new, err = ctl._attempt(t, x, k1, direction * h_try)
        finite = math.isfinite(err)
        factor = _MIN_FACTOR if not finite else _SAFETY * max(err, 1e-10) ** -0.2
        h = h_try * min(_MAX_FACTOR, max(_MIN_FACTOR, factor))
        if not finite or err > 1.0:
            continue
        t = t1 if last else t + direction * h_try
        x, k1 = x_new, k_new
        if record or t == t1:
            times.append(t)
            states.append(x)
    else:
        raise IntegrationError(f"more than {ctl.max_steps} steps needed", t)
    return times, states, h


def solve_adaptive(
    problem: Any,
    x0: Tensor,
    t_span: tuple[float, float],
    rtol: float = 1e-9,
    atol: float = 1e-12,
    t_eval: Sequence[float] | Tensor | None = None,
    max_steps: int = 1_000_000,
) -> tuple[Tensor, Tensor]:
    """Solve ``x' = problem.vector_field(t, x)`` over ``t_span`` adaptively.

    Args:
        problem: an object with ``vector_field(t, x)``.
        x0: initial states, shape ``(*b, d)``, floating.
        t_span: ``(t0, t1)``; ``t1 < t0`` integrates backwards.
        rtol: relative tolerance per step.
        atol: absolute tolerance per step.
        t_eval: output times inside the span, monotone in the direction of
            integration; the solver steps exactly onto each. ``None`` returns
            every accepted step.
        max_steps: limit on accepted plus rejected steps per output interval.

    Returns:
        ``(times (frames,), states (frames, *b, d))``. Without ``t_eval`` the
        first frame is ``x0`` at ``t0`` and the last is at exactly ``t1``.

    Raises:
        ValueError: bad span, tolerances or ``t_eval``; a problem without
            ``vector_field``.
        TypeError: non-floating ``x0``.
        IntegrationError: blow-up or step-size underflow, with ``t_reached``.
    """
    if not ODE.satisfied_by(problem):
        raise ValueError(f"{type(problem).__name__} has no vector_field(t, x)")
    x0 = check_state(x0)
    t0, t1 = (float(v) for v in t_span)
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise ValueError(f"t_span must be finite, got {t_span}")
    check_tolerances(rtol, atol, x0.dtype)
    targets = _targets(t0, t1, t_eval)
    ctl = _Controller(problem.vector_field, rtol, atol, max_steps)

    times, states = ([t0], [x0]) if t_eval is None else ([], [])
    if t_eval is not None and targets and targets[0] == t0:
        times.append(t0)
        states.append(x0)
    t, x, h = t0, x0, None
    for target in targets:
        if target == t:
            continue
        ts, xs, h = _march(ctl, t, x, target, h, record=t_eval is None)
        times += ts
        states += xs
        t, x = target, xs[-1]
    if not states:
        states, times = [x0], [t0]
    return torch.tensor(times, dtype=x0.dtype, device=x0.device), torch.stack(states)


def _targets(t0: float, t1: float, t_eval: Any) -> list[float]:
    """Validated output times; ``[t1]`` when ``t_eval`` is ``None``."""
    if t_eval is None:
        return [t1]
    ts = [float(v) for v in torch.as_tensor(t_eval, dtype=torch.float64).flatten()]
    lo, hi = min(t0, t1), max(t0, t1)
    if any(not (lo <= v <= hi) for v in ts):
        raise ValueError(f"t_eval must lie inside t_span=({t0}, {t1})")
    sign = 1.0 if t1 >= t0 else -1.0
    if any(sign * (b - a) <= 0 for a, b in zip(ts, ts[1:], strict=False)):
        raise ValueError("t_eval must be strictly monotone in the direction of t_span")
    return ts


class _AdaptiveStepper(Stepper):
    def __init__(self, ctl: _Controller, dt: float) -> None:
        self.ctl, self.dt, self.h = ctl, dt, None

    def advance(self, t: float, x: Tensor) -> Tensor:
        _, xs, self.h = _march(self.ctl, t, x, t + self.dt, self.h, record=False)
        return xs[-1]


class DormandPrince5(Integrator):
    """Dormand-Prince 5(4): each ``step`` of ``dt`` is taken adaptively.

    Args:
        name: registry name.
        rtol: relative tolerance (default ``1e-9``).
        atol: absolute tolerance (default ``1e-12``).
        max_steps: limit on sub-steps per ``dt``.
    """

    kind = "classical"
    requires = ODE

    def __init__(
        self,
        name: str = "dopri5",
        rtol: float = 1e-9,
        atol: float = 1e-12,
        max_steps: int = 100_000,
    ) -> None:
        self.name, self.order = name, 5
        self.rtol, self.atol, self.max_steps = rtol, atol, max_steps

    def stepper(self, problem: Any, dt: float) -> Stepper:
        """A stepper that sub-steps adaptively to land exactly on ``t + dt``."""
        ctl = _Controller(problem.vector_field, self.rtol, self.atol, self.max_steps)
        return _AdaptiveStepper(ctl, dt)

    def fixed_step(self, problem: Any, t: float, x: Tensor, dt: float) -> Tensor:
        """One step of the 5th-order formula without error control.

        Args:
            problem: an object with ``vector_field``.
            t: current time.
            x: state ``(*b, d)``.
            dt: step size.

        Returns:
            The 5th-order solution at ``t + dt``.
        """
        return _RKStepper(DOPRI5, problem.vector_field, dt).advance(t, x)
