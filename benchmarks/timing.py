"""Interleaved timing on a shared, noisy machine: ratios measured in the same run.

Every repeat times each side once, in an order that alternates (A B C, then C B A), so a slow
spell of the machine lands on both sides of a ratio. A ratio is taken within each repeat and
the report gives the median over repeats and the spread (min–max) around it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Ratio:
    """The median of per-repeat ratios, their min and max, and how many repeats there were.

    >>> Ratio.of([3.0, 4.0, 5.0], [1.0, 1.0, 1.0])
    Ratio(median=4.0, low=3.0, high=5.0, repeats=3)
    """

    median: float
    low: float
    high: float
    repeats: int

    @classmethod
    def of(cls, numerators: list[float], denominators: list[float]) -> Ratio:
        ratios = [a / b for a, b in zip(numerators, denominators, strict=True)]
        return cls(statistics.median(ratios), min(ratios), max(ratios), len(ratios))

    def to_dict(self) -> dict:
        return asdict(self)


def time_call(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes, on the monotonic performance clock."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def interleave(
    sides: Mapping[str, Callable[[], object]],
    repeats: int,
    timer: Callable[[Callable[[], object]], float] = time_call,
) -> dict[str, list[float]]:
    """Time every side once per repeat, alternating the order; seconds per side per repeat.

    >>> times = interleave({"a": lambda: None, "b": lambda: None}, repeats=4)
    >>> [len(t) for t in times.values()]
    [4, 4]
    """
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(timer(sides[name]))
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)
