"""Each optimizer's update as one compiled loop over its flat arrays.

Why compiled: written as numpy expressions, an RMSprop step makes about nine passes over memory
(a temporary per operator, as in the lecture's code), and the update is memory-bound. One loop
reads ``p``, ``g`` and the state once and writes them back once (``benchmarks/`` P1 measures it).
The loops keep the lecture's operation order and numba's default strict IEEE arithmetic (no
fast-math, no fused multiply-add), so every result equals the numpy expressions' bit for bit;
``tests/test_optim.py`` checks that against the rules written out in numpy.

Every kernel also writes the applied update Δp into ``delta`` (the update ratio's numerator)
unless ``delta`` is empty; the test is hoisted out of the loop by the compiler.
Compiled on first use and cached on disk next to this file (``cache=True``), so a sweep's
later processes load the machine code instead of compiling it. This module imports numba, so
the optimizers import it only when a model of ``COMPILED_FROM`` parameters or more first
updates (``harness.core.optim.base``).
"""

from __future__ import annotations

import math

from numba import njit

from harness.core.optim.rules import adadelta_rule, amsgrad_rule

# error_model="numpy": a zero division gives inf/nan as in numpy instead of raising.
_jit = njit(cache=True, nogil=True, error_model="numpy")
# A rule written once for arrays and floats, inlined into the loop that calls it per element.
_inline = njit(inline="always", error_model="numpy")
_adadelta = _inline(adadelta_rule)
_amsgrad = _inline(amsgrad_rule)


@_jit
def sgd(p, g, lr, delta):
    keep = delta.size > 0
    for i in range(p.size):
        d = -(lr * g[i])
        if keep:
            delta[i] = d
        p[i] += d


@_jit
def momentum(p, g, v, mu, lr, delta):
    keep = delta.size > 0
    for i in range(p.size):
        vi = mu * v[i] - lr * g[i]
        v[i] = vi
        if keep:
            delta[i] = vi
        p[i] += vi


@_jit
def nesterov(p, g, v, mu, lr, delta):
    keep = delta.size > 0
    for i in range(p.size):
        lr_g = lr * g[i]
        vi = mu * v[i] - lr_g
        v[i] = vi
        d = mu * vi - lr_g
        if keep:
            delta[i] = d
        p[i] += d


@_jit
def adagrad(p, g, h, lr, eps, delta):
    keep = delta.size > 0
    for i in range(p.size):
        gi = g[i]
        hi = h[i] + gi * gi
        h[i] = hi
        step = lr * gi / (math.sqrt(hi) + eps)
        if keep:
            delta[i] = -step
        p[i] -= step


@_jit
def rmsprop(p, g, h, decay, keep_new, lr, eps, delta):
    # keep_new = 1 − decay, computed once in Python as the lecture's expression does.
    keep = delta.size > 0
    for i in range(p.size):
        gi = g[i]
        hi = decay * h[i] + keep_new * gi * gi
        h[i] = hi
        step = lr * gi / (math.sqrt(hi) + eps)
        if keep:
            delta[i] = -step
        p[i] -= step


@_jit
def adam(p, g, m, v, beta1, keep1, beta2, keep2, correct1, correct2, lr, eps, delta):
    # keep1 = 1 − β1, keep2 = 1 − β2, correct1 = 1 − β1^t, correct2 = 1 − β2^t.
    keep = delta.size > 0
    for i in range(p.size):
        gi = g[i]
        mi = beta1 * m[i] + gi * keep1
        vi = beta2 * v[i] + gi * keep2 * gi
        m[i] = mi
        v[i] = vi
        step = mi / correct1 * lr / (math.sqrt(vi / correct2) + eps)
        if keep:
            delta[i] = -step
        p[i] -= step


@_jit
def adadelta(p, g, square_avg, acc_delta, step_size, rho, lr, eps, delta):
    keep = delta.size > 0
    for i in range(p.size):
        d, square_avg[i], acc_delta[i], step_size[i] = _adadelta(
            g[i], square_avg[i], acc_delta[i], rho, lr, eps
        )
        if keep:
            delta[i] = d
        p[i] += d


@_jit
def amsgrad(p, g, m, v, v_max, beta1, beta2, correct1, sqrt_correct2, lr, eps, delta):
    keep = delta.size > 0
    for i in range(p.size):
        d, m[i], v[i], v_max[i] = _amsgrad(
            g[i], m[i], v[i], v_max[i], beta1, beta2, correct1, sqrt_correct2, lr, eps
        )
        if keep:
            delta[i] = d
        p[i] += d
