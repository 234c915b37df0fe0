"""Per-parameter adaptive step sizes: Adagrad, RMSprop, AdaDelta, Adam, AMSGrad.

Each divides the step by the root of an accumulator of squared gradients. They differ in how
the accumulator remembers: Adagrad keeps every gradient (the jar that only fills), RMSprop keeps
an exponential moving average (the coffee blend), AdaDelta also averages its own squared steps
in place of a learning rate, Adam adds momentum and a bias correction, AMSGrad keeps the largest
average seen. Adagrad, RMSprop and Adam follow the lecture's numpy code operation for operation,
so results match it bit for bit; AdaDelta and AMSGrad follow ``torch.optim``'s conventions.

AdaDelta's and AMSGrad's rules are written once, in ``harness.core.optim.rules``.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.optim.base import Optimizer, kernels
from harness.core.optim.rules import adadelta_rule, amsgrad_rule
from harness.core.optim.spec import DECAY, EPS, POSITIVE


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
    label = "Adagrad"
    hyperparameters = {"lr": POSITIVE, "eps": EPS}

    def __init__(self, lr: float = 0.01, eps: float = 1e-7):
        super().__init__(lr, eps)

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
    label = "RMSprop"
    hyperparameters = {"lr": POSITIVE, "decay_rate": DECAY.naming("α", "a"), "eps": EPS}

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7):
        super().__init__(lr, eps)
        self.decay_rate = decay_rate

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
    label = "Adam"
    hyperparameters = {"lr": POSITIVE, "beta1": DECAY, "beta2": DECAY, "eps": EPS}

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

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


class AdaDelta(Optimizer):
    """AdaDelta (Zeiler, 2012), as ``torch.optim.Adadelta``:

    ``E[g²] ← ρ·E[g²] + (1 − ρ)·g²``;  ``Δx = √(E[Δx²] + eps) / √(E[g²] + eps) · g``;
    ``E[Δx²] ← ρ·E[Δx²] + (1 − ρ)·Δx²``;  ``p ← p − lr·Δx``.

    The other cure for Adagrad's stall: the step is a ratio of two moving averages, so it has
    the units of the parameters and needs no learning rate (``lr`` = 1 is Zeiler's; PyTorch
    keeps ``lr`` as a factor on Δx). Both averages start at 0 and are not bias-corrected;
    ``eps`` (default 1e-6) sits inside both roots, and the numerator's average is the one from
    before this update. The first step is therefore ``lr·√eps/√((1 − ρ)g² + eps)·g``, tiny.
    The effective step reported is ``lr·√(E[Δx²] + eps)/√(E[g²] + eps)`` of the last update,
    the accumulator ``E[g²]``.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([1.0])}
    >>> opt = AdaDelta(rho=0.5, eps=1e-6)
    >>> opt.update(params, grads)
    >>> round(float(params["w"][0]), 6)  # −√1e-6/√(0.5 + 1e-6)
    -0.001414

    Reference: Zeiler (2012), "ADADELTA: An adaptive learning rate method", arXiv:1212.5701.
    """

    state_names = ("square_avg", "acc_delta", "step_size")
    label = "AdaDelta"
    hyperparameters = {"lr": POSITIVE, "rho": DECAY.naming("ρ", "rho"), "eps": EPS}

    def __init__(self, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6):
        super().__init__(lr)
        self.rho, self.eps = rho, eps

    def _step(self, p, g, s, delta):
        rule = adadelta_rule(g, s["square_avg"], s["acc_delta"], self.rho, self.lr, self.eps)
        delta[...], s["square_avg"][...], s["acc_delta"][...], s["step_size"][...] = rule
        p += delta

    def _compiled_step(self, p, g, s, delta):
        kernels().adadelta(
            p, g, s["square_avg"], s["acc_delta"], s["step_size"],
            float(self.rho), float(self.lr), float(self.eps), delta,
        )  # fmt: skip

    def effective_lr(self):
        return self.state["step_size"].flat

    def accumulator(self):
        return self.state["square_avg"].flat


class AMSGrad(Adam):
    """AMSGrad (Reddi, Kale & Kumar, 2018), as ``torch.optim.Adam(amsgrad=True)``:

    ``m ← β1·m + (1 − β1)·g``;  ``v ← β2·v + (1 − β2)·g²``;  ``v_max ← max(v_max, v)``;
    ``p ← p − lr/(1 − β1^t) · m / (√v_max/√(1 − β2^t) + eps)``.

    Adam that never lets its denominator shrink: it divides by the largest second-moment
    average so far. As in PyTorch, the maximum is kept of the raw ``v`` (not of ``v̂``) and
    corrected by today's ``√(1 − β2^t)``; ``eps`` (default 1e-8) is added outside that root;
    ``lr/(1 − β1^t)`` multiplies ``m/denominator``. ``m``, ``v``, ``v_max`` start at 0; ``t``
    counts updates from 1. The effective step reported is ``lr/(√v_max/√(1 − β2^t) + eps)``
    (Adam's, with ``v_max``); the accumulator is ``v_max``.

    >>> import numpy as np
    >>> params = {"w": np.array([0.0])}
    >>> opt = AMSGrad(lr=0.1)
    >>> opt.update(params, {"w": np.array([5.0])})  # the first step is ±lr, as Adam's
    >>> opt.update(params, {"w": np.array([0.0])})  # v shrinks, v_max does not
    >>> round(float(params["w"][0]), 6), bool(opt.state["v_max"]["w"][0] > opt.state["v"]["w"][0])
    (-0.166972, True)

    Reference: Reddi, Kale & Kumar (2018), "On the convergence of Adam and beyond", ICLR.
    """

    state_names = ("m", "v", "v_max")
    label = "AMSGrad"

    def _corrections(self) -> tuple[float, float]:
        """``1 − β1^t`` and ``√(1 − β2^t)`` of the current update."""
        return 1 - self.beta1**self.t, math.sqrt(1 - self.beta2**self.t)

    def _step(self, p, g, s, delta):
        rule = amsgrad_rule(
            g, s["m"], s["v"], s["v_max"], self.beta1, self.beta2, *self._corrections(),
            self.lr, self.eps,
        )  # fmt: skip
        delta[...], s["m"][...], s["v"][...], s["v_max"][...] = rule
        p += delta

    def _compiled_step(self, p, g, s, delta):
        correct1, sqrt_correct2 = self._corrections()
        kernels().amsgrad(
            p, g, s["m"], s["v"], s["v_max"], float(self.beta1), float(self.beta2),
            correct1, sqrt_correct2, float(self.lr), float(self.eps), delta,
        )  # fmt: skip

    def effective_lr(self):
        sqrt_correct2 = math.sqrt(1 - self.beta2 ** max(self.t, 1))
        return self.lr / (np.sqrt(self.state["v_max"].flat) / sqrt_correct2 + self.eps)

    def accumulator(self):
        return self.state["v_max"].flat
