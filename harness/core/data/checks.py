"""Argument checks whose one-line ``ConfigError`` names the key, the bad value and what is allowed.

Keys are spelled as in the config (``dataset.n_samples``, ``shift.kind``) so a wrong
override on the command line points at the line to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral, Real

from harness.core.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The numbers a value may take: ``low <= value <= high``; ``None`` leaves a side unbounded
    and ``open=True`` excludes the bounds given.

    >>> Range(0, 1, open=True).describe(float), Range(2).describe(int)
    ('must be a number in (0, 1)', 'must be an integer >= 2')
    """

    low: float | None = None
    high: float | None = None
    open: bool = False

    def contains(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open else value >= self.low)
        below = self.high is None or (value < self.high if self.open else value <= self.high)
        return above and below

    def describe(self, kind: type) -> str:
        noun = "an integer" if kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            if kind is int:
                return f"must be an integer in {self.low}..{self.high}"
            left, right = "()" if self.open else "[]"
            return f"must be a number in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"must be {noun} {'>' if self.open else '>='} {self.low:g}"
        if self.high is not None:
            return f"must be {noun} {'<' if self.open else '<='} {self.high:g}"
        return f"must be {noun}"


def check_number(key: str, value: object, kind: type, allowed: Range) -> int | float:
    """``value`` as ``kind`` (``int`` or ``float``) if it is finite and in ``allowed`` (no bools).

    >>> check_number("dataset.n_classes", 1, int, Range(2))
    Traceback (most recent call last):
    ...
    harness.core.errors.ConfigError: dataset.n_classes=1: must be an integer >= 2
    """
    number = isinstance(value, Integral if kind is int else Real) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and allowed.contains(value)):
        raise ConfigError(key, value, allowed.describe(kind))
    return kind(value)


def check_int(key: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``.

    >>> check_int("shift.at_step", 200, minimum=0)
    200
    """
    return check_number(key, value, int, Range(minimum, maximum))


def check_real(key: str, value: object, minimum: float, *, strict: bool = False) -> float:
    """Return ``value`` as a finite ``float`` that is ``>= minimum`` (``> minimum`` if strict).

    >>> check_real("shift.factor", 10, minimum=0.0, strict=True)
    10.0
    """
    return check_number(key, value, float, Range(minimum, open=strict))


def check_bool(key: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool`` (so ``"false"`` is not silently truthy).

    >>> check_bool("dataset.standardize", False)
    False
    """
    if not isinstance(value, bool):
        raise ConfigError(key, value, "must be true or false")
    return value


def check_choice(key: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ConfigError``.

    >>> check_choice("shift.kind", "scale_inputs", ["permute_labels", "scale_inputs"])
    'scale_inputs'
    """
    choices = sorted(choices)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(key, value, "must be one of: " + ", ".join(choices))
    return value
