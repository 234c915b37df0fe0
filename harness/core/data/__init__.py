"""Offline, seeded data sets for the optimizer lab, by name.

``DATASETS`` maps each config name (``conf/dataset/<name>.yaml``) to its loader. A loader's
signature is the one place a data set's own options, defaults and allowed values are written
(the seed and split every data set shares are ``prepare.Split``'s), and ``@loader(task=...)``
beside it says what it poses (``harness.core.data.spec``); the config class and the Hydra schema
are made from it (``harness.core.config.dataset_config``). So a new data set is its loader, its
YAML and one entry here (tests/test_data.py adds one that way). Non-stationary variants come from
``Dataset.with_shift``.
"""

from __future__ import annotations

from harness.core.data.dataset import TASKS, Dataset
from harness.core.data.digits import load_digits
from harness.core.data.mnist1d_local import load_mnist1d
from harness.core.data.shift import SHIFT_KINDS, Shift
from harness.core.data.spec import Loader
from harness.core.data.synthetic import load_blobs, load_linreg, load_spirals
from harness.core.errors import ConfigError

__all__ = [
    "DATASETS",
    "SHIFT_KINDS",
    "TASKS",
    "Dataset",
    "Loader",
    "Shift",
    "dataset_options",
    "load_dataset",
]

DATASETS: dict[str, Loader] = {
    "blobs": load_blobs,
    "digits": load_digits,
    "linreg": load_linreg,
    "mnist1d": load_mnist1d,
    "spirals": load_spirals,
}

#: What every loader takes besides its own options: the seed and the split.
COMMON = ("seed", "val_fraction", "test_fraction")


def dataset_options(name: str) -> dict[str, object]:
    """The options data set ``name`` accepts beyond ``COMMON``, with their defaults.

    >>> dataset_options("spirals")
    {'n_samples': 1000, 'noise': 0.2, 'standardize': True}
    """
    defaults = find_loader(name).defaults()
    return {key: value for key, value in defaults.items() if key not in COMMON}


def load_dataset(name: str, **options: object) -> Dataset:
    """Load the registered data set ``name`` with ``options`` (the rest at their defaults).

    A name or an option that is unknown or out of range is a ``ConfigError``.

    >>> load_dataset("blobs", seed=1, n_samples=100, n_classes=3).n_classes
    3
    >>> load_dataset("blobs", n_classes=1)
    Traceback (most recent call last):
    ...
    harness.core.errors.ConfigError: dataset.n_classes=1: must be an integer >= 2
    """
    return find_loader(name)(**options)


def find_loader(name: str) -> Loader:
    """The loader registered as ``name``.

    >>> find_loader("mnist")
    Traceback (most recent call last):
    ...
    harness.core.errors.ConfigError: dataset.name='mnist': must be one of: blobs, digits, linreg, mnist1d, spirals
    """  # noqa: E501
    if not isinstance(name, str) or name not in DATASETS:
        raise ConfigError("dataset.name", name, "must be one of: " + ", ".join(sorted(DATASETS)))
    return DATASETS[name]
