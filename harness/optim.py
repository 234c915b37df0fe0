"""The optimizers' public names, as ``from harness.optim import RMSprop``; they live in
:mod:`harness.core.optim`."""

from harness.core.optim import (
    OPTIMIZERS,
    SGD,
    AdaDelta,
    Adagrad,
    Adam,
    AMSGrad,
    FlatDict,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    build_optimizer,
)

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
