"""MNIST-1D made locally by the ``mnist1d`` package's generator, cached on disk as ``.npz``.

Only ``mnist1d.data.make_dataset`` is used, never the package's download path. That
generator reseeds and draws from the *global* numpy and ``random`` RNGs, so it runs inside
``isolated_global_rng``, which restores both states afterwards (other threads drawing from
the global RNGs at the same moment would still interleave; the harness has none).

Generating the default 5000 samples takes seconds, so the result is cached
(``harness.core.data.cache``) as ``mnist1d-<key>.npz``, the key hashing the generator arguments
and the package version; an unreadable cache file is regenerated.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from typing import Annotated

import numpy as np

from harness.core.data.cache import cache_dir, read_npz, save_npz_atomic
from harness.core.data.checks import Range
from harness.core.data.dataset import Dataset
from harness.core.data.prepare import Split, build_dataset
from harness.core.data.spec import Rule, loader

CACHE_FORMAT = 1
#: The package's own held-out part (its ``train_split`` is 0.8): MNIST-1D's test set.
OWN_TEST_FRACTION = 0.2


def generator_args(num_samples: int | None, seed: int) -> dict[str, object]:
    """The package's default generator arguments with ``num_samples`` and ``seed`` set.

    >>> args = generator_args(None, seed=3)
    >>> args["num_samples"], args["seed"], "url" in args
    (5000, 3, False)
    """
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    del args["url"]
    if num_samples is not None:
        args["num_samples"] = num_samples
    args["seed"] = seed
    return args


def cache_key(args: Mapping[str, object]) -> str:
    """A 16-hex-digit hash of the generator arguments, package version and file format.

    >>> cache_key({"seed": 1}) == cache_key({"seed": 1}) != cache_key({"seed": 2})
    True
    """
    payload = {"args": dict(args), "mnist1d": version("mnist1d"), "format": CACHE_FORMAT}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@contextmanager
def isolated_global_rng() -> Iterator[None]:
    """Run a block that reseeds global RNGs, then restore numpy's and ``random``'s state.

    >>> before = np.random.get_state()[1].copy()
    >>> with isolated_global_rng():
    ...     np.random.seed(1)
    >>> bool(np.array_equal(np.random.get_state()[1], before))
    True
    """
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def generate_mnist1d(args: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """All ``10 * (num_samples // 10)`` samples (the package's train then test part), uncached."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    with isolated_global_rng():
        data = make_dataset(ObjectView(dict(args)))
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    return X, np.concatenate([data["y"], data["y_test"]]).astype(np.int64)


def cached_mnist1d(args: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """``generate_mnist1d(args)``, read from the cache when present, else generated and stored."""
    path = cache_dir() / f"mnist1d-{cache_key(args)}.npz"
    cached = read_npz(path)
    if cached is not None and {"x", "y"} <= cached.keys():
        return cached["x"], cached["y"]
    X, y = generate_mnist1d(args)
    save_npz_atomic(path, x=X, y=y)
    return X, y


@loader(
    task="classification",
    rules=[
        Rule("seed", lambda o: o["seed"] < 2**32, "must be < 2**32 (np.random.seed's range)"),
        Rule(
            "test_fraction",
            lambda o: math.isclose(o["test_fraction"], OWN_TEST_FRACTION),
            f"must be {OWN_TEST_FRACTION}: MNIST-1D keeps its own test part",
        ),
    ],
)
def load_mnist1d(
    split: Split,
    *,
    num_samples: Annotated[int, Range(20)] = 5000,
    standardize: bool = True,
) -> Dataset:
    """MNIST-1D: 40 features, 10 classes, ``num_samples`` (the package's default 5000).

    ``seed`` seeds the generator (the package's own default is 42) and the stratified
    train/validation split of the package's training part; the package's own test part
    (``train_split`` = 80/20) stays the held-out test set, so ``test_fraction`` must be
    that part's 0.2 (any other value is refused). The package already scales
    all samples by one global mean and std; ``standardize`` then standardizes each
    feature with train statistics. ``meta["generator_args"]`` records the arguments.
    """
    args = generator_args(num_samples, split.seed)
    if not math.isclose(1.0 - float(args["train_split"]), OWN_TEST_FRACTION):
        raise RuntimeError(
            f"mnist1d's train_split is {args['train_split']}; OWN_TEST_FRACTION says 0.8"
        )
    X, y = cached_mnist1d(args)
    n_train_part = int(len(y) * float(args["train_split"]))  # the package's own split point
    return build_dataset(
        "mnist1d",
        X,
        y,
        n_classes=10,
        split=split,
        standardize=standardize,
        test_rows=np.arange(n_train_part, len(y)),
        meta={"generator_args": args},
    )
