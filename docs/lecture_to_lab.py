# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From the lecture's RMSprop to the lab's findings
#
# A walk for instructors who teach the RMSprop lecture: Adagrad's jar of squared gradients
# that only fills (瓶がいっぱい), and RMSprop's coffee blend that keeps α of yesterday's taste
# (α being the 減衰率, the decay rate). Run the cells in order:
#
# 1. **The lecture's class, and ours.** The lecture's numpy `RMSprop`, written out here in its
#    style, and `harness.optim.RMSprop` take the same updates and end equal, bit for bit.
# 2. **Adagrad's stall on a slope.** One parameter on a slope that never flattens: Adagrad's
#    position has a closed form, and so has the time it takes to get anywhere.
# 3. **A small sweep through the lab's Python API**, read back into pandas.
# 4. **The figures** the report draws, from that sweep.
# 5. **The findings**: each of the lecture's claims judged by the lab's rule.
#
# Every claim the text makes is an `assert` in a cell: a cell that stops with an
# `AssertionError` is a claim that no longer holds. This file is the source (a jupytext
# percent script); `make notebook` executes it into `reports/notebook/` as a notebook and an
# HTML page. `OPTLAB_NOTEBOOK_SIZE=tiny` shrinks the sweep to seconds (the test runs it so).

# %%
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from IPython.display import Image, display
from matplotlib.figure import Figure

from analysis.figures import plot_accumulator, plot_effective_lr, plot_loss_curves
from analysis.findings import to_findings, to_sentences
from analysis.load import load_study
from harness.cli import schemas  # noqa: F401  (registers the typed configs before any compose)
from harness.cli.app import to_config
from harness.optim import Adagrad, RMSprop
from harness.tracking.job import run_job
from harness.tracking.store import PROJECT_ROOT

# A class runs the full size; the notebook's test sets OPTLAB_NOTEBOOK_SIZE=tiny.
TINY = os.environ.get("OPTLAB_NOTEBOOK_SIZE") == "tiny"
STEPS, SEEDS = (60, 2) if TINY else (1500, 4)
work = Path(tempfile.mkdtemp(prefix="lecture-to-lab-"))  # the sweep's store and checkpoints
print(f"working in {work}: {SEEDS} seeds × {STEPS} steps per job")


