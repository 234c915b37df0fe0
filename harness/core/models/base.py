"""The interface every model shares, and the argument checks their constructors use.

A model is a loss with its gradient: it owns no parameters. The optimizer owns them
as a ``FlatDict`` and passes them to every call, so the model reads the arrays it is
given each time and never caches them.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping

import numpy as np

from harness.core.optim.flat import FlatDict


class Model(ABC):
    """A loss ``L(params; X, y)`` with its gradient, over parameters held in a ``FlatDict``.

    ``loss_and_grads`` returns the mean loss over the batch plus any L2 term, and
    the gradients as a ``FlatDict`` with the layout of ``params`` (same keys in the
    same order, same shapes, float64). The returned grads are one buffer that the
    model reuses: it is overwritten by the next ``loss_and_grads`` call on the same
    model, so copy it (``grads.copy()``) to keep it. For the same reason one model
    instance must not be shared between threads.

    >>> from harness.core.models import Quadratic2D
    >>> model = Quadratic2D()
    >>> params = model.init_params(np.random.default_rng(0))
    >>> loss, grads = model.loss_and_grads(params, None, None)
    >>> grads.layout == params.layout, round(loss, 2)
    (True, 6.45)
    """

    name: str
    _grads: FlatDict | None = None

    @abstractmethod
    def init_params(self, rng: np.random.Generator) -> FlatDict:
        """Fresh float64 parameters; every random draw comes from ``rng``."""

    @abstractmethod
    def loss_and_grads(
        self, params: FlatDict, X: np.ndarray | None, y: np.ndarray | None
    ) -> tuple[float, FlatDict]:
        """Mean loss over the batch (plus the L2 term) and its gradient w.r.t. ``params``."""

    def loss(self, params: FlatDict, X: np.ndarray | None, y: np.ndarray | None) -> float:
        """The loss alone; subclasses override this with a forward pass that skips backprop."""
        return self.loss_and_grads(params, X, y)[0]

    def accuracy(
        self, params: FlatDict, X: np.ndarray | None, y: np.ndarray | None
    ) -> float | None:
        """Fraction of correct labels, or ``None`` for a model that is not a classifier."""
        return None

    def _grads_like(self, params: Mapping[str, np.ndarray]) -> FlatDict:
        """The reusable grads buffer, reallocated only when the params layout changes."""
        layout = tuple((key, np.shape(value)) for key, value in params.items())
        if self._grads is None or self._grads.layout != layout:
            self._grads = FlatDict.zeros_like(params, dtype=np.float64)
        return self._grads


def l2_penalty(weight_decay: float, weights: list[np.ndarray]) -> float:
    """The weight-decay term ``(weight_decay / 2) * sum ||W||^2``.

    >>> l2_penalty(0.5, [np.ones((2, 2)), np.ones(3)])
    1.75
    """
    if weight_decay == 0.0:
        return 0.0
    return 0.5 * weight_decay * sum(float(np.vdot(W, W)) for W in weights)


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum``, else a one-line ``ValueError``.

    >>> check_int("n_classes", 3, minimum=2)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= {minimum}")
    return int(value)


def check_nonnegative(name: str, value: object) -> float:
    """``value`` as a ``float`` if it is a finite number ``>= 0``, else a one-line ``ValueError``.

    >>> check_nonnegative("weight_decay", 1e-4)
    0.0001
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number >= 0")
    return float(value)


def check_choice(name: str, value: object, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else a one-line ``ValueError``.

    >>> check_choice("activation", "tanh", ("relu", "tanh"))
    'tanh'
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {sorted(allowed)}")
    return value
