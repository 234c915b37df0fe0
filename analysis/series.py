"""Statistics of one curve: arrays ``steps`` (increasing) and ``values`` of one run and metric.

Windows are measured in steps, not points, so a curve subsampled to every k-th step gives the
same answers as the full one. "Never" is ``math.inf``; "not defined" is ``nan``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "decay_exponent",
    "recovery_against_control",
    "smooth",
    "stall_step",
    "time_to_target",
]


def smooth(
    steps: np.ndarray, values: np.ndarray, window: float, reset_at: float | None = None
) -> np.ndarray:
    """Trailing moving average over the steps in ``(t - window, t]``, never across ``reset_at``.

    Trailing, so a smoothed value never sees the future; with ``reset_at`` (a distribution
    shift) points after it average only points after it. After the first non-finite value
    (a diverging run) every smoothed value is ``inf``.

    >>> smooth(np.arange(1, 6), np.array([5.0, 3.0, 1.0, 1.0, 1.0]), window=2).tolist()
    [5.0, 4.0, 2.0, 1.0, 1.0]
    >>> smooth(np.arange(1, 5), np.array([1.0, 1.0, 9.0, 9.0]), window=3, reset_at=2).tolist()
    [1.0, 1.0, 9.0, 9.0]
    """
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    end = values.size if finite.all() else int(np.argmin(finite))
    out = np.full(values.size, np.inf)
    total = np.concatenate([[0.0], np.cumsum(values[:end])])
    first = np.searchsorted(steps[:end], steps[:end] - window, side="right")
    if reset_at is not None:
        first = np.maximum(
            first,
            np.where(
                steps[:end] > reset_at, np.searchsorted(steps[:end], reset_at, side="right"), 0
            ),
        )
    stop = np.arange(1, end + 1)
    out[:end] = (total[stop] - total[first]) / (stop - first)
    return out


def time_to_target(steps: np.ndarray, values: np.ndarray, target: float) -> float:
    """The first step whose value is at or below ``target``; ``inf`` when none is.

    >>> time_to_target(np.array([0, 10, 20]), np.array([3.0, 1.0, 0.5]), target=1.0)
    10.0
    >>> time_to_target(np.array([0, 10]), np.array([3.0, 2.0]), target=1.0)
    inf
    """
    hit = np.flatnonzero(np.asarray(values) <= target)
    return float(steps[hit[0]]) if hit.size else math.inf


def decay_exponent(steps: np.ndarray, values: np.ndarray, start_fraction: float = 0.5) -> float:
    """Least-squares slope of log(value) against log(step) over steps ≥ start_fraction × last.

    Adagrad's effective step ``lr / sqrt(t)`` gives -0.5; a constant step gives 0.

    >>> t = np.arange(1, 1001)
    >>> round(decay_exponent(t, 0.1 / np.sqrt(t)), 6)
    -0.5
    """
    steps, values = np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values) & (values > 0) & (steps > 0)
    if not keep.any():
        return math.nan
    keep &= steps >= start_fraction * steps[keep].max()
    if np.unique(steps[keep]).size < 2:
        return math.nan
    return float(np.polyfit(np.log(steps[keep]), np.log(values[keep]), 1)[0])


def stall_step(
    steps: np.ndarray, values: np.ndarray, target: float, window: float, threshold: float = 0.01
) -> float:
    """The step from which the loss stops improving while still above ``target``; nan if never.

    With ``values`` a smoothed loss, the relative improvement at step t looks one window ahead:
    ``(v(t) - v(t + window)) / v(t)``. The stall step is the first step of the final stretch
    where that improvement stays below ``threshold`` while the loss stays above ``target`` up to
    the end. A run that ends at or below the target, or improves in its last window, has none.

    >>> t = np.arange(1, 101)
    >>> stall_step(t, np.where(t < 40, 2.0 - t / 40, 1.0), target=0.5, window=10)
    40.0
    """
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    ahead = np.searchsorted(steps, steps + window, side="left")
    defined = ahead < steps.size
    later = values[np.minimum(ahead, steps.size - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        flat = (values - later) / values < threshold
    above = np.flip(np.logical_and.accumulate(np.flip(values > target)))
    stalled = (flat & above)[defined]
    if not stalled.size or not stalled[-1]:
        return math.nan
    start = 0 if stalled.all() else stalled.size - int(np.argmin(stalled[::-1]))
    return float(steps[start])


def recovery_against_control(
    run: tuple[np.ndarray, np.ndarray],
    control: tuple[np.ndarray, np.ndarray],
    shift_step: float,
    window: float,
    fraction: float = 0.1,
) -> tuple[float, float]:
    """``(jump, steps to recover)`` of a shifted run's loss against its unshifted control's.

    Both are ``(steps, values)`` of a loss smoothed with ``reset_at=shift_step``. The gap is
    run − control on their common steps; the jump is the largest gap within ``window`` steps
    after the shift; recovery is the first step at or after that peak whose gap is at most
    ``fraction`` × jump, counted from the shift (``inf``: never). A jump <= 0 means the change
    did not raise the loss: the time is then nan.

    >>> t = np.arange(0, 400)
    >>> control = 1.0 / (1 + t / 50)
    >>> run = control + np.where(t > 100, np.exp(-(t - 100) / 20), 0.0)
    >>> jump, time = recovery_against_control((t, run), (t, control), 100, window=10)
    >>> round(jump, 3), time
    (0.951, 48.0)
    """
    steps, values = run
    common, mine, theirs = np.intersect1d(steps, control[0], return_indices=True)
    gap = np.asarray(values, dtype=np.float64)[mine] - np.asarray(control[1])[theirs]
    after = common > shift_step
    first = after & (common <= shift_step + window)
    if not first.any():
        return math.nan, math.nan
    peak_at = np.flatnonzero(first)[int(np.argmax(gap[first]))]
    jump = float(gap[peak_at])
    if not jump > 0:
        return jump, math.nan
    back = np.flatnonzero(gap[peak_at:] <= fraction * jump)
    return jump, float(common[peak_at + back[0]] - shift_step) if back.size else math.inf
