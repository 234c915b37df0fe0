"""The lecture's optimizers, as the textbook writes them: a Python loop over the dict's keys.

This is P1's baseline, copied into the benchmark on purpose (not imported from the harness):
each update is written straight from its rule, one numpy expression per key, temporaries and
all. Conventions match ``harness.core.optim`` (state starts at 0 on the first update, ``eps``
outside the root, Adam bias-corrected as in Kingma & Ba), so both give the same numbers.
"""

# ruff: noqa: SIM118  (the textbook loops over params.keys(); the copy keeps its style)
from __future__ import annotations

import numpy as np


class SGD:
    """``p ← p − lr·g``."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum:
    """``v ← momentum·v − lr·g``;  ``p ← p + v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class AdaGrad:
    """``h ← h + g²``;  ``p ← p − lr·g / (√h + 1e-7)``."""

    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    """``h ← decay_rate·h + (1 − decay_rate)·g²``;  ``p ← p − lr·g / (√h + 1e-7)``."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """``m ← β1·m + (1 − β1)·g``; ``v ← β2·v + (1 − β2)·g²``; ``p ← p − lr·m̂ / (√v̂ + eps)``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        for key in params.keys():
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * grads[key]
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * grads[key] ** 2
            m_hat = self.m[key] / (1 - self.beta1**self.iter)
            v_hat = self.v[key] / (1 - self.beta2**self.iter)
            params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


#: harness.core.optim's registry name → the lecture's class and the hyperparameters both get.
LECTURE = {
    "sgd": (SGD, {"lr": 0.01}),
    "momentum": (Momentum, {"lr": 0.01, "momentum": 0.9}),
    "adagrad": (AdaGrad, {"lr": 0.01}),
    "rmsprop": (RMSprop, {"lr": 0.01, "decay_rate": 0.99}),
    "adam": (Adam, {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
}
