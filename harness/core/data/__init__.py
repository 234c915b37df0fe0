"""Offline, seeded data sets for the optimizer lab, by name.

``load_dataset(name, seed=..., val_fraction=..., test_fraction=..., **options)`` looks
``name`` up in ``DATASETS``; each entry is a ``load_*`` function whose keyword arguments
after ``seed``, ``val_fraction`` and ``test_fraction`` are the options that data set
accepts (``standardize`` among them: True by default, False for ``linreg``).
Non-stationary variants come from ``Dataset.with_shift``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from harness.core.data.checks import check_fraction
from harness.core.data.dataset import TASKS, Dataset
from harness.core.data.digits import load_digits
from harness.core.data.mnist1d_local import load_mnist1d
from harness.core.data.shift import SHIFT_KINDS, Shift
from harness.core.data.synthetic import load_blobs, load_linreg, load_spirals

__all__ = [
    "DATASETS",
    "SHIFT_KINDS",
    "TASKS",
    "Dataset",
    "Shift",
    "dataset_options",
    "load_dataset",
]

DATASETS: dict[str, Callable[..., Dataset]] = {
    "blobs": load_blobs,
    "digits": load_digits,
    "linreg": load_linreg,
    "mnist1d": load_mnist1d,
    "spirals": load_spirals,
}

_COMMON = ("seed", "val_fraction", "test_fraction")


def dataset_options(name: str) -> dict[str, object]:
    """The options data set ``name`` accepts, with their defaults.

    >>> dataset_options("spirals")
    {'n_samples': 1000, 'noise': 0.1, 'standardize': True}
    """
    parameters = inspect.signature(_loader(name)).parameters.values()
    return {p.name: p.default for p in parameters if p.name not in _COMMON}


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    **options: object,
) -> Dataset:
    """Load the registered data set ``name``; unknown names or options raise ``ValueError``.

    >>> load_dataset("blobs", seed=1, n_samples=100, n_classes=4).n_classes
    4
    >>> load_dataset("mnist")
    Traceback (most recent call last):
    ...
    ValueError: dataset.name='mnist' is not one of: blobs, digits, linreg, mnist1d, spirals
    """
    allowed = dataset_options(name)
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(
                f"dataset.{key}={value!r} is not an option of {name!r};"
                f" allowed: {', '.join(_COMMON + tuple(allowed))}"
            )
    val_fraction = check_fraction("dataset.val_fraction", val_fraction)
    return DATASETS[name](
        seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, **options
    )


def _loader(name: str) -> Callable[..., Dataset]:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"dataset.name={name!r} is not one of: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]
