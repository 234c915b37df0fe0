"""Plain and momentum gradient descent: SGD, Momentum, Nesterov."""

from __future__ import annotations

import numpy as np

from harness.core.optim.base import Optimizer, kernels
from harness.core.optim.spec import DECAY, POSITIVE


class SGD(Optimizer):
    """Stochastic gradient descent: ``p ← p − lr·g``.

    No state. The effective step size is ``lr`` for every parameter.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([1.0, 2.0])}, {"w": np.array([1.0, -1.0])}
    >>> SGD(lr=0.5).update(params, grads)
    >>> params["w"].tolist()
    [0.5, 2.5]

    Reference: Robbins & Monro (1951), "A stochastic approximation method".
    """

    label = "SGD"
    hyperparameters = {"lr": POSITIVE}

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, p, g, s, delta):
        np.multiply(g, -self.lr, out=delta)  # Δp = −lr·g
        p += delta

    def _compiled_step(self, p, g, s, delta):
        kernels().sgd(p, g, float(self.lr), delta)


class Momentum(Optimizer):
    """Heavy-ball momentum, in the lecture's (and the textbook's) form.

    ``v ← momentum·v − lr·g``;  ``p ← p + v``.

    ``v`` starts at 0 on the first update; ``lr`` sits inside the velocity, so changing ``lr``
    mid-run rescales only new contributions. The effective step size reported is ``lr``.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([1.0])}
    >>> opt = Momentum(lr=0.1, momentum=0.9)
    >>> opt.update(params, grads); opt.update(params, grads)
    >>> round(float(params["w"][0]), 6)  # −0.1, then −0.1 + (−0.09 − 0.1)
    -0.29

    Reference: Polyak (1964), "Some methods of speeding up the convergence of iteration methods".
    """

    state_names = ("v",)
    label = "Momentum"
    hyperparameters = {"lr": POSITIVE, "momentum": DECAY}

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = momentum

    def _velocity(self, g, v, delta) -> None:
        """``v ← momentum·v − lr·g``, leaving ``lr·g`` in ``delta``."""
        v *= self.momentum
        np.multiply(g, self.lr, out=delta)
        v -= delta

    def _step(self, p, g, s, delta):
        v = s["v"]
        self._velocity(g, v, delta)
        delta[...] = v
        p += v

    def _compiled_step(self, p, g, s, delta):
        kernels().momentum(p, g, s["v"], float(self.momentum), float(self.lr), delta)


class Nesterov(Momentum):
    """Nesterov accelerated gradient in the form of Bengio et al. (2013), eq. 7.

    ``v ← momentum·v − lr·g``;  ``p ← p + momentum·v − lr·g``  (with the new ``v``).

    This is Sutskever et al.'s (2013) look-ahead momentum rewritten so that the gradient is taken
    at the stored parameters; it equals the textbook's ``p += momentum²·v_old − (1+momentum)·lr·g``
    and PyTorch's ``SGD(nesterov=True)`` up to where ``lr`` is applied. ``v`` starts at 0.

    >>> import numpy as np
    >>> params, grads = {"w": np.array([0.0])}, {"w": np.array([1.0])}
    >>> Nesterov(lr=0.1, momentum=0.9).update(params, grads)
    >>> round(float(params["w"][0]), 6)  # 0.9·(−0.1) − 0.1
    -0.19

    References: Nesterov (1983); Sutskever et al. (2013), "On the importance of initialization and
    momentum in deep learning"; Bengio, Boulanger-Lewandowski & Pascanu (2013), "Advances in
    optimizing recurrent networks".
    """

    label = "Nesterov"

    def _step(self, p, g, s, delta):
        v = s["v"]
        self._velocity(g, v, delta)
        lr_g = self._scratch(delta)
        np.copyto(lr_g, delta)
        np.multiply(v, self.momentum, out=delta)
        delta -= lr_g  # Δp = momentum·v − lr·g
        p += delta

    def _compiled_step(self, p, g, s, delta):
        kernels().nesterov(p, g, s["v"], float(self.momentum), float(self.lr), delta)
