"""Update rules written once, as functions of arrays or of floats: the numpy path calls them on
whole arrays, and the loop ``harness.core.optim.kernels`` compiles and inlines them element by
element, so the two paths cannot drift apart (AdaDelta, AMSGrad). numba's disk cache is keyed on
``kernels.py`` only: after editing a rule here, touch ``kernels.py`` (the bit-for-bit test in
``tests/test_optim.py`` fails on a stale cache).
"""

from __future__ import annotations

import numpy as np


def adadelta_rule(g, square_avg, acc_delta, rho, lr, eps):
    """One AdaDelta update by ``torch.optim.Adadelta``'s conventions: Δp, E[g²], E[Δx²], step."""
    square_avg = rho * square_avg + (1 - rho) * g * g  # torch's addcmul: ((1 − ρ)·g)·g
    step_size = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps)  # E[Δx²] before the update
    dx = step_size * g
    acc_delta = rho * acc_delta + (1 - rho) * dx * dx
    return -(lr * dx), square_avg, acc_delta, lr * step_size


def amsgrad_rule(g, m, v, v_max, beta1, beta2, correct1, sqrt_correct2, lr, eps):
    """One AMSGrad update by ``torch.optim.Adam(amsgrad=True)``'s conventions: Δp, m, v, v_max.

    The conventions (ε outside the root, the maximum kept of the raw ``v``, ``lr/(1 − β1^t)``
    multiplying ``m/denominator``), not torch's operation order: torch 2.x moves ``m`` with
    ``lerp_``, so the two may differ in the last bit.
    """
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    v_max = np.maximum(v_max, v)
    denominator = np.sqrt(v_max) / sqrt_correct2 + eps
    return -(lr / correct1 * (m / denominator)), m, v, v_max
