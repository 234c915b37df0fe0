"""A dict of arrays that are views into one contiguous buffer.

Models hand their parameters and gradients to optimizers as ``FlatDict``s, so an
optimizer can update all of them with a handful of vectorized numpy calls on
``.flat`` instead of a Python loop per array. A ``FlatDict`` is still a plain
``dict`` of arrays, so the lecture's ``for key in params: params[key] -= ...``
works unchanged and writes through to the buffer.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class FlatDict(dict):
    """A ``dict[str, ndarray]`` whose values are views into ``self.flat``.

    Assigning to an existing key copies into its view (the buffer stays the one
    source of truth); new keys cannot be added after construction.

    >>> p = FlatDict.from_arrays({"W": np.ones((2, 2)), "b": np.zeros(2)})
    >>> p.flat.shape, p["W"].base is p.flat
    ((6,), True)
    >>> p["b"] -= 1.0
    >>> p.flat.tolist()
    [1.0, 1.0, 1.0, 1.0, -1.0, -1.0]
    """

    flat: np.ndarray
    layout: tuple[tuple[str, tuple[int, ...]], ...]

    def __init__(self, flat: np.ndarray, layout: tuple[tuple[str, tuple[int, ...]], ...]):
        if flat.ndim != 1 or not flat.flags.c_contiguous:
            raise ValueError("FlatDict needs a 1-D contiguous buffer")
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, shape in layout]
        if sum(sizes) != flat.size:
            raise ValueError(f"layout holds {sum(sizes)} elements, buffer has {flat.size}")
        views = {}
        offset = 0
        for (key, shape), size in zip(layout, sizes, strict=True):
            views[key] = flat[offset : offset + size].reshape(shape)
            offset += size
        super().__init__(views)
        self.flat = flat
        self.layout = tuple(layout)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], dtype=None) -> FlatDict:
        """Copy ``arrays`` into a new buffer, keeping their order, shapes and (common) dtype."""
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if dtype is None:
            dtype = np.result_type(*arrays.values()) if arrays else np.float64
        layout = tuple((k, v.shape) for k, v in arrays.items())
        flat = np.empty(sum(v.size for v in arrays.values()), dtype=dtype)
        out = cls(flat, layout)
        for k, v in arrays.items():
            dict.__getitem__(out, k)[...] = v
        return out

    @classmethod
    def zeros_like(cls, other: Mapping[str, np.ndarray], dtype=None) -> FlatDict:
        """A zero-filled ``FlatDict`` with the keys, shapes and dtype of ``other``."""
        if isinstance(other, FlatDict):
            return cls(np.zeros_like(other.flat, dtype=dtype), other.layout)
        arrays = {k: np.asarray(v) for k, v in other.items()}
        if dtype is None:
            dtype = np.result_type(*arrays.values()) if arrays else np.float64
        layout = tuple((k, v.shape) for k, v in arrays.items())
        return cls(np.zeros(sum(v.size for v in arrays.values()), dtype=dtype), layout)

    def copy(self) -> FlatDict:  # dict.copy would return a plain dict of shared views
        return FlatDict(self.flat.copy(), self.layout)

    def __setitem__(self, key: str, value) -> None:
        if key not in self:
            raise KeyError(f"FlatDict has a fixed set of keys; {key!r} is not one of {list(self)}")
        view = dict.__getitem__(self, key)
        if value is not view:
            view[...] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("FlatDict keys are fixed")

    def __reduce__(self):
        return (FlatDict, (self.flat, self.layout))


def same_layout(a: Mapping, b: Mapping) -> bool:
    """True when both are ``FlatDict``s of one layout, so one flat op covers every key."""
    return (
        isinstance(a, FlatDict)
        and isinstance(b, FlatDict)
        and (a.layout is b.layout or a.layout == b.layout)
    )
