"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), no download."""

from __future__ import annotations

from harness.data.checks import check_bool, check_fraction
from harness.data.dataset import Dataset
from harness.data.prepare import build_dataset, seeded_rngs


def load_digits(*, seed: int = 0, val_fraction: float = 0.2, standardize: bool = True) -> Dataset:
    """The digits as 64 pixel features (0..16 before standardization), stratified split.

    The images are fixed; ``seed`` only draws the split.

    >>> load_digits()
    Dataset(name='digits', task='classification', n_train=1438, n_val=359, n_features=64, n_classes=10, shift_step=None)
    """  # noqa: E501
    from sklearn.datasets import load_digits as sklearn_load_digits  # 1.6 s import: only here

    X, y = sklearn_load_digits(return_X_y=True)
    _, split_rng = seeded_rngs(seed)
    return build_dataset(
        "digits",
        X,
        y,
        n_classes=10,
        split_rng=split_rng,
        val_fraction=check_fraction("dataset.val_fraction", val_fraction),
        standardize=check_bool("dataset.standardize", standardize),
    )
