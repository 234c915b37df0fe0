"""Where RMSprop's update time goes on P1's problem (a), beside the lecture in one run.

The parts, each timed as P1 times a side (``UPDATES`` consecutive updates, interleaved):

- the exact √ and ÷ of the update alone, on a block already in cache, as often as (a) has values:
  no update that keeps every result bit for bit does less arithmetic, so ``lecture ÷ this`` is the
  ceiling of ``lecture ÷ ours`` on one core;
- our compiled loop (``harness.core.optim.kernels.rmsprop``) over one flat buffer per array, as
  the FlatDict path calls it, and over one buffer allocated without numpy's huge-page advice;
- the same loop called once per key on the plain dict's own arrays, as the dict path calls it,
  without the optimizer's Python around it;
- writing one buffer of (a)'s size, the extra pass that keeping Δp costs.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from functools import partial

import numpy as np
from numba import njit

from benchmarks import lecture
from harness.core.optim import FlatDict, build_optimizer
from harness.core.optim import kernels as compiled

#: Values per cache-resident block of the √-and-÷ floor: g, h and the result take 3 × 64 KiB.
BLOCK = 8192
#: The lecture's (and our default) eps.
EPS = 1e-7
LOOP, LOOP_SMALL = "loop, one buffer", "loop, one buffer on 4 KiB pages"
LOOP_PER_KEY, ROOT_DIVIDE, WRITE = "loop per key, dict's arrays", "√ and ÷ alone", "one write"


@njit(error_model="numpy")
def _root_and_divide(g, h, out, lr, eps, passes):
    # out may alias g or h for all the compiler knows, so no pass is skipped.
    for _ in range(passes):
        for i in range(g.size):
            out[i] = lr * g[i] / (math.sqrt(h[i]) + eps)


@contextmanager
def _small_pages():
    """numpy's large allocations without its ``madvise(MADV_HUGEPAGE)`` (Linux only)."""
    multiarray = np._core.multiarray
    previous = multiarray._set_madvise_hugepage(False)
    try:
        yield
    finally:
        multiarray._set_madvise_hugepage(previous)


def floor_sides(params: dict, grads: dict, updates: int) -> dict:
    """Name → one timed sample: ``updates`` RMSprop updates, or the part of one it names."""
    hp = lecture.LECTURE["rmsprop"][1]
    lr, decay = hp["lr"], hp["decay_rate"]
    size = sum(v.size for v in params.values())

    def repeat(step):
        def sample():
            for _ in range(updates):
                step()

        return sample

    def loop(p, g, h):
        return partial(compiled.rmsprop, p, g, h, decay, 1 - decay, lr, EPS, np.empty(0))

    lecture_opt, lecture_params = lecture.RMSprop(**hp), _copy(params)
    sides = {"lecture": repeat(lambda: lecture_opt.update(lecture_params, grads))}
    flat_grads = FlatDict.from_arrays(grads)
    for name, record in (("ours (FlatDict)", False), ("ours (FlatDict, Δp kept)", True)):
        ours, flat_params = build_optimizer("rmsprop", **hp), FlatDict.from_arrays(params)
        ours.record_update = record
        sides[name] = repeat(partial(ours.update, flat_params, flat_grads))
    ours, dict_params = build_optimizer("rmsprop", **hp), _copy(params)
    ours.record_update = False
    sides["ours (dict)"] = repeat(lambda: ours.update(dict_params, grads))
    flat_p = FlatDict.from_arrays(params).flat
    sides[LOOP] = repeat(loop(flat_p, flat_grads.flat, np.zeros(size)))
    with _small_pages():
        small = [np.array(flat_p), np.array(flat_grads.flat), np.zeros(size)]
    sides[LOOP_SMALL] = repeat(loop(*small))
    own_p, h = _copy(params), np.zeros(size)
    offsets = np.cumsum([0, *(v.size for v in own_p.values())])
    per_key = [
        loop(own_p[k].reshape(-1), grads[k].reshape(-1), h[a:b])
        for k, a, b in zip(own_p, offsets[:-1], offsets[1:], strict=True)
    ]
    sides[LOOP_PER_KEY] = repeat(lambda: [step() for step in per_key])
    rng = np.random.default_rng(1)
    block = [0.01 * rng.normal(size=BLOCK), rng.random(BLOCK), np.empty(BLOCK)]
    sides[ROOT_DIVIDE] = repeat(partial(_root_and_divide, *block, lr, EPS, size // BLOCK))
    written = np.empty(size)
    sides[WRITE] = repeat(partial(written.fill, 1.0))
    return sides


def floor_note(title: str, times: dict, updates: int, size: int) -> str:
    """The parts' medians in µs per update, and what they bound."""
    us = {name: np.median(values) / updates * 1e6 for name, values in times.items()}
    us[ROOT_DIVIDE] *= size / (size // BLOCK * BLOCK)
    lecture_us = us["lecture"]
    return (
        f"rmsprop, {title}: where the time goes (median µs per update, one interleaved run): "
        f"lecture {lecture_us:.0f}; the exact √ and ÷ alone, on data in cache, "
        f"{us[ROOT_DIVIDE]:.0f} "
        f"(lecture ÷ this = {lecture_us / us[ROOT_DIVIDE]:.2f}×, the ceiling of lecture ÷ ours for "
        "any update that computes them bit for bit on one core); our compiled loop over one "
        f"buffer per array {us[LOOP]:.0f} (lecture ÷ loop {lecture_us / us[LOOP]:.2f}×), over one "
        f"buffer with numpy's huge-page advice off {us[LOOP_SMALL]:.0f}, called per key on the "
        "plain dict's own 20 arrays (each below the 4 MiB from which numpy advises huge pages) "
        f"{us[LOOP_PER_KEY]:.0f} (lecture ÷ "
        f"loop {lecture_us / us[LOOP_PER_KEY]:.2f}×); ours (FlatDict) {us['ours (FlatDict)']:.0f}, "
        f"ours (dict) {us['ours (dict)']:.0f}: the dict path's Python and dispatch around the "
        f"20 calls take {us['ours (dict)'] - us[LOOP_PER_KEY]:.0f}. Keeping Δp: "
        f"ours (FlatDict, Δp kept) {us['ours (FlatDict, Δp kept)']:.0f}, "
        f"{us['ours (FlatDict, Δp kept)'] - us['ours (FlatDict)']:.0f} above ours (FlatDict); "
        f"one write of (a)'s size alone takes {us[WRITE]:.0f}."
    )


def _copy(arrays: dict) -> dict:
    return {key: value.copy() for key, value in arrays.items()}
