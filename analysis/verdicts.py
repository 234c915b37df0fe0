"""Verdicts by a rule stated in advance: paired intervals, a sign-flip check, Holm, seeds needed.

The rule, also printed in every report:

- A claim of a **difference** ("Adagrad ends worse than RMSprop") is tested on per-seed
  differences (arms that share a seed share initialization and batch order, so pairing removes
  that noise): a Student-t interval of the mean difference is the primary test, at the
  Holm-adjusted level of its rank among the report's difference claims; an exact sign-flip
  permutation p-value stands beside it, free of the normality assumption. It **held** when
  that interval excludes 0 in the claimed direction, **did not hold** when it excludes 0 the
  other way, and is **unresolved** otherwise.
- A claim of **no difference** or of a value ("RMSprop's step does not decay") names an
  equivalence margin. It held when the whole 95 % interval lies inside the margin, did not hold
  when the whole interval lies outside it, and is unresolved otherwise.
- Every interval carries its n. With fewer than 2 values there is no interval and the verdict is
  unresolved.
- For an unresolved claim, ``seeds_needed`` is the n at which an interval of the same mean and
  spread would decide it (nan when no n would, e.g. a mean inside the margin's edge).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = [
    "ALPHA",
    "DIFFERENCE",
    "EQUIVALENCE",
    "HELD",
    "NOT_HELD",
    "UNRESOLVED",
    "Interval",
    "difference_verdict",
    "equivalence_verdict",
    "holm",
    "mean_interval",
    "seeds_needed_difference",
    "seeds_needed_equivalence",
    "sign_flip_p",
    "t_p_value",
]

ALPHA = 0.05
RULE = (
    "a difference claim is tested on per-seed differences (arms that share a seed share "
    "initialization and batch order): a paired Student-t interval at the Holm-adjusted level "
    "of its rank among this table's difference claims, with an exact sign-flip p beside it; "
    "held when the interval excludes 0 in the claimed direction, did not hold when it "
    "excludes 0 the other way, else unresolved",
    "a claim of no difference or of a value names an equivalence margin: held when the whole "
    "95 % interval lies inside it, did not hold when the whole interval lies outside, else "
    "unresolved",
    "every interval shows its n; with n < 2 there is no interval and the claim is unresolved; "
    "for an unresolved claim, seeds_needed is the n at which the same mean and spread would "
    "decide it",
    "learning rates (and the best RMSprop's α) are selected on validation loss; loss verdicts "
    "are on the held-out test split",
)
HELD, NOT_HELD, UNRESOLVED = "held", "did not hold", "unresolved"
DIFFERENCE, EQUIVALENCE = "difference", "equivalence"
MAX_SEEDS = 10_000
EXACT_UP_TO = 16  # 2**16 sign patterns; beyond that, a seeded Monte Carlo sample


@dataclass(frozen=True)
class Interval:
    """A mean with its interval at ``level`` over ``n`` finite values (nan bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int
    level: float

    def text(self, spec: str = ".3g") -> str:
        """``+0.014 [+0.005, +0.023] (n=8)``; ``n=1, no interval`` without one.

        >>> mean_interval([1.0, 2.0, 3.0]).text()
        '2 [-0.484, 4.48] (n=3)'
        >>> mean_interval([1.0]).text()
        '1 (n=1, no interval)'
        """
        if self.n == 0:
            return "no value (n=0)"
        if self.n < 2:
            return f"{self.mean:{spec}} (n={self.n}, no interval)"
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}] (n={self.n})"


def mean_interval(values: Sequence[float], level: float = 1 - ALPHA) -> Interval:
    """Student-t interval of the mean of the finite ``values``.

    >>> iv = mean_interval([0.1, 0.2, 0.3, float("nan")])
    >>> iv.n, round(iv.mean, 3), round(iv.high - iv.mean, 4)
    (3, 0.2, 0.2484)
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = int(finite.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level)
    mean = float(finite.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, level)
    half = _half_width(float(finite.std(ddof=1)), n, level)
    return Interval(mean, mean - half, mean + half, n, level)


def _half_width(sd: float, n: int, level: float) -> float:
    return float(sps.t.ppf((1 + level) / 2, n - 1) * sd / math.sqrt(n))


def t_p_value(values: Sequence[float]) -> float:
    """Two-sided one-sample t-test p-value of mean 0 (1.0 when every value is 0; nan if n < 2).

    >>> round(t_p_value([1.0, 1.2, 0.9, 1.1]), 5)
    0.00051
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return math.nan
    sd = finite.std(ddof=1)
    if sd == 0:
        return 1.0 if finite.mean() == 0 else 0.0
    t = finite.mean() / (sd / math.sqrt(finite.size))
    return float(2 * sps.t.sf(abs(t), finite.size - 1))


