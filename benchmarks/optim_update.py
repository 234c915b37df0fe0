"""P1 — one optimizer update: ``harness.core.optim`` against the lecture's dict loop (and torch).

Problems: (a) the parameter dict of a 10-layer MLP of width 256 (W and b per layer, 657,920
float64 values in 20 arrays), (b) one array of 1,000,000 float64 values, and for reference (c)
the lab's default digits MLP (64-64-10: 4,810 values in 4 arrays). Each side keeps its own
parameters and state; a timed sample is a number of consecutive updates with a fixed gradient.
Before timing, every side is checked to compute the same update as ours.
"""

from __future__ import annotations

from functools import partial
from itertools import pairwise
from pathlib import Path

import numpy as np

from benchmarks import lecture
from benchmarks.optim_floor import floor_note, floor_sides, kernel_time
from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave
from harness.core.optim import FlatDict, build_optimizer
from harness.core.optim.base import COMPILED_FROM

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
WIDTH, LAYERS, BIG = 256, 10, 1_000_000
DIGITS_SIZES = (64, 64, 10)
GOALS = {"mlp": 3.0, "big": 2.5, "digits": None}
#: The lecture's own code is RMSprop; the other classes in ``lecture.py`` are its style.
LECTURE_CLASS = "rmsprop"
PROBLEMS = {
    "mlp": f"(a) {LAYERS}-layer MLP, width {WIDTH}",
    "big": f"(b) one {BIG:,}-element array",
    "digits": "(c) digits MLP 64-64-10",
}
#: Updates per timed sample: tens of milliseconds on every side.
UPDATES = {"mlp": 10, "big": 10, "digits": 500}


def make_problem(name: str, rng: np.random.Generator) -> tuple[dict, dict]:
    """Parameters and gradients as plain dicts of float64 arrays."""
    if name == "big":
        shapes = {"w": (BIG,)}
    elif name == "digits":
        shapes = {}
        for layer, (fan_in, fan_out) in enumerate(pairwise(DIGITS_SIZES), 1):
            shapes[f"W{layer}"], shapes[f"b{layer}"] = (fan_in, fan_out), (fan_out,)
    else:
        shapes = {}
        for layer in range(1, LAYERS + 1):
            shapes[f"W{layer}"], shapes[f"b{layer}"] = (WIDTH, WIDTH), (WIDTH,)
    params = {key: rng.normal(size=shape) for key, shape in shapes.items()}
    grads = {key: 0.01 * rng.normal(size=shape) for key, shape in shapes.items()}
    return params, grads


def make_sides(optimizer: str, params: dict, grads: dict, with_torch: bool) -> dict:
    """Name → (update function, parameters it moves as a dict of numpy arrays)."""
    cls, hyperparams = lecture.LECTURE[optimizer]
    sides = {}
    lecture_opt = cls(**hyperparams)
    lecture_params = _copy(params)
    sides["lecture"] = (lambda: lecture_opt.update(lecture_params, grads), lecture_params)
    flat_grads = FlatDict.from_arrays(grads)
    for name, record in (("ours (FlatDict)", False), ("ours (FlatDict, Δp kept)", True)):
        ours = build_optimizer(optimizer, **hyperparams)
        ours.record_update = record
        flat_params = FlatDict.from_arrays(params)
        sides[name] = (partial(ours.update, flat_params, flat_grads), flat_params)
    ours_dict = build_optimizer(optimizer, **hyperparams)
    ours_dict.record_update = False
    dict_params = _copy(params)
    sides["ours (dict)"] = (lambda: ours_dict.update(dict_params, grads), dict_params)
    if with_torch:
        from benchmarks.torch_side import torch_side

        for foreach in (False, True):
            name = "torch.optim" + (" foreach" if foreach else "")
            sides[name] = torch_side(optimizer, hyperparams, params, grads, foreach)
    return sides


def _copy(arrays: dict) -> dict:
    return {key: value.copy() for key, value in arrays.items()}


def check_same(sides: dict, steps: int = 3) -> None:
    """Every side's parameters after ``steps`` updates equal ours (FlatDict) to 1e-9."""
    for update, _ in sides.values():
        for _ in range(steps):
            update()
    reference = sides["ours (FlatDict)"][1]
    for name, (_, params) in sides.items():
        for key, value in reference.items():
            if not np.allclose(np.asarray(params[key]), value, rtol=1e-9, atol=1e-12):
                raise AssertionError(f"P1: {name} disagrees with ours on {key}")


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    with_torch, torch_note = _torch_available()
    comparisons, notes = [], []
    for problem, title in PROBLEMS.items():
        params, grads = make_problem(problem, np.random.default_rng(0))
        for optimizer in OPTIMIZERS:
            sides = make_sides(optimizer, params, grads, with_torch)
            check_same(sides)
            samples = {k: _repeat(f, UPDATES[problem]) for k, (f, _) in sides.items()}
            times = interleave(samples, repeats)
            comparisons += _compare(optimizer, title, problem, times)
            notes.append(_absolute(optimizer, title, times, UPDATES[problem]))
    notes.append(_floor("mlp", repeats))
    return Section(
        key="P1",
        title="optimizer update: harness.core.optim vs the lecture's dict loop (and torch.optim)",
        commands=["python -m benchmarks --only P1" + (" --quick" if quick else "")],
        comparisons=comparisons,
        notes=[*_method_notes(torch_note), *notes],
    )


