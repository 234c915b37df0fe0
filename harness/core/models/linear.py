"""Least-squares linear regression."""

from __future__ import annotations

import numpy as np

from harness.core.models.base import Model, check_int, check_nonnegative, l2_penalty
from harness.core.optim.flat import FlatDict


class LinearRegression(Model):
    """Linear regression ``y_hat = X W + b`` on half the mean squared error.

    ``L = 0.5 mean_i (y_hat_i - y_i)^2 + (weight_decay / 2) ||W||^2`` (the bias is not
    decayed), so with residuals ``r = y_hat - y``: ``dL/dW = X^T r / N + weight_decay W``
    and ``dL/db = mean(r)``. ``W`` starts as ``init_std`` times a standard normal draw
    and ``b`` at zero.

    Args:
        n_features: columns of ``X``.
        weight_decay: L2 coefficient on ``W``.
        init_std: standard deviation of the initial weights.

    >>> model = LinearRegression(n_features=2, init_std=0.0)
    >>> params = model.init_params(np.random.default_rng(0))
    >>> loss, grads = model.loss_and_grads(params, np.ones((3, 2)), np.full(3, 2.0))
    >>> loss, grads["W"].tolist(), grads["b"].item()
    (2.0, [-2.0, -2.0], -2.0)
    """

    name = "linear"

    def __init__(self, n_features: int, weight_decay: float = 0.0, init_std: float = 0.01):
        self.n_features = check_int("n_features", n_features, minimum=1)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.init_std = check_nonnegative("init_std", init_std)

    def init_params(self, rng: np.random.Generator) -> FlatDict:
        """``W ~ init_std * N(0, 1)`` with shape ``(n_features,)``, ``b = 0`` with shape ``()``."""
        W = self.init_std * rng.standard_normal(self.n_features)
        return FlatDict.from_arrays({"W": W, "b": np.array(0.0)}, dtype=np.float64)

    def predict(self, params: FlatDict, X: np.ndarray) -> np.ndarray:
        """``y_hat = X W + b``."""
        return X @ params["W"] + params["b"]

    def residuals(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``r = y_hat - y``; refuses a ``y`` whose shape would broadcast into a matrix."""
        y_hat = self.predict(params, X)
        if np.shape(y) != y_hat.shape:
            raise ValueError(f"y must have shape {y_hat.shape}, got {np.shape(y)}")
        return y_hat - y

    def loss_and_grads(
        self, params: FlatDict, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, FlatDict]:
        """Half the MSE plus the L2 term, and its gradient (reused buffer, see ``Model``)."""
        W = params["W"]
        r = self.residuals(params, X, y)
        grads = self._grads_like(params)
        np.matmul(X.T, r, out=grads["W"])
        grads["W"] /= len(r)
        if self.weight_decay:
            grads["W"] += self.weight_decay * W
        grads["b"] = r.mean()
        return 0.5 * float(np.mean(r**2)) + l2_penalty(self.weight_decay, [W]), grads

    def loss(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> float:
        """Half the MSE plus the L2 term, without the gradient."""
        r = self.residuals(params, X, y)
        return 0.5 * float(np.mean(r**2)) + l2_penalty(self.weight_decay, [params["W"]])
