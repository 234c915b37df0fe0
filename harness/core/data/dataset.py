"""The ``Dataset`` an optimizer run trains on: fixed arrays and a seeded minibatch sampler.

A ``Dataset`` keeps no sampler state: ``sample_batch`` draws only from the
``np.random.Generator`` it is handed, so saving ``rng.bit_generator.state`` is enough to
resume a run bit-identically. ``with_shift`` returns the non-stationary variant whose
arrays change at a known step (see ``harness.core.data.shift``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from harness.core.data.shift import Shift, make_shift, shifted_arrays

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class Dataset:
    """Train, validation and (held-out) test arrays of one task, optionally changing at
    ``shift.at_step``.

    ``X_*`` are float64 ``(rows, n_features)``. ``y_*`` are int64 labels in
    ``[0, n_classes)`` for ``task="classification"``, float64 targets for
    ``task="regression"`` (then ``n_classes is None``). ``x_mean``/``x_std`` are the
    train-only statistics the features were standardized with (``None`` if they were
    not). ``after_shift`` holds the ``(X_train, y_train, X_val, y_val)`` used from
    ``shift.at_step`` on, ``after_shift_test`` the ``(X_test, y_test)``. ``X_test`` and
    ``y_test`` may be ``None`` (no test part: no test metrics). All arrays are made read-only;
    ``meta`` holds loader extras (e.g. the true weights of ``linreg``).

    >>> ds = Dataset(name="toy", X_train=np.eye(3), y_train=np.arange(3),
    ...              X_val=np.ones((1, 3)), y_val=np.array([1]), n_classes=3)
    >>> ds
    Dataset(name='toy', task='classification', n_train=3, n_val=1, n_test=0, n_features=3, n_classes=3, shift_step=None)
    >>> X, y = ds.sample_batch(np.random.default_rng(0), batch_size=3)
    >>> sorted(y.tolist()), X.shape
    ([0, 1, 2], (3, 3))
    """  # noqa: E501

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    task: str = "classification"
    n_classes: int | None = None
    x_mean: np.ndarray | None = None
    x_std: np.ndarray | None = None
    shift: Shift | None = None
    after_shift: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    after_shift_test: tuple[np.ndarray, np.ndarray] | None = None
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_task(self.task, self.n_classes)
        if (self.shift is None) != (self.after_shift is None):
            raise ValueError("Dataset needs both shift and after_shift, or neither")
        n_features = self.X_train.shape[-1]
        _check_pair("train", self.X_train, self.y_train, n_features, self.n_classes)
        _check_pair("val", self.X_val, self.y_val, n_features, self.n_classes)
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError("Dataset needs both X_test and y_test, or neither")
        if self.X_test is not None:
            _check_pair("test", self.X_test, self.y_test, n_features, self.n_classes)
        if self.after_shift is not None:
            X_train, y_train, X_val, y_val = self.after_shift
            _check_pair("shifted train", X_train, y_train, n_features, self.n_classes)
            _check_pair("shifted val", X_val, y_val, n_features, self.n_classes)
        for array in self._arrays():
            array.flags.writeable = False

    @property
    def n_features(self) -> int:
        """Number of input features (columns of ``X_train``)."""
        return self.X_train.shape[1]

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return self.X_train.shape[0]

    @property
    def n_val(self) -> int:
        """Number of validation rows."""
        return self.X_val.shape[0]

    @property
    def n_test(self) -> int:
        """Number of held-out test rows (0 without a test part)."""
        return 0 if self.X_test is None else self.X_test.shape[0]

    @property
    def shift_step(self) -> int | None:
        """The first step that sees the changed data, or ``None`` if the data set is stationary."""
        return None if self.shift is None else self.shift.at_step

    def sample_batch(
        self, rng: np.random.Generator, batch_size: int, step: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``batch_size`` distinct training rows, uniformly, using only ``rng``.

        Rows are distinct inside a batch; batches are independent of each other (no
        epochs, so there is no hidden state to save). ``rng.choice(n, b, replace=False)``
        does a partial Fisher-Yates on ``arange(n)`` (or Floyd's algorithm for large
        ``n``): ``b`` random draws, not a full permutation; about 7 us per call
        against about 4 us for the with-replacement ``rng.integers``. ``step`` selects
        the shifted arrays from ``shift_step`` on.

        >>> ds = Dataset(name="toy", X_train=np.eye(2), y_train=np.arange(2),
        ...              X_val=np.eye(2), y_val=np.arange(2), n_classes=2)
        >>> ds.sample_batch(np.random.default_rng(0), batch_size=3)
        Traceback (most recent call last):
        ...
        ValueError: batch_size=3 is not allowed; expected 1..2 (the training rows of 'toy')
        """
        X, y = self._train_arrays(step)
        n_rows = y.shape[0]
        if not 0 < batch_size <= n_rows:
            raise ValueError(
                f"batch_size={batch_size!r} is not allowed;"
                f" expected 1..{n_rows} (the training rows of {self.name!r})"
            )
        rows = rng.choice(n_rows, batch_size, replace=False)
        return X.take(rows, axis=0), y.take(rows)

    def validation(self, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The (read-only) validation arrays in force at ``step``.

        >>> ds = Dataset(name="toy", X_train=np.eye(2), y_train=np.arange(2),
        ...              X_val=np.eye(2), y_val=np.arange(2), n_classes=2)
        >>> ds.with_shift(at_step=10, kind="permute_labels").validation(step=10)[1].tolist()
        [1, 0]
        """
        if self.after_shift is not None and step >= self.shift.at_step:
            return self.after_shift[2], self.after_shift[3]
        return self.X_val, self.y_val

    def test(self, step: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """The (read-only) held-out test arrays in force at ``step``; ``None`` without them."""
        if self.after_shift_test is not None and step >= self.shift.at_step:
            return self.after_shift_test
        return None if self.X_test is None else (self.X_test, self.y_test)

    def with_shift(self, at_step: int, kind: str, factor: float = 10.0, seed: int = 0) -> Dataset:
        """A copy whose data changes from ``at_step`` on (see ``harness.core.data.shift``).

        Before ``at_step``, ``sample_batch`` and ``validation`` return exactly what this
        data set returns for the same ``rng`` state. ``factor`` applies to
        ``kind="scale_inputs"``; ``seed`` draws the label permutation.

        >>> ds = Dataset(name="toy", X_train=np.eye(2), y_train=np.arange(2),
        ...              X_val=np.eye(2), y_val=np.arange(2), n_classes=2)
        >>> shifted = ds.with_shift(at_step=10, kind="scale_inputs", factor=10.0)
        >>> shifted.shift_step, shifted.validation(9)[0][0, 0], shifted.validation(10)[0][0, 0]
        (10, np.float64(1.0), np.float64(10.0))
        """
        if self.shift is not None:
            raise ValueError(
                f"data set {self.name!r} already shifts at step {self.shift.at_step};"
                " shift the stationary data set instead"
            )
        shift = make_shift(at_step, kind, factor, seed, task=self.task, n_classes=self.n_classes)
        after = shifted_arrays(shift, self.X_train, self.y_train, self.X_val, self.y_val)
        after_test = None
        if self.X_test is not None:
            after_test = shifted_arrays(shift, self.X_test, self.y_test, self.X_test, self.y_test)
            after_test = after_test[:2]
        return dataclasses.replace(
            self, shift=shift, after_shift=after, after_shift_test=after_test
        )

    def _train_arrays(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        if self.after_shift is not None and step >= self.shift.at_step:
            return self.after_shift[0], self.after_shift[1]
        return self.X_train, self.y_train

    def _arrays(self) -> list[np.ndarray]:
        arrays = [self.X_train, self.y_train, self.X_val, self.y_val, self.X_test, self.y_test]
        arrays += [
            self.x_mean,
            self.x_std,
            *(self.after_shift or ()),
            *(self.after_shift_test or ()),
        ]
        return [a for a in arrays if a is not None]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_train={self.n_train},"
            f" n_val={self.n_val}, n_test={self.n_test}, n_features={self.n_features},"
            f" n_classes={self.n_classes},"
            f" shift_step={self.shift_step})"
        )


def _check_task(task: str, n_classes: int | None) -> None:
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of: {', '.join(TASKS)}")
    if (task == "regression") != (n_classes is None):
        raise ValueError(f"task={task!r} needs n_classes {'None' if n_classes else '>= 1'}")


def _check_pair(
    part: str, X: np.ndarray, y: np.ndarray, n_features: int, n_classes: int | None
) -> None:
    if X.ndim != 2 or X.dtype != np.float64 or X.shape[1] != n_features:
        raise ValueError(f"{part} X must be float64 (rows, {n_features}); got {X.dtype} {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{part} y must have shape ({X.shape[0]},); got {y.shape}")
    expected = np.float64 if n_classes is None else np.int64
    if y.dtype != expected:
        raise ValueError(f"{part} y must be {np.dtype(expected)}; got {y.dtype}")
    if n_classes is not None and y.size and not 0 <= y.min() <= y.max() < n_classes:
        raise ValueError(f"{part} labels must lie in [0, {n_classes}); got {y.min()}..{y.max()}")
