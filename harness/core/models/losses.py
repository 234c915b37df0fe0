"""Softmax cross-entropy, computed through a numerically stable log-softmax."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax(z)`` row-wise, as ``z - max z - log sum exp(z - max z)`` so nothing overflows.

    >>> log_softmax(np.array([[1000.0, 1000.0]])).round(4).tolist()
    [[-0.6931, -0.6931]]
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_labels(y: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    """``y`` as an integer array of ``n_rows`` labels in ``[0, n_classes)``, else ``ValueError``.

    Negative labels would silently index from the end, so they are refused here.

    >>> check_labels([0, 2], n_rows=2, n_classes=3).tolist()
    [0, 2]
    """
    y = np.asarray(y)
    if y.shape != (n_rows,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be {n_rows} integer labels, got shape {y.shape} {y.dtype}")
    if n_rows and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y labels must lie in [0, {n_classes}), got {y.min()}..{y.max()}")
    return y


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of ``-log softmax(z)[y]``.

    >>> round(cross_entropy(np.zeros((2, 3)), np.array([0, 2])), 4)  # log(3)
    1.0986
    """
    y = check_labels(y, *logits.shape)
    log_p = log_softmax(logits)
    return -float(log_p[np.arange(len(y)), y].mean())


def cross_entropy_and_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy and ``dL/dz = (softmax(z) - onehot(y)) / N``.

    >>> loss, dz = cross_entropy_and_grad(np.zeros((2, 2)), np.array([0, 1]))
    >>> dz.tolist()
    [[-0.25, 0.25], [0.25, -0.25]]
    """
    y = check_labels(y, *logits.shape)
    rows = np.arange(len(y))
    log_p = log_softmax(logits)
    loss = -float(log_p[rows, y].mean())
    dz = np.exp(log_p, out=log_p)
    dz[rows, y] -= 1.0
    dz /= len(y)
    return loss, dz


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose largest logit is at the true label.

    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5
    """
    return float(np.mean(logits.argmax(axis=1) == np.asarray(y)))