def _floor(problem: str, repeats: int) -> str:
    """Where the lecture goal's RMSprop update spends its time on ``problem``."""
    params, grads = make_problem(problem, np.random.default_rng(0))
    sides = floor_sides(params, grads, UPDATES[problem])
    for sample in sides.values():  # compile before timing
        sample()
    size = sum(value.size for value in params.values())
    times = interleave(sides, repeats)
    (lecture_share, lecture_faults), (ours_share, ours_faults) = (
        kernel_time(sides[name]) for name in ("lecture", "ours (dict)")
    )
    per_update = UPDATES[problem]
    return floor_note(PROBLEMS[problem], times, per_update, size) + (
        " Share of processor time spent in the kernel, and page faults per update: the lecture "
        f"{lecture_share:.0%} ({lecture_faults / per_update:.0f}; its temporaries, one per "
        f"operator and key, fault when malloc hands them fresh pages), ours (dict) "
        f"{ours_share:.0%} ({ours_faults / per_update:.0f})."
    )


def _repeat(update, updates: int):
    def sample():
        for _ in range(updates):
            update()

    return sample


def _compare(optimizer: str, title: str, problem: str, times: dict) -> list[Comparison]:
    """lecture ÷ each of ours; torch ÷ ours (FlatDict) for each torch variant."""
    ours = times["ours (FlatDict)"]
    goal = GOALS[problem] if optimizer == LECTURE_CLASS else None
    out = [
        Comparison(
            f"{optimizer}, {title}: lecture ÷ {name}", Ratio.of(times["lecture"], times[name]), goal
        )
        for name in ("ours (FlatDict)", "ours (dict)", "ours (FlatDict, Δp kept)")
    ]
    for name in ("torch.optim", "torch.optim foreach"):
        if name in times:
            label = f"{optimizer}, {title}: {name} ÷ ours (FlatDict)"
            goal = 1.0 if GOALS[problem] else None
            out.append(Comparison(label, Ratio.of(times[name], ours), goal))
    return out


def _absolute(optimizer: str, title: str, times: dict, updates: int) -> str:
    per_update = {
        name: f"{np.median(values) / updates * 1e6:.0f} µs" for name, values in times.items()
    }
    return f"{optimizer}, {title}: median time per update " + ", ".join(
        f"{name} {value}" for name, value in per_update.items()
    )


def _torch_available() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed: the torch.optim comparison was skipped."
    torch.set_num_threads(1)
    return True, (
        f"torch {torch.__version__} on the CPU with torch.set_num_threads(1) (numpy's "
        "element-wise ufuncs run on one thread too); default torch.optim (the per-tensor "
        "loop on CPU) and foreach=True; float64 tensors; RMSprop alpha=decay_rate, eps outside "
        "the root, momentum=0, centered=False; Adagrad initial_accumulator_value=0; "
        "Momentum is SGD(momentum=0.9), which places lr outside the velocity (same steps "
        "at a fixed lr)."
    )


def _method_notes(torch_note: str) -> list[str]:
    return [
        f"A sample is {UPDATES['mlp']} consecutive updates ({UPDATES['digits']} on (c)) with a "
        "fixed gradient; each side keeps its "
        "own parameters and state; before timing every side's parameters after 3 updates "
        "are checked equal to ours (rtol 1e-9).",
        "The lecture's code is RMSprop, so the lecture goals (≥ 3× on (a), ≥ 2.5× on (b)) "
        "are judged on RMSprop; the other classes in benchmarks/lecture.py are written in "
        "its style and shown for reference. Ours runs as the trainer runs it between "
        "internals steps (record_update=False: Δp is not kept, as the lecture keeps none); "
        "the 'Δp kept' rows are the internals steps (every trainer.internals_every = 5). "
        "FlatDict is what the lab's models hand over; the plain-dict rows take the per-key "
        "path (our compiled loop called once per key on the dict's own arrays, the state in "
        "one flat buffer). The torch.optim goal (no slower) is judged for every optimizer on (a) "
        "and (b). (c) has no goal: it shows where the flat buffer matters, many small arrays. "
        f"(a) and (b) take our compiled loop (≥ {COMPILED_FROM:,} parameters); (c) takes "
        "our numpy expressions.",
        torch_note,
    ]
