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
import os
import resource
from contextlib import contextmanager
from functools import partial

import numpy as np
from numba import njit

from benchmarks import lecture
from benchmarks.timing import Ratio
from harness.core.optim import FlatDict, build_optimizer
from harness.core.optim import kernels as compiled

#: Values per cache-resident block of the √-and-÷ floor: g, h and the result take 3 × 64 KiB.
BLOCK = 8192
#: The lecture's (and our default) eps.
EPS = 1e-7
LOOP, LOOP_SMALL = "loop, one buffer", "loop, one buffer, no huge-page advice"
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
    """Each part as ``lecture ÷ part`` (the median of per-repeat ratios) and its µs per update."""
    times = dict(times)
    times[ROOT_DIVIDE] = [t * size / (size // BLOCK * BLOCK) for t in times[ROOT_DIVIDE]]

    def part(name: str) -> str:
        ratio = Ratio.of(times["lecture"], times[name]).median
        return f"{ratio:.2f}× ({np.median(times[name]) / updates * 1e6:.0f} µs)"

    kept = Ratio.of(times["ours (FlatDict, Δp kept)"], times["ours (FlatDict)"]).median
    write = Ratio.of(times[WRITE], times["ours (FlatDict)"]).median
    lecture_us = np.median(times["lecture"]) / updates * 1e6
    return (
        f"rmsprop, {title}: where the time goes, each part as lecture ÷ part (median of the "
        f"per-repeat ratios; the lecture took {lecture_us:.0f} µs per update). The exact √ and ÷ "
        f"alone, on data in cache: {part(ROOT_DIVIDE)}, the ceiling of lecture ÷ ours for any "
        "update that computes them bit for bit on one core. Our compiled loop over one buffer "
        f"per array: {part(LOOP)}; the same with numpy's huge-page advice off: "
        f"{part(LOOP_SMALL)}; called per key on the plain dict's own 20 arrays (each below the "
        f"4 MiB from which numpy advises huge pages): {part(LOOP_PER_KEY)}, the ceiling of the "
        f"dict path. The whole update: ours (FlatDict) {part('ours (FlatDict)')}, ours (dict) "
        f"{part('ours (dict)')}. Keeping Δp makes ours (FlatDict) {kept:.2f}× as long; one write "
        f"of (a)'s size alone takes {write:.2f}× as long as ours (FlatDict)."
    )


def kernel_time(sample, runs: int = 5) -> tuple[float, float]:
    """``sample``'s share of processor time spent in the kernel, and its page faults per run."""
    before, faults = os.times(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(runs):
        sample()
    after = os.times()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / runs
    system, user = after.system - before.system, after.user - before.user
    return (system / (system + user) if system + user else 0.0), faults


def _copy(arrays: dict) -> dict:
    return {key: value.copy() for key, value in arrays.items()}
