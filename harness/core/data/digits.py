"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), no download.

Importing ``sklearn.datasets`` costs more than a 2000-step job trains (``python -X importtime``
shows it), and every job process would pay it; so the arrays are cached
(``harness.core.data.cache``) as ``digits-sklearn<version>.npz`` on first use and read back.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version

import numpy as np

from harness.core.data.cache import cache_dir, read_npz, save_npz_atomic
from harness.core.data.dataset import Dataset
from harness.core.data.prepare import Split, build_dataset
from harness.core.data.spec import loader


@loader(task="classification")
def load_digits(
    split: Split,
    *,
    standardize: bool = True,
) -> Dataset:
    """The digits as 64 pixel features (0..16 before standardization), stratified split.

    The images are fixed; ``seed`` only draws the split.

    >>> load_digits()
    Dataset(name='digits', task='classification', n_train=1151, n_val=287, n_test=359, n_features=64, n_classes=10, shift_step=None)
    """  # noqa: E501
    X, y = cached_digits()
    return build_dataset(
        "digits",
        X,
        y,
        n_classes=10,
        split=split,
        standardize=standardize,
    )


def cached_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits ``(X, y)``, from the cache when present, else loaded and stored.

    An unwritable cache folder only costs the import again next time.
    """
    path = cache_dir() / f"digits-sklearn{version('scikit-learn')}.npz"
    cached = read_npz(path)
    if cached is not None and {"X", "y"} <= cached.keys():
        return cached["X"], cached["y"]
    from sklearn.datasets import load_digits as sklearn_load_digits

    X, y = sklearn_load_digits(return_X_y=True)
    with contextlib.suppress(OSError):
        save_npz_atomic(path, X=X, y=y)
    return X, y
