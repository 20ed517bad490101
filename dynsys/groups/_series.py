"""Even coefficient functions of the rotation angle, safe at 0.

The closed forms of SO(3), SE(2) and SE(3) are built from a few functions
``f(theta)`` that are even in ``theta``, so we evaluate them as functions of
``x = theta**2`` (which is smooth in the tangent vector, unlike ``theta`` itself).
Each has a closed form that is 0/0 at ``theta = 0`` and loses digits to
cancellation near it, and a Taylor series in ``x``.

Branch rule. The Taylor polynomial keeps ``K`` terms; it is used where the first
omitted term is below ``eps / 64`` relative to the leading one, i.e. for
``theta < (eps / 64 * |a_0 / a_K|) ** (1 / (2K))`` (capped per function), so the
threshold depends on the dtype. The margin of 64 matters: the omitted tail has
one sign, so a truncation error of up to ``eps`` would bias every value the
same way, and a Lie integrator composing ``exp(h xi)`` 1e5 times then drifts
off the group linearly (measured: SO(3) residual 1e-12 after 1e5 Lie-Euler
steps with the margin 1, 9e-14 with the bias removed). ``K`` is chosen large
enough that at the switch the closed form has lost only a few ulps, and both
branches agree to round-off.
The closed form receives ``theta**2 = 1`` where the series is used (the
"double where" trick), so neither branch ever feeds NaN into a gradient.

Series coefficients: Abramowitz & Stegun, "Handbook of Mathematical Functions"
(1964), 4.3.70 (x cot x with Bernoulli numbers), 4.4.40 (arcsin), and the
Maclaurin series of sin and cos; the closed forms are those of Barfoot, "State
Estimation for Robotics" (2017), sec. 7.1.3-7.1.5, and Sola, Deray &
Atchuthan, "A micro Lie theory for state estimation in robotics" (2018,
arXiv:1812.01537), appendices B-D.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import cache

import torch
from torch import Tensor


@cache
def bernoulli(m: int) -> Fraction:
    """Bernoulli number ``B_m`` with ``B_1 = -1/2``.

    From the recurrence ``sum_{j=0}^{m} C(m+1, j) B_j = 0``, which follows from
    the generating function ``t / (e^t - 1) = sum_m B_m t^m / m!``.
    """
    if m == 0:
        return Fraction(1)
    total = sum(math.comb(m + 1, j) * bernoulli(j) for j in range(m))
    return -total / (m + 1)


class EvenSeries:
    """``f(theta)`` evaluated from ``x = theta**2``: closed form or Taylor series.

    Args:
        name: for error messages and tests.
        closed: closed form as a function of ``(x, theta)``; only called with
            ``x`` at or beyond the cutoff.
        coeff: ``coeff(k)`` is the exact Taylor coefficient of ``x**k``.
        terms: number ``K`` of Taylor terms kept.
        max_cutoff: cap on the switching angle (inside the series' radius).
    """

    def __init__(
        self,
        name: str,
        closed: Callable[[Tensor, Tensor], Tensor],
        coeff: Callable[[int], Fraction],
        terms: int,
        max_cutoff: float,
    ) -> None:
        self.name = name
        self.closed = closed
        self.coeffs = [float(coeff(k)) for k in range(terms)]
        self._ratio = abs(float(coeff(0)) / float(coeff(terms)))
        self._terms = terms
        self._max_cutoff = max_cutoff

    def cutoff(self, dtype: torch.dtype) -> float:
        """Angle below which the Taylor branch is used, for ``dtype``."""
        eps = torch.finfo(dtype).eps / _TAIL_MARGIN
        angle = (eps * self._ratio) ** (1.0 / (2 * self._terms))
        return min(angle, self._max_cutoff)

    def series(self, x: Tensor) -> Tensor:
        """Horner evaluation of the Taylor polynomial in ``x``."""
        out = torch.full_like(x, self.coeffs[-1])
        for c in reversed(self.coeffs[:-1]):
            out = out * x + c
        return out

    def __call__(self, x: Tensor) -> Tensor:
        """Evaluate at ``x = theta**2`` (any shape, ``x >= 0``)."""
        cut = self.cutoff(x.dtype)
        small = x < cut * cut
        x_closed = torch.where(small, torch.ones_like(x), x)
        closed = self.closed(x_closed, torch.sqrt(x_closed))
        series = self.series(torch.where(small, x, torch.zeros_like(x)))
        return torch.where(small, series, closed)


#: The first omitted Taylor term must be below ``eps / _TAIL_MARGIN``.
_TAIL_MARGIN = 64.0


def _fact(n: int) -> int:
    return math.factorial(n)


# sin(t)/t = sum (-1)^k t^(2k) / (2k+1)!
SINC = EvenSeries(
    "sin(t)/t",
    lambda x, t: torch.sin(t) / t,
    lambda k: Fraction((-1) ** k, _fact(2 * k + 1)),
    terms=8,
    max_cutoff=1.0,
)

# (1 - cos t)/t^2, written 2 sin^2(t/2)/t^2 to avoid cancellation.
ONE_MINUS_COS = EvenSeries(
    "(1-cos t)/t^2",
    lambda x, t: 2.0 * torch.sin(0.5 * t) ** 2 / x,
    lambda k: Fraction((-1) ** k, _fact(2 * k + 2)),
    terms=8,
    max_cutoff=1.0,
)

# (t - sin t)/t^3 = sum (-1)^k t^(2k) / (2k+3)!
T_MINUS_SIN = EvenSeries(
    "(t-sin t)/t^3",
    lambda x, t: (t - torch.sin(t)) / (x * t),
    lambda k: Fraction((-1) ** k, _fact(2 * k + 3)),
    terms=10,
    max_cutoff=1.5,
)

# (1 - (t/2) cot(t/2))/t^2 = sum (-1)^k B_{2k+2} t^(2k) / (2k+2)!   (A&S 4.3.70)
# Coefficient of J_l^{-1} for SO(3) (Barfoot sec. 7.1.5); singular at t = 2 pi.
COT_TERM = EvenSeries(
    "(1-(t/2)cot(t/2))/t^2",
    lambda x, t: (1.0 - 0.5 * t / torch.tan(0.5 * t)) / x,
    lambda k: (-1) ** k * bernoulli(2 * k + 2) / _fact(2 * k + 2),
    terms=18,
    max_cutoff=2.0,
)

# (t^2 + 2 cos t - 2)/(2 t^4) = sum (-1)^k t^(2k) / (2k+4)!   (Barfoot Q)
COS_TERM_4 = EvenSeries(
    "(t^2+2cos t-2)/(2t^4)",
    lambda x, t: (x - 4.0 * torch.sin(0.5 * t) ** 2) / (2.0 * x * x),
    lambda k: Fraction((-1) ** k, _fact(2 * k + 4)),
    terms=11,
    max_cutoff=2.0,
)

# (2t - 3 sin t + t cos t)/(2 t^5) = sum (-1)^k (k+1) t^(2k) / (2k+5)!  (Barfoot 7.86)
SIN_TERM_5 = EvenSeries(
    "(2t-3sin t+t cos t)/(2t^5)",
    lambda x, t: (2.0 * t - 3.0 * torch.sin(t) + t * torch.cos(t)) / (2.0 * x * x * t),
    lambda k: Fraction((-1) ** k * (k + 1), _fact(2 * k + 5)),
    terms=12,
    max_cutoff=2.5,
)

# arcsin(s)/s = sum (2k)! s^(2k) / (4^k (k!)^2 (2k+1))   (A&S 4.4.40), for s < 1.
# SO(3)'s log uses the series near the identity and its own atan2 form elsewhere.
ASIN_OVER_X = EvenSeries(
    "arcsin(s)/s",
    lambda x, t: torch.asin(t) / t,
    lambda k: Fraction(_fact(2 * k), 4**k * _fact(k) ** 2 * (2 * k + 1)),
    terms=14,
    max_cutoff=0.5,
)
