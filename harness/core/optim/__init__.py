"""The lecture's optimizers over dicts of arrays: ``Name(**hyperparams).update(params, grads)``.

>>> import numpy as np
>>> from harness.core.optim import RMSprop
>>> params, grads = {"W": np.ones(3)}, {"W": np.full(3, 0.5)}
>>> RMSprop(lr=0.01, decay_rate=0.99).update(params, grads)
>>> bool((params["W"] < 1).all())
True
"""

from __future__ import annotations

from harness.core.optim.adaptive import AdaDelta, Adagrad, Adam, AMSGrad, RMSprop
from harness.core.optim.base import Optimizer
from harness.core.optim.flat import FlatDict
from harness.core.optim.momentum import SGD, Momentum, Nesterov

#: Config name → class. The only way a config reaches optimizer code (no import strings).
#: The order is the figures' and tables' order (``analysis.contract.OPTIMIZER_ORDER``).
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": AdaDelta,
    "adam": Adam,
    "amsgrad": AMSGrad,
}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AMSGrad",
    "AdaDelta",
    "Adagrad",
    "Adam",
    "FlatDict",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "build_optimizer",
]


def build_optimizer(name: str, **hyperparams) -> Optimizer:
    """The optimizer registered as ``name``, built with ``hyperparams``.

    >>> build_optimizer("adagrad", lr=0.1)
    Adagrad(lr=0.1, eps=1e-07)
    """
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        allowed = ", ".join(OPTIMIZERS)
        raise ValueError(f"optimizer.name={name!r} is not one of: {allowed}") from None
    return cls(**hyperparams)
