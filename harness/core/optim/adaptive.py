"""Per-parameter adaptive step sizes: Adagrad, RMSprop, Adam.

Each divides the step by the root of an accumulator of squared gradients. They differ in how
the accumulator remembers: Adagrad keeps every gradient (the jar that only fills), RMSprop keeps
an exponential moving average (the coffee blend), Adam adds momentum and a bias correction.
The operation order follows the lecture's numpy code, so results match it bit for bit.
"""

from __future__ import annotations

import numpy as np

from harness.core.optim.base import Optimizer, kernels


class _RootScaled(Optimizer):
    """Shared step ``p ← p − lr·g / (√h + eps)``, the denominator in a preallocated buffer."""

    def __init__(self, lr: float, eps: float):
        super().__init__(lr)
        self.eps = eps

    def _apply(self, p, g, h, delta):
        denominator = self._scratch(delta)
        np.multiply(g, self.lr, out=delta)  # lr·g
        np.sqrt(h, out=denominator)
        denominator += self.eps
        delta /= denominator
        p -= delta  # p = p − lr·g / (√h + eps)
        np.negative(delta, out=delta)  # keep Δp for update_ratio

    def effective_lr(self):
        return self.lr / (np.sqrt(self.state["h"].flat) + self.eps)

    def accumulator(self):
        return self.state["h"].flat


class Adagrad(_RootScaled):
    """Adagrad: ``h ← h + g²``;  ``p ← p − lr·g / (√h + eps)``.

    ``h`` starts at 0 on the first update and only grows (the jar that fills), so the effective
    step ``lr/(√h + eps)`` shrinks like ``t^(−1/2)`` under gradients of steady size. ``eps`` is
    added outside the root, as in the lecture (default 1e-7). With constant gradient ``g`` the
    step at update ``t`` moves ``lr·g / (|g|·√t + eps)``.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([2.0])}
    >>> opt = Adagrad(lr=1.0, eps=0.0)
    >>> for _ in range(4): opt.update(params, grads)
    >>> round(float(params["w"][0]), 6)  # −(1 + 1/√2 + 1/√3 + 1/2)
    -2.784457

    Reference: Duchi, Hazan & Singer (2011), "Adaptive subgradient methods for online learning
    and stochastic optimization", JMLR 12.
    """

    state_names = ("h",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7):
        super().__init__(lr, eps)

    def hyperparams(self):
        return {"lr": self.lr, "eps": self.eps}

    def _step(self, p, g, s, delta):
        h = s["h"]
        np.multiply(g, g, out=delta)
        h += delta  # h = h + g²
        self._apply(p, g, h, delta)

    def _compiled_step(self, p, g, s, delta):
        kernels().adagrad(p, g, s["h"], float(self.lr), float(self.eps), delta)


class RMSprop(_RootScaled):
    """RMSprop: ``h ← decay_rate·h + (1 − decay_rate)·g²``;  ``p ← p − lr·g / (√h + eps)``.

    The coffee blend: keep ``decay_rate`` (α) of yesterday's blend, add ``1 − α`` of today's
    squared gradient. ``h`` starts at 0 and is not bias-corrected, so the first steps are larger
    than ``lr`` (by up to ``1/√(1 − α)``), as in the lecture and in Keras/PyTorch. ``eps`` is added
    outside the root (default 1e-7, the lecture's). With constant gradient ``g``,
    ``h_t = (1 − α^t)·g²``.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([3.0])}
    >>> opt = RMSprop(lr=0.1, decay_rate=0.5, eps=0.0)
    >>> opt.update(params, grads)
    >>> float(opt.state["h"]["w"][0]), round(float(params["w"][0]), 6)  # h = 0.5·9
    (4.5, -0.141421)

    Reference: Tieleman & Hinton (2012), COURSERA: Neural Networks for Machine Learning,
    lecture 6.5.
    """

    state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7):
        super().__init__(lr, eps)
        self.decay_rate = decay_rate

    def hyperparams(self):
        return {"lr": self.lr, "decay_rate": self.decay_rate, "eps": self.eps}

    def _step(self, p, g, s, delta):
        h = s["h"]
        h *= self.decay_rate
        np.multiply(g, 1 - self.decay_rate, out=delta)
        delta *= g
        h += delta  # h = α·h + (1 − α)·g²
        self._apply(p, g, h, delta)

    def _compiled_step(self, p, g, s, delta):
        decay = float(self.decay_rate)
        kernels().rmsprop(p, g, s["h"], decay, 1 - decay, float(self.lr), float(self.eps), delta)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1).

    ``m ← β1·m + (1 − β1)·g``;  ``v ← β2·v + (1 − β2)·g²``;
    ``m̂ = m/(1 − β1^t)``;  ``v̂ = v/(1 − β2^t)``;  ``p ← p − lr·m̂ / (√v̂ + eps)``.

    ``m`` and ``v`` start at 0; both are bias-corrected; ``eps`` (default 1e-8) is added outside
    the root of ``v̂``; ``t`` counts updates from 1. Momentum plus RMSprop's denominator.
    The effective step size reported is ``lr/(√v̂ + eps)``; the accumulator is ``v``.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([5.0])}
    >>> Adam(lr=0.1).update(params, grads)  # the first step is ±lr whatever the gradient's size
    >>> round(float(params["w"][0]), 6)
    -0.1

    Reference: Kingma & Ba (2015), "Adam: A method for stochastic optimization", ICLR.
    """

    state_names = ("m", "v")

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyperparams(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _step(self, p, g, s, delta):
        m, v = s["m"], s["v"]
        denominator = self._scratch(delta)
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=delta)
        m += delta  # m = β1·m + (1 − β1)·g
        v *= self.beta2
        np.multiply(g, 1 - self.beta2, out=delta)
        delta *= g
        v += delta  # v = β2·v + (1 − β2)·g²
        np.divide(v, 1 - self.beta2**self.t, out=denominator)
        np.sqrt(denominator, out=denominator)
        denominator += self.eps  # √v̂ + eps
        np.divide(m, 1 - self.beta1**self.t, out=delta)
        delta *= self.lr
        delta /= denominator
        p -= delta  # p = p − lr·m̂ / (√v̂ + eps)
        np.negative(delta, out=delta)

    def _compiled_step(self, p, g, s, delta):
        beta1, beta2 = float(self.beta1), float(self.beta2)
        kernels().adam(
            p, g, s["m"], s["v"], beta1, 1 - beta1, beta2, 1 - beta2,
            1 - beta1**self.t, 1 - beta2**self.t, float(self.lr), float(self.eps), delta,
        )  # fmt: skip

    def effective_lr(self):
        v_hat = self.state["v"].flat / (1 - self.beta2 ** max(self.t, 1))
        return self.lr / (np.sqrt(v_hat) + self.eps)

    def accumulator(self):
        return self.state["v"].flat
