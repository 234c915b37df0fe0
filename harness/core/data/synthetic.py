"""Synthetic data sets made from a seed: ``spirals``, ``blobs`` and ``linreg``.

Each ``make_*`` returns raw arrays from a ``Generator``; each ``load_*`` declares its options
in its signature (``harness.core.data.spec`` checks them before the body runs) and hands the
arrays to ``build_dataset``.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from harness.core.data.checks import Range
from harness.core.data.dataset import Dataset
from harness.core.data.prepare import Split, build_dataset
from harness.core.data.spec import Rule, loader

SPIRAL_TURNS = 1.5


def make_spirals(
    rng: np.random.Generator, n_samples: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals, arm ``c`` rotated by ``c * pi``, plus Gaussian ``noise``.

    A point at fraction ``t`` of its arm sits at radius ``t`` and angle
    ``2 pi * SPIRAL_TURNS * t``; ``t = sqrt(u)`` spreads points evenly over the area.

    >>> X, y = make_spirals(np.random.default_rng(0), 6, noise=0.0)
    >>> X.shape, y.tolist(), bool(np.all(np.hypot(*X.T) <= 1.0))
    ((6, 2), [0, 1, 0, 1, 0, 1], True)
    """
    labels = np.arange(n_samples) % 2
    t = np.sqrt(rng.random(n_samples))
    angle = 2.0 * np.pi * SPIRAL_TURNS * t + np.pi * labels
    X = t[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    return X + noise * rng.standard_normal(X.shape), labels


def random_rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix, signs fixed).

    >>> Q = random_rotation(np.random.default_rng(0), 3)
    >>> bool(np.allclose(Q @ Q.T, np.eye(3)))
    True
    """
    Q, R = np.linalg.qr(rng.standard_normal((dim, dim)))
    return Q * np.sign(np.diag(R))


def make_linreg(
    rng: np.random.Generator, n_samples: int, n_features: int, condition_number: float, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian features with covariance ``Q diag(s) Q^T`` and targets ``X w* + noise * eps``.

    The spectrum ``s`` runs geometrically from 1 down to ``1 / condition_number``, so the
    population covariance (the Hessian of the mean squared error) has exactly that
    condition number; ``Q`` is a random rotation so no axis is special. Returns
    ``(X, y, w_star)``.

    >>> X, y, w_star = make_linreg(np.random.default_rng(0), 5, 3, 100.0, noise=0.0)
    >>> X.shape, bool(np.allclose(y, X @ w_star))
    ((5, 3), True)
    """
    spectrum = np.geomspace(1.0, 1.0 / condition_number, n_features)
    rotation = random_rotation(rng, n_features)
    X = (rng.standard_normal((n_samples, n_features)) * np.sqrt(spectrum)) @ rotation.T
    w_star = rng.standard_normal(n_features)
    y = X @ w_star + noise * rng.standard_normal(n_samples)
    return X, y, w_star


@loader(task="classification")
def load_spirals(
    split: Split,
    *,
    n_samples: Annotated[int, Range(10)] = 1000,
    noise: Annotated[float, Range(0)] = 0.2,
    standardize: bool = True,
) -> Dataset:
    """Two interleaved noisy spirals: 2 features, 2 classes (see ``make_spirals``).

    >>> load_spirals(n_samples=100)
    Dataset(name='spirals', task='classification', n_train=64, n_val=16, n_test=20, n_features=2, n_classes=2, shift_step=None)
    """  # noqa: E501
    X, y = make_spirals(split.make_rng(), n_samples, noise)
    return build_dataset(
        "spirals",
        X,
        y,
        n_classes=2,
        split=split,
        standardize=standardize,
    )


@loader(
    task="classification",
    rules=[
        Rule(
            "n_samples",
            lambda o: o["n_samples"] >= 5 * o["n_classes"],
            "must be at least 5 per class: >= 5 x dataset.n_classes={n_classes}",
        )
    ],
)
def load_blobs(
    split: Split,
    *,
    n_samples: Annotated[int, Range(10)] = 1000,
    n_classes: Annotated[int, Range(2)] = 4,
    n_features: Annotated[int, Range(1)] = 10,
    cluster_std: Annotated[float, Range(0, open=True)] = 2.0,
    standardize: bool = True,
) -> Dataset:
    """Isotropic Gaussian blobs, one per class (scikit-learn's ``make_blobs``).

    >>> load_blobs(n_samples=60, n_classes=3, n_features=4).n_features
    4
    """
    from sklearn.datasets import make_blobs  # imported here: sklearn is slow to import

    X, y = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_classes,
        cluster_std=cluster_std,
        random_state=int(split.make_rng().integers(2**32 - 1)),
    )
    return build_dataset(
        "blobs",
        X,
        y,
        n_classes=n_classes,
        split=split,
        standardize=standardize,
    )


@loader(task="regression")
def load_linreg(
    split: Split,
    *,
    n_samples: Annotated[int, Range(10)] = 1000,
    n_features: Annotated[int, Range(1)] = 20,
    condition_number: Annotated[float, Range(1)] = 100.0,
    noise: Annotated[float, Range(0)] = 0.1,
    standardize: bool = False,
) -> Dataset:
    """Linear regression whose feature covariance has condition number ``condition_number``.

    Not standardized by default: per-feature standardization would rescale the
    spectrum and undo the conditioning under study. ``meta["w_star"]`` holds the true
    weights (the noise-free minimizer; there is no intercept).

    >>> ds = load_linreg(n_samples=50, n_features=3)
    >>> ds.task, ds.n_classes, ds.y_train.dtype, ds.meta["w_star"].shape
    ('regression', None, dtype('float64'), (3,))
    """
    X, y, w_star = make_linreg(split.make_rng(), n_samples, n_features, condition_number, noise)
    meta = {"w_star": w_star, "condition_number": condition_number}
    return build_dataset(
        "linreg",
        X,
        y,
        n_classes=None,
        split=split,
        standardize=standardize,
        meta=meta,
    )
