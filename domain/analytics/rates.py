"""The money-weighted return: the internal rate of return of dated cash flows (XIRR).

Solved for the continuously compounded rate x = ln(1 + r), where the net present value
NPV(x) = sum(a_i * exp(-x * t_i)) is smooth on the whole real line (r itself is squeezed against -1
by short periods with losses, where a solver in r runs out of float digits). The root is bracketed
first (a sign change, searched outward from 0 so the rate nearest 0 is taken when flows change sign
more than once), then refined by Newton's method, which falls back to bisection whenever a step would
leave the bracket: it always converges, and fast.

Every term is scaled by exp(-m), m the largest exponent, so nothing overflows; the scale is positive,
so signs and the Newton ratio NPV/NPV' are unchanged.
"""

import math
from collections.abc import Sequence
from datetime import date

DAYS_PER_YEAR = 365  # actual/365, as spreadsheet XIRR counts
_FIRST_STEP = 0.01  # the first bracket is [0, 0.01] in x (rates near 1 %)
_WIDEST = 700.0  # |x| searched up to here: exp(700) is near the largest float
_X_TOLERANCE = 1e-15
_MAX_ITERATIONS = 200


def xirr(flows: Sequence[tuple[date, float]]) -> float | None:
    """The annual rate r with sum(amount / (1 + r) ** (days since the first flow / 365)) = 0.

    Amounts are the investor's: money paid in is negative, money taken out (or still held) positive.
    None when there is no such rate: flows all of one sign, or no sign change of the NPV in range.
    """
    if not flows:
        return None
    first = min(day for day, _ in flows)
    return internal_rate([((day - first).days / DAYS_PER_YEAR, amount) for day, amount in flows])


def internal_rate(flows: Sequence[tuple[float, float]]) -> float | None:
    """The rate per unit of time with sum(amount / (1 + r) ** t) = 0 for (t, amount) pairs; None if none."""
    if not any(a > 0 for _, a in flows) or not any(a < 0 for _, a in flows):
        return None
    bracket = _bracket(flows)
    if bracket is None:
        return None
    return math.expm1(_solve(flows, *bracket))


def _npv(flows: Sequence[tuple[float, float]], x: float) -> tuple[float, float]:
    """NPV(x) and its derivative, both scaled by the same positive factor."""
    exponents = [-x * t for t, _ in flows]
    top = max(exponents)
    weights = [math.exp(e - top) for e in exponents]
    value = math.fsum(a * w for (_, a), w in zip(flows, weights, strict=True))
    slope = math.fsum(-t * a * w for (t, a), w in zip(flows, weights, strict=True))
    return value, slope


def _bracket(flows: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The sign change nearest x = 0, in widening steps on both sides."""
    inner = 0.0
    outer = _FIRST_STEP
    at_zero = _npv(flows, 0.0)[0]
    if at_zero == 0:
        return (0.0, 0.0)
    up, down = at_zero, at_zero
    while inner < _WIDEST:
        next_up = _npv(flows, outer)[0]
        if _changes_sign(up, next_up):
            return (inner, outer)
        next_down = _npv(flows, -outer)[0]
        if _changes_sign(down, next_down):
            return (-outer, -inner)
        up, down = next_up, next_down
        inner, outer = outer, min(outer * 2, _WIDEST)
    return None


def _changes_sign(a: float, b: float) -> bool:
    return b == 0 or (a < 0) != (b < 0)


def _solve(flows: Sequence[tuple[float, float]], low: float, high: float) -> float:
    """Newton's method kept inside [low, high], bisecting when a step would leave it."""
    if low == high:
        return low
    low_value = _npv(flows, low)[0]
    x = (low + high) / 2
    for _ in range(_MAX_ITERATIONS):
        value, slope = _npv(flows, x)
        if value == 0:
            return x
        if (value < 0) == (low_value < 0):
            low, low_value = x, value
        else:
            high = x
        step = x - value / slope if slope != 0 else math.nan
        if not low < step < high:
            step = (low + high) / 2
        if abs(step - x) <= _X_TOLERANCE * max(1.0, abs(x)) or high - low <= _X_TOLERANCE * max(1.0, abs(x)):
            return step
        x = step
    return x