def show(figure: Figure) -> None:
    """Show a figure below the cell, as a PNG (figures here are drawn without pyplot)."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    display(Image(data=png.getvalue()))


# %% [markdown]
# ## 1. The lecture's class, and ours
#
# The lecture's `RMSprop` keeps one accumulator `h` per parameter. Each update it first lets
# the old blend fade (`h *= decay_rate`), then pours in a little of today's squared gradient
# (`h += (1 − decay_rate)·g²`), and divides the step by `√h` (plus `1e-7`, so it never
# divides by zero). Adagrad differs in one line: it never fades, `h += g²`.
#
# Both classes below are written the lecture's way: a dict of `h` arrays made on the first
# call, a loop over the parameters' keys, and the arithmetic in the lecture's order.


# %%
class LectureAdagrad:
    # The jar that only fills: h grows by g² every step and never pours anything out.
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class LectureRMSprop:
    # The coffee blend: keep decay_rate (α, the 減衰率) of yesterday, add 1 − α of today.
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate  # the old blend fades
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]  # today's beans
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


# %% [markdown]
# Now the lab's optimizers on the same arrays: a small network's worth of parameters and fifty
# gradients drawn once from a seeded generator. Both sides start from copies of the same
# parameters and see the same gradients. `np.array_equal` asks for equality, not closeness:
# every bit of every parameter and every accumulator.

# %%
rng = np.random.default_rng(0)
shapes = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
start = {key: rng.normal(size=shape) for key, shape in shapes.items()}
gradient_steps = [{key: rng.normal(size=shape) for key, shape in shapes.items()} for _ in range(50)]

pairs = {
    "Adagrad": (LectureAdagrad(lr=0.1), Adagrad(lr=0.1)),
    "RMSprop α=0.9": (LectureRMSprop(lr=0.01, decay_rate=0.9), RMSprop(lr=0.01, decay_rate=0.9)),
    "RMSprop α=0.99": (LectureRMSprop(lr=0.01, decay_rate=0.99), RMSprop(lr=0.01, decay_rate=0.99)),
}
for name, (lecture, lab) in pairs.items():
    lecture_params = {key: value.copy() for key, value in start.items()}
    lab_params = {key: value.copy() for key, value in start.items()}
    for grads in gradient_steps:
        lecture.update(lecture_params, grads)
        lab.update(lab_params, grads)
    for key in shapes:
        assert np.array_equal(lecture_params[key], lab_params[key]), (name, key)
        assert np.array_equal(lecture.h[key], lab.state["h"][key]), (name, key)
    print(f"{name}: equal bit for bit after {len(gradient_steps)} updates")

# %% [markdown]
# ## 2. Adagrad's stall on a slope
#
# One parameter `x` on the slope `f(x) = g·x`: the gradient is `g` at every step, and the
# slope never flattens, so a good optimizer should keep walking at a steady pace.
#
# - **Adagrad**: after `t` updates the jar holds `h = t·g²`, so update `t` moves
#   `lr·g / (|g|·√t + ε)`, and after `T` updates `x` has moved `lr·Σ 1/√t < 2·lr·√T`.
#   To walk a distance `D` it needs about `(D / 2lr)²` steps: ten times farther takes a
#   hundred times longer.
# - **RMSprop**: the blend holds `h = (1 − α^t)·g²`, which settles at `g²`, so every step
#   soon moves `lr`, and a distance `D` takes about `D / lr` steps.
#
# The cell runs `harness.optim`'s classes and checks them against these closed forms.

# %%
lr, g, alpha, eps, T = 0.1, 1.0, 0.9, 1e-7, 3000
t = np.arange(1, T + 1)


def walk(optimizer) -> np.ndarray:
    """``x`` after each of ``T`` updates on the slope, from ``x = 0``."""
    params, path = {"x": np.zeros(1)}, np.empty(T)
    for step in range(T):
        optimizer.update(params, {"x": np.array([g])})
        path[step] = params["x"][0]
    return path


adagrad_path = walk(Adagrad(lr=lr, eps=eps))
rmsprop_path = walk(RMSprop(lr=lr, decay_rate=alpha, eps=eps))
adagrad_closed = -np.cumsum(lr * g / (abs(g) * np.sqrt(t) + eps))
rmsprop_closed = -np.cumsum(lr * g / (abs(g) * np.sqrt(1 - alpha**t) + eps))
assert np.allclose(adagrad_path, adagrad_closed, rtol=1e-9, atol=0)
assert np.allclose(rmsprop_path, rmsprop_closed, rtol=1e-9, atol=0)
assert (np.abs(adagrad_path) < 2 * lr * np.sqrt(t)).all()  # the jar's bound: less than 2·lr·√t

distance = 10.0
steps_to = {
    "Adagrad": int(np.argmax(np.abs(adagrad_path) >= distance)) + 1,
    f"RMSprop α={alpha}": int(np.argmax(np.abs(rmsprop_path) >= distance)) + 1,
}
assert steps_to["Adagrad"] >= (distance / (2 * lr)) ** 2  # at least (D / 2lr)² = 2500 steps
assert steps_to[f"RMSprop α={alpha}"] <= distance / lr  # at most D / lr = 100 steps
display(pd.Series(steps_to, name=f"steps to walk {distance:g}"))

# %%
figure = Figure(figsize=(10, 3.4), layout="constrained")
left, right = figure.subplots(1, 2)
for label, path, closed in (
    ("Adagrad", adagrad_path, adagrad_closed),
    (f"RMSprop α={alpha}", rmsprop_path, rmsprop_closed),
):
    left.plot(t, -path, label=label)
    left.plot(t, -closed, "k:", lw=1)
    right.loglog(t, np.abs(np.diff(np.concatenate([[0.0], path]))), label=label)
right.loglog(t, lr / np.sqrt(t), "k:", lw=1, label="lr/√t")
left.set(xlabel="step t", ylabel="distance walked", xscale="log", yscale="log")
right.set(xlabel="step t", ylabel="step size")
left.set_title("distance on the slope (dotted: closed form)")
right.set_title("Adagrad's step shrinks like 1/√t")
right.legend()
show(figure)

# %% [markdown]
# ## 3. A small sweep through the lab's Python API
#
# The lecture asks students to believe two things: Adagrad's step decays like `1/√t` while
# RMSprop's does not, and that costs Adagrad on held-out loss. The lab runs the arms and
# judges. Here: Adagrad and RMSprop at α = 0.9 and 0.99, each at its base lr, training the MLP
# on MNIST-1D (the headline study's data set), a few seeds each. Each job is composed from the
# lab's configs (`conf/`) by Hydra's compose API, checked into a typed `Config`, and run by
# `run_job` into a store in the temporary folder, so the project's own store is left alone.

# %%
store = work / "store"
store.mkdir()
os.environ["OPTLAB_STORE_DIR"] = str(store)  # the runs' artifacts go beside the store
os.environ["OPTLAB_CHECKPOINT_DIR"] = str(work / "checkpoints")
uri = f"sqlite:///{store / 'mlflow.db'}"
arms = ("adagrad", "rmsprop_a0.9", "rmsprop_a0.99")
outcomes = []
with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
    for arm in arms:
        for seed in range(SEEDS):
            overrides = [f"optimizer={arm}", f"seed={seed}", "dataset=mnist1d", "study=lecture"]
            overrides += [f"trainer.steps={STEPS}", "trainer.progress=false", f"tracking.uri={uri}"]
            outcomes.append(run_job(to_config(compose(config_name="config", overrides=overrides))))
assert [o.status for o in outcomes] == ["FINISHED"] * len(arms) * SEEDS
print(f"{len(outcomes)} jobs, {sum(o.seconds for o in outcomes):.0f} s in all")

# %% [markdown]
# `load_study` reads the runs back the way the report does: one row per run (config, tags,
# summary metrics) and the full-resolution curves, as pandas tables.

# %%
study = load_study("lecture", tracking_uri=uri)
assert len(study.runs) == len(arms) * SEEDS and set(study.runs["status"]) == {"FINISHED"}
columns = ["label", "seed", "optimizer.lr", "final_val_loss", "final_test_loss"]
display(study.runs[columns].sort_values(["label", "seed"]))

# %%
summary = study.runs.groupby("label")[["final_val_loss", "final_test_loss"]].agg(["mean", "std"])
assert list(summary.index) == ["Adagrad", "RMSprop α=0.9", "RMSprop α=0.99"]
display(summary)

# %% [markdown]
# ## 4. The figures
#
# The report's own figures, drawn from this sweep: the loss curves, the effective step each
# optimizer takes (Adagrad's falls along the dashed `t^(−1/2)`, RMSprop's levels off), and the
# accumulator `h` (Adagrad's jar fills; RMSprop's blend levels off).

# %%
figures = {
    "loss": plot_loss_curves(study.runs, study.curves),
    "effective_lr": plot_effective_lr(study.runs, study.curves),
    "accumulator": plot_accumulator(study.runs, study.curves),
}
assert all(figure is not None for figure in figures.values())
for figure in figures.values():
    show(figure)

# %% [markdown]
# ## 5. The findings
#
# `to_findings` states each of the lecture's claims for these arms and judges it by the lab's
# rule (fixed before the data; see the README's *Verdicts*): **held**, **did not hold**, or
# **unresolved** with how many seeds would resolve it. With few seeds and short runs,
# *unresolved* is an honest answer. `to_sentences(findings, "ja")` says the same in Japanese,
# as `python -m analysis.report --experiment lecture --lang ja` writes the whole report.

# %%
findings = to_findings([("lecture", study.runs, study.curves)])
assert {"adagrad_decays", "rmsprop_steady"} <= set(findings["claim"])
assert set(findings["verdict"]) <= {"held", "did not hold", "unresolved"}
assert (findings["n"] <= SEEDS).all()
for sentence in to_sentences(findings):
    print("-", sentence)
display(findings[["claim", "arm", "verdict", "effect", "ci_low", "ci_high", "n"]])

# %% [markdown]
# From here, the same in class at full size: `python -m experiments.run stall` (or
# `make demo`) runs the headline study and writes its report (`--lang ja` for the Japanese
# one); `make ui` opens every run in MLflow.
