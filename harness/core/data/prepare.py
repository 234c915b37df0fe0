"""Turn raw ``(X, y)`` arrays into a ``Dataset``: seeded split, then train-only standardization.

Every loader goes through ``build_dataset`` so all data sets split and standardize the
same way: first a held-out **test** part (``test_fraction`` of the rows, or rows the data set
fixes itself, like MNIST-1D's own test part), then **validation** (``val_fraction`` of the
rows left), the rest trains. Selection (best lr, tuning) uses validation; verdicts use test.
The seed of a loader is spawned into two independent streams (``seeded_rngs``): one makes
the data, one splits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from harness.core.data.checks import Range
from harness.core.data.dataset import Dataset


@dataclass(frozen=True)
class Split:
    """The options every data set takes, declared once: its seed and its split's fractions.

    ``seed`` draws the data (``make_rng``) and, from an independent stream, the split;
    ``test_fraction`` of the rows go to test first, then ``val_fraction`` of the rest to
    validation. A loader receives them as its first argument (``harness.core.data.spec``).

    >>> Split(seed=3).make_rng().random() == seeded_rngs(3)[0].random()
    True
    """

    seed: Annotated[int, Range(0)] = 0
    val_fraction: Annotated[float, Range(0, 1, open=True)] = 0.2
    test_fraction: Annotated[float, Range(0, 1, open=True)] = 0.2

    def make_rng(self) -> np.random.Generator:
        """The generator that makes the data (the split draws from another)."""
        return seeded_rngs(self.seed)[0]


def seeded_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators from one seed: ``(make_rng, split_rng)``.

    >>> make_rng, split_rng = seeded_rngs(0)
    >>> bool(make_rng.random() != split_rng.random())
    True
    """
    make_seq, split_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(make_seq), np.random.default_rng(split_seq)


def split_indices(
    rng: np.random.Generator, n_rows: int, val_fraction: float, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train_rows, val_rows)``, stratified by ``labels`` when given.

    Each group (class, or all rows) sends ``round(val_fraction * size)`` random rows to
    validation, clipped so that both sides keep at least one row of a group of >= 2.

    >>> train, val = split_indices(np.random.default_rng(0), 10, 0.2, np.arange(10) % 2)
    >>> len(train), len(val), sorted(np.bincount(np.arange(10)[val] % 2).tolist())
    (8, 2, [1, 1])
    """
    if labels is None:
        groups = [np.arange(n_rows)]
    else:
        groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    val_parts = []
    for members in groups:
        n_val = min(max(round(val_fraction * len(members)), 1), len(members) - 1)
        val_parts.append(rng.permutation(members)[:n_val])
    val_rows = np.sort(np.concatenate(val_parts))
    return np.setdiff1d(np.arange(n_rows), val_rows), val_rows


def fit_standardizer(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(mean, std)`` of the training rows; constant features get ``std = 1``.

    The guard keeps constant features (the blank border pixels of ``digits``) finite:
    they become ``x - mean``, i.e. 0 on train.

    >>> mean, std = fit_standardizer(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> mean.tolist(), std.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    return mean, np.where(constant, 1.0, std)


def build_dataset(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int | None,
    split: Split,
    standardize: bool,
    test_rows: np.ndarray | None = None,
    meta: Mapping[str, object] | None = None,
) -> Dataset:
    """Split ``(X, y)`` into train / validation / test and standardize with train statistics.

    ``test_rows`` fixes the test part (a data set's own); otherwise ``split.test_fraction`` of
    the rows are drawn for it. ``split.val_fraction`` is then a fraction of the rows left.
    ``n_classes=None`` makes a regression task (float64 targets, random split); otherwise
    labels are int64 and both splits are stratified.

    >>> X, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    >>> ds = build_dataset("toy", X, y, n_classes=2, split=Split(val_fraction=0.25),
    ...                    standardize=True)
    >>> ds.n_train, ds.n_val, ds.n_test, float(abs(ds.X_train.mean()) < 1e-12)
    (12, 4, 4, 1.0)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64 if n_classes is None else np.int64)
    labels = None if n_classes is None else y
    split_rng = seeded_rngs(split.seed)[1]
    if test_rows is None:
        rest, test = split_indices(split_rng, len(y), split.test_fraction, labels)
    else:
        test = np.sort(np.asarray(test_rows, dtype=np.int64))
        rest = np.setdiff1d(np.arange(len(y)), test)
    train, val = split_indices(
        split_rng, len(rest), split.val_fraction, None if labels is None else labels[rest]
    )
    train, val = rest[train], rest[val]
    X_train, X_val, X_test = X[train], X[val], X[test]
    mean = std = None
    if standardize:
        mean, std = fit_standardizer(X_train)
        X_train, X_val, X_test = ((part - mean) / std for part in (X_train, X_val, X_test))
    return Dataset(
        name=name,
        X_train=X_train,
        y_train=y[train],
        X_val=X_val,
        y_val=y[val],
        X_test=X_test,
        y_test=y[test],
        task="regression" if n_classes is None else "classification",
        n_classes=n_classes,
        x_mean=mean,
        x_std=std,
        meta=dict(meta or {}),
    )
