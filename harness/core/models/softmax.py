"""Multinomial logistic regression."""

from __future__ import annotations

import numpy as np

from harness.core.models.base import Model, check_int, check_nonnegative, l2_penalty
from harness.core.models.losses import accuracy, cross_entropy, cross_entropy_and_grad
from harness.core.optim.flat import FlatDict


class SoftmaxRegression(Model):
    """Softmax regression ``p = softmax(X W + b)`` trained on cross-entropy.

    ``L = mean_i(-log p_i[y_i]) + (weight_decay / 2) ||W||^2`` (the bias is not decayed),
    so ``dL/dW = X^T (p - onehot(y)) / N + weight_decay W`` and
    ``dL/db = sum_i (p_i - onehot(y_i)) / N``. ``W`` starts as ``init_std`` times a
    standard normal draw and ``b`` at zero.

    Args:
        n_features: columns of ``X``.
        n_classes: number of labels; ``y`` holds integers in ``[0, n_classes)``.
        weight_decay: L2 coefficient on ``W``.
        init_std: standard deviation of the initial weights.

    >>> model = SoftmaxRegression(n_features=2, n_classes=3)
    >>> params = model.init_params(np.random.default_rng(0))
    >>> loss, grads = model.loss_and_grads(params, np.ones((4, 2)), np.array([0, 1, 2, 0]))
    >>> [(key, grads[key].shape) for key in grads], round(loss, 2)
    ([('W', (2, 3)), ('b', (3,))], 1.1)
    """

    name = "softmax"

    def __init__(
        self, n_features: int, n_classes: int, weight_decay: float = 0.0, init_std: float = 0.01
    ):
        self.n_features = check_int("n_features", n_features, minimum=1)
        self.n_classes = check_int("n_classes", n_classes, minimum=2)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.init_std = check_nonnegative("init_std", init_std)

    def init_params(self, rng: np.random.Generator) -> FlatDict:
        """``W ~ init_std * N(0, 1)``, ``b = 0``."""
        W = self.init_std * rng.standard_normal((self.n_features, self.n_classes))
        return FlatDict.from_arrays({"W": W, "b": np.zeros(self.n_classes)}, dtype=np.float64)

    def logits(self, params: FlatDict, X: np.ndarray) -> np.ndarray:
        """``z = X W + b``, one row of class scores per sample."""
        return X @ params["W"] + params["b"]

    def loss_and_grads(
        self, params: FlatDict, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, FlatDict]:
        """Mean cross-entropy plus the L2 term, and its gradient (reused buffer, see ``Model``)."""
        W = params["W"]
        loss, dz = cross_entropy_and_grad(self.logits(params, X), y)
        grads = self._grads_like(params)
        np.matmul(X.T, dz, out=grads["W"])
        if self.weight_decay:
            grads["W"] += self.weight_decay * W
        dz.sum(axis=0, out=grads["b"])
        return loss + l2_penalty(self.weight_decay, [W]), grads

    def loss(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy plus the L2 term, without the backward pass."""
        ce = cross_entropy(self.logits(params, X), y)
        return ce + l2_penalty(self.weight_decay, [params["W"]])

    def accuracy(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of samples whose highest-scoring class is the label."""
        return accuracy(self.logits(params, X), y)
