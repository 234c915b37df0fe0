"""A fully connected network with a softmax cross-entropy output."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from itertools import pairwise

import numpy as np

from harness.core.models.base import Model, check_choice, check_int, check_nonnegative, l2_penalty
from harness.core.models.losses import accuracy, cross_entropy, cross_entropy_and_grad
from harness.core.optim.flat import FlatDict


def relu(z: np.ndarray) -> np.ndarray:
    """``max(z, 0)``, overwriting ``z``."""
    return np.maximum(z, 0.0, out=z)


def relu_derivative(a: np.ndarray) -> np.ndarray:
    """``relu'(z)`` written through the output ``a = relu(z)``: 1 where ``a > 0``, else 0."""
    return a > 0.0


def tanh(z: np.ndarray) -> np.ndarray:
    """``tanh(z)``, overwriting ``z``."""
    return np.tanh(z, out=z)


def tanh_derivative(a: np.ndarray) -> np.ndarray:
    """``tanh'(z) = 1 - a^2`` written through the output ``a = tanh(z)``."""
    return 1.0 - a * a


# Each derivative takes the activation's output, so backprop needs only the stored outputs.
ACTIVATIONS = {"relu": (relu, relu_derivative), "tanh": (tanh, tanh_derivative)}

# Initial weight std = sqrt(gain / fan_in). "xavier" is the textbook's sqrt(1 / fan_in),
# not Glorot's sqrt(2 / (fan_in + fan_out)); the two agree when fan_in == fan_out.
INIT_GAIN = {"he": 2.0, "xavier": 1.0}
AUTO_INIT = {"relu": "he", "tanh": "xavier"}


def is_width(h: object) -> bool:
    """True for an integer layer width ``>= 1`` (``bool`` is not a width)."""
    return isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1


def check_hidden(hidden: int | Iterable[int]) -> tuple[int, ...]:
    """Hidden-layer widths as a tuple; one integer means one layer, ``()`` means none.

    >>> check_hidden(64), check_hidden([32, 16]), check_hidden(())
    ((64,), (32, 16), ())
    """
    widths = (hidden,) if isinstance(hidden, numbers.Integral) else hidden
    if isinstance(widths, str) or not isinstance(widths, Iterable):
        widths = (widths,)
    widths = tuple(widths)
    if not all(is_width(h) for h in widths):
        raise ValueError(f"hidden={hidden!r} is not allowed; expected a list of integers >= 1")
    return tuple(int(h) for h in widths)