def sign_flip_p(values: Sequence[float], n_resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of a zero mean difference.

    Exact over all 2^n sign patterns up to n = 16 (the smallest p it can reach is 2/2^n: 1/16
    at n = 5, which is why a claim tested this way needs n >= 8 to pass Holm across 5 claims);
    a seeded Monte Carlo sample beyond.

    >>> sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0])
    0.0625
    >>> sign_flip_p([1.0, -1.0])
    1.0
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = finite.size
    if n == 0:
        return math.nan
    observed = abs(finite.sum())
    if n <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_resamples, n))
    sums = np.abs(signs @ finite)
    return float(np.mean(sums >= observed * (1 - 1e-12)))


def holm(p_values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down adjustment: ``(adjusted p, per-claim level)``.

    The level of the claim ranked k-th smallest (from 0) among m is ``ALPHA / (m - k)`` until
    one claim fails its level; every later claim keeps that failed claim's level (step-down:
    nothing after a failure is rejected). Its interval is drawn at ``1 - level``, so an
    interval excludes 0 exactly when the adjusted p is at most ``ALPHA``. NaN p-values are
    left out of m and get nan.

    >>> p, level = holm([0.01, 0.04, 0.03])
    >>> p.round(3).tolist(), (level * 100).round(3).tolist()
    ([0.03, 0.06, 0.06], [1.667, 2.5, 2.5])
    >>> holm([0.03, 0.04])[1].tolist()  # the first fails 0.025, so the second is held to it
    [0.025, 0.025]
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.size, np.nan)
    level = np.full(p.size, np.nan)
    defined = np.flatnonzero(np.isfinite(p))
    m = defined.size
    order = defined[np.argsort(p[defined], kind="stable")]
    running, failed_at = 0.0, None
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
        level[i] = ALPHA / (m - k) if failed_at is None else failed_at
        if failed_at is None and p[i] > level[i]:
            failed_at = level[i]
    return adjusted, level


def difference_verdict(interval: Interval, direction: int) -> str:
    """``held`` when the interval excludes 0 on the claimed side (``direction`` +1 or -1).

    >>> difference_verdict(Interval(0.1, 0.02, 0.2, 8, 0.95), +1)
    'held'
    >>> difference_verdict(Interval(0.1, 0.02, 0.2, 8, 0.95), -1)
    'did not hold'
    >>> difference_verdict(Interval(0.1, -0.02, 0.2, 8, 0.95), +1)
    'unresolved'
    """
    if interval.n < 2 or not math.isfinite(interval.low):
        return UNRESOLVED
    if direction * interval.low > 0 and direction * interval.high > 0:
        return HELD
    if direction * interval.low < 0 and direction * interval.high < 0:
        return NOT_HELD
    return UNRESOLVED


def equivalence_verdict(interval: Interval, low: float, high: float) -> str:
    """``held`` when the whole interval lies in the margin ``[low, high]``.

    >>> equivalence_verdict(Interval(-0.02, -0.05, 0.01, 8, 0.95), -0.1, 0.1)
    'held'
    >>> equivalence_verdict(Interval(-0.3, -0.4, -0.2, 8, 0.95), -0.1, 0.1)
    'did not hold'
    """
    if interval.n < 2 or not math.isfinite(interval.low):
        return UNRESOLVED
    if low <= interval.low and interval.high <= high:
        return HELD
    if interval.high < low or interval.low > high:
        return NOT_HELD
    return UNRESOLVED


def seeds_needed_difference(values: Sequence[float], level: float = 1 - ALPHA) -> float:
    """Smallest n whose interval, with this mean and spread, would exclude 0 (nan: never).

    >>> seeds_needed_difference([0.5, -0.1, 0.4, 0.2])
    7.0
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2 or finite.mean() == 0:
        return math.nan
    sd, distance = float(finite.std(ddof=1)), abs(float(finite.mean()))
    return _smallest_n(lambda n: _half_width(sd, n, level) < distance)


def seeds_needed_equivalence(
    values: Sequence[float], low: float, high: float, level: float = 1 - ALPHA
) -> float:
    """Smallest n whose interval would fit inside ``[low, high]`` or fall outside it (nan: never).

    >>> seeds_needed_equivalence([0.05, -0.02, 0.09, 0.0], -0.1, 0.1)
    5.0
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return math.nan
    sd, mean = float(finite.std(ddof=1)), float(finite.mean())
    distance = min(abs(mean - low), abs(mean - high))
    if distance == 0:
        return math.nan
    return _smallest_n(lambda n: _half_width(sd, n, level) < distance)


def _smallest_n(enough) -> float:
    n = 2
    while n <= MAX_SEEDS:
        if enough(n):
            return float(n)
        n = n + 1 if n < 64 else int(n * 1.25)
    return math.nan
