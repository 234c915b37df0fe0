"""Non-stationary data: one change of the data set at a known training step.

The lecture claims RMSprop "adapts when the landscape changes"; a ``Shift`` is that change.
Two kinds:

- ``"permute_labels"``: from ``at_step`` on, class ``c`` is relabelled ``label_permutation[c]``.
  The permutation is a seeded *derangement* (no class keeps its label), so every example's
  target really changes. Classification only.
- ``"scale_inputs"``: from ``at_step`` on, every input is multiplied by ``factor``. The
  gradient scale of the first layer changes by ``factor``, which is what an adaptive
  per-parameter step size is meant to absorb.

The shifted arrays are computed once here; the training loop only picks an array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.data.checks import check_choice, check_int, check_real
from harness.core.errors import ConfigError

SHIFT_KINDS = ("permute_labels", "scale_inputs")


@dataclass(frozen=True)
class Shift:
    """When and how a data set changes.

    ``factor`` is the input scale from ``at_step`` on (1.0 for ``"permute_labels"``);
    ``label_permutation`` maps old to new class (``None`` for ``"scale_inputs"``).

    >>> make_shift(100, "permute_labels", seed=0, task="classification", n_classes=3)
    Shift(at_step=100, kind='permute_labels', factor=1.0, seed=0, label_permutation=(2, 0, 1))
    """

    at_step: int
    kind: str
    factor: float = 1.0
    seed: int = 0
    label_permutation: tuple[int, ...] | None = None


def make_shift(
    at_step: int,
    kind: str,
    factor: float = 10.0,
    seed: int = 0,
    *,
    task: str,
    n_classes: int | None,
) -> Shift:
    """Validate the arguments and draw the label permutation (from ``seed`` only).

    ``factor`` is used by ``"scale_inputs"`` and ignored by ``"permute_labels"``.

    >>> make_shift(5, "scale_inputs", factor=10.0, task="regression", n_classes=None).factor
    10.0
    """
    at_step = check_int("shift.at_step", at_step, minimum=0)
    kind = check_choice("shift.kind", kind, SHIFT_KINDS)
    seed = check_int("shift.seed", seed, minimum=0)
    if kind == "scale_inputs":
        factor = check_real("shift.factor", factor, minimum=0.0, strict=True)
        return Shift(at_step, kind, factor, seed)
    if task != "classification" or n_classes is None or n_classes < 2:
        raise ConfigError(
            "shift.kind",
            kind,
            f"needs a classification data set with >= 2 classes, not {task} with"
            f" n_classes={n_classes}; use 'scale_inputs'",
        )
    permutation = derangement(np.random.default_rng(seed), n_classes)
    return Shift(at_step, kind, 1.0, seed, tuple(int(c) for c in permutation))


def derangement(rng: np.random.Generator, n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` with no fixed point (``n >= 2``).

    Rejection sampling: about e ~= 2.7 draws on average.

    >>> perm = derangement(np.random.default_rng(1), 5)
    >>> sorted(perm.tolist()), bool(np.any(perm == np.arange(5)))
    ([0, 1, 2, 3, 4], False)
    """
    if n < 2:
        raise ValueError(f"a derangement needs n >= 2, got n={n}")
    while True:
        permutation = rng.permutation(n)
        if not np.any(permutation == np.arange(n)):
            return permutation


def shifted_arrays(
    shift: Shift, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``(X_train, y_train, X_val, y_val)`` that replace the originals from ``shift.at_step``.

    Arrays the shift leaves alone are returned as they are (no copy).

    >>> X, y = np.ones((2, 1)), np.array([0, 1])
    >>> shifted = shifted_arrays(Shift(0, "permute_labels", label_permutation=(1, 0)), X, y, X, y)
    >>> shifted[1].tolist(), shifted[0] is X
    ([1, 0], True)
    """
    if shift.kind == "scale_inputs":
        return shift.factor * X_train, y_train, shift.factor * X_val, y_val
    permutation = np.asarray(shift.label_permutation, dtype=np.int64)
    return X_train, permutation[y_train], X_val, permutation[y_val]
