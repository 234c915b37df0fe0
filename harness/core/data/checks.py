"""Argument checks whose one-line errors name the key, the bad value and what is allowed.

Keys are spelled as in the config (``dataset.n_samples``, ``shift.kind``) so a wrong
override on the command line points at the line to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real


def bad_value(key: str, value: object, allowed: str) -> ValueError:
    """Build the error for ``key=value`` when ``allowed`` describes what would do.

    >>> str(bad_value("dataset.n_samples", -1, "an integer >= 10"))
    'dataset.n_samples=-1 is not allowed; expected an integer >= 10'
    """
    return ValueError(f"{key}={value!r} is not allowed; expected {allowed}")


def check_choice(key: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError``.

    >>> check_choice("shift.kind", "scale_inputs", ["permute_labels", "scale_inputs"])
    'scale_inputs'
    """
    choices = sorted(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{key}={value!r} is not one of: {', '.join(choices)}")
    return value


def check_int(key: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]`` (no bools).

    >>> check_int("dataset.n_samples", 200, minimum=10)
    200
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise bad_value(key, value, f"an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise bad_value(key, value, f"an integer in {minimum}..{maximum}")
    return int(value)


def check_real(key: str, value: object, minimum: float, *, strict: bool = False) -> float:
    """Return ``value`` as a finite ``float`` that is ``>= minimum`` (``> minimum`` if strict).

    >>> check_real("dataset.noise", 0.1, minimum=0.0)
    0.1
    """
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise bad_value(key, value, f"a finite number {relation} {minimum}")
    return float(value)


def check_fraction(key: str, value: object) -> float:
    """Return ``value`` as a ``float`` strictly between 0 and 1.

    >>> check_fraction("dataset.val_fraction", 0.2)
    0.2
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value < 1.0:
        raise bad_value(key, value, "a number strictly between 0 and 1")
    return float(value)


def check_bool(key: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool`` (so ``"false"`` is not silently truthy).

    >>> check_bool("dataset.standardize", False)
    False
    """
    if not isinstance(value, bool):
        raise bad_value(key, value, "true or false")
    return value