class MLP(Model):
    """A multilayer perceptron ``a_l = h(a_{l-1} W_l + b_l)`` with softmax cross-entropy on top.

    With ``a_0 = X`` and logits ``z_L = a_{L-1} W_L + b_L``, the loss is
    ``L = mean_i(-log softmax(z_L)_i[y_i]) + (weight_decay / 2) sum_l ||W_l||^2``
    (biases are not decayed). Backprop starts from ``dz_L = (softmax(z_L) - onehot(y)) / N``:
    ``dW_l = a_{l-1}^T dz_l + weight_decay W_l``, ``db_l = sum_i dz_l``,
    ``dz_{l-1} = (dz_l W_l^T) * h'(z_{l-1})``.

    Weights start as ``std * N(0, 1)`` with ``std = sqrt(2 / fan_in)`` for ``"he"`` and
    ``sqrt(1 / fan_in)`` for ``"xavier"`` (the textbook's convention, not Glorot's
    ``sqrt(2 / (fan_in + fan_out))``); ``"auto"`` picks He for ReLU and Xavier for tanh.
    Biases start at zero.

    Args:
        n_features: columns of ``X``.
        n_classes: number of labels; ``y`` holds integers in ``[0, n_classes)``.
        hidden: widths of the hidden layers (an integer means one layer).
        activation: ``"relu"`` or ``"tanh"``.
        init: ``"he"``, ``"xavier"`` or ``"auto"``.
        weight_decay: L2 coefficient on the weight matrices.

    >>> model = MLP(n_features=4, n_classes=3, hidden=(8, 5))
    >>> params = model.init_params(np.random.default_rng(0))
    >>> [(key, params[key].shape) for key in params][:3]
    [('W1', (4, 8)), ('b1', (8,)), ('W2', (8, 5))]
    >>> loss, grads = model.loss_and_grads(params, np.ones((2, 4)), np.array([0, 2]))
    >>> grads.layout == params.layout
    True

    Reference: He et al. (2015), arXiv:1502.01852; Glorot & Bengio (2010), AISTATS.
    """

    name = "mlp"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int | Iterable[int] = (64,),
        activation: str = "relu",
        init: str = "auto",
        weight_decay: float = 0.0,
    ):
        self.n_features = check_int("n_features", n_features, minimum=1)
        self.n_classes = check_int("n_classes", n_classes, minimum=2)
        self.hidden = check_hidden(hidden)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.init = check_choice("init", init, ("auto", *INIT_GAIN))
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.sizes = (self.n_features, *self.hidden, self.n_classes)
        self.n_layers = len(self.sizes) - 1

    def init_params(self, rng: np.random.Generator) -> FlatDict:
        """``W_l ~ sqrt(gain / fan_in) * N(0, 1)``, ``b_l = 0``, keyed ``W1, b1, W2, ...``."""
        scheme = AUTO_INIT[self.activation] if self.init == "auto" else self.init
        arrays = {}
        for layer, (fan_in, fan_out) in enumerate(pairwise(self.sizes), start=1):
            std = math.sqrt(INIT_GAIN[scheme] / fan_in)
            arrays[f"W{layer}"] = std * rng.standard_normal((fan_in, fan_out))
            arrays[f"b{layer}"] = np.zeros(fan_out)
        return FlatDict.from_arrays(arrays, dtype=np.float64)

    def weights(self, params: FlatDict) -> list[np.ndarray]:
        """The weight matrices ``W_1 .. W_L``, the arrays that weight decay applies to."""
        return [params[f"W{layer}"] for layer in range(1, self.n_layers + 1)]

    def forward(self, params: FlatDict, X: np.ndarray) -> list[np.ndarray]:
        """Layer outputs ``[a_0 = X, a_1, ..., a_{L-1}, z_L]``; the last entry is the logits."""
        h = ACTIVATIONS[self.activation][0]
        outputs = [X]
        for layer in range(1, self.n_layers + 1):
            z = outputs[-1] @ params[f"W{layer}"] + params[f"b{layer}"]
            outputs.append(h(z) if layer < self.n_layers else z)
        return outputs

    def backward(
        self, params: FlatDict, outputs: list[np.ndarray], dz: np.ndarray, grads: FlatDict
    ) -> None:
        """Backprop ``dz = dL/dz_L`` through the layers, writing every gradient into ``grads``."""
        h_prime = ACTIVATIONS[self.activation][1]
        for layer in range(self.n_layers, 0, -1):
            W, a_prev = params[f"W{layer}"], outputs[layer - 1]
            np.matmul(a_prev.T, dz, out=grads[f"W{layer}"])
            if self.weight_decay:
                grads[f"W{layer}"] += self.weight_decay * W
            dz.sum(axis=0, out=grads[f"b{layer}"])
            if layer > 1:
                dz = dz @ W.T
                dz *= h_prime(a_prev)

    def loss_and_grads(
        self, params: FlatDict, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, FlatDict]:
        """Mean cross-entropy plus the L2 term, and its gradient (reused buffer, see ``Model``)."""
        outputs = self.forward(params, X)
        loss, dz = cross_entropy_and_grad(outputs[-1], y)
        grads = self._grads_like(params)
        self.backward(params, outputs, dz, grads)
        return loss + l2_penalty(self.weight_decay, self.weights(params)), grads

    def loss(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy plus the L2 term, without the backward pass."""
        ce = cross_entropy(self.forward(params, X)[-1], y)
        return ce + l2_penalty(self.weight_decay, self.weights(params))

    def accuracy(self, params: FlatDict, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of samples whose highest-scoring class is the label."""
        return accuracy(self.forward(params, X)[-1], y)
