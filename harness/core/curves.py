"""Curves of one run: a preallocated (steps + 1) × metrics float64 table, NaN where not recorded."""

from __future__ import annotations

import numpy as np

#: The most memory one run's curves may take (1 GiB, ~10 million steps): a longer run is refused
#: before any store or run exists, instead of failing on its first allocation.
MAX_BYTES = 2**30


def table_bytes(steps: int, n_columns: int) -> int:
    """Bytes of the float64 table ``Curves(columns, steps)`` allocates.

    >>> table_bytes(2000, 12)
    192096
    """
    return (steps + 1) * n_columns * 8


class _Row:
    __slots__ = ("_data", "_index", "_step")

    def __init__(self, data: np.ndarray, index: dict[str, int], step: int):
        self._data, self._index, self._step = data, index, step

    def __setitem__(self, metric: str, value: float) -> None:
        self._data[self._step, self._index[metric]] = value


class Curves:
    """Wide curves: row ``k`` holds what was recorded at step ``k`` (row 0: before training).

    >>> c = Curves(("train_loss", "val_loss"), steps=3)
    >>> c.row(1)["train_loss"] = 2.0
    >>> c.column("train_loss").tolist()[:2]
    [nan, 2.0]
    """

    def __init__(self, columns: tuple[str, ...], steps: int):
        self.columns = tuple(columns)
        self.index = {name: i for i, name in enumerate(self.columns)}
        self.data = np.full((steps + 1, len(self.columns)), np.nan)

    @property
    def last_step(self) -> int:
        return self.data.shape[0] - 1

    def row(self, step: int) -> _Row:
        return _Row(self.data, self.index, step)

    def column(self, metric: str) -> np.ndarray | None:
        i = self.index.get(metric)
        return None if i is None else self.data[:, i]

    def truncate(self, step: int) -> None:
        """Drop the rows after ``step`` (a run that stopped early)."""
        self.data = self.data[: step + 1]

    def copy(self) -> Curves:
        out = Curves(self.columns, 0)
        out.data = self.data.copy()
        return out

    def to_frame(self, upto: int | None = None):
        """A wide ``pandas.DataFrame`` with a ``step`` column, empty rows dropped."""
        import pandas as pd

        data = self.data if upto is None else self.data[: upto + 1]
        frame = pd.DataFrame(data, columns=list(self.columns))
        frame.insert(0, "step", np.arange(len(frame), dtype=np.int64))
        return frame[frame[list(self.columns)].notna().any(axis=1)].reset_index(drop=True)

    @classmethod
    def from_frame(cls, frame, steps: int) -> Curves:
        """The inverse of ``to_frame`` for a run planned for ``steps`` steps."""
        columns = tuple(c for c in frame.columns if c != "step")
        out = cls(columns, steps)
        out.data[frame["step"].to_numpy()] = frame[list(columns)].to_numpy(dtype=float)
        return out
