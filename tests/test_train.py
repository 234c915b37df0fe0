"""The training loop: determinism, divergence, resume, and the lecture's stall on a real model."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.config import (
    OPTIMIZER_CONFIGS,
    AdagradConfig,
    Config,
    DigitsConfig,
    Function2DConfig,
    MLPConfig,
    NoDatasetConfig,
    RMSpropConfig,
    SGDConfig,
    SoftmaxConfig,
    TrackingConfig,
    TrainerConfig,
)
from harness.core.optim import OPTIMIZERS
from harness.core.train import build_job, train
from harness.tracking.checkpoint import load_checkpoint, save_checkpoint


def job_config(optimizer=None, model=None, dataset=None, steps=200, **trainer) -> Config:
    trainer = {"eval_every": 50, "progress": False, **trainer}
    return Config(
        optimizer=optimizer or RMSpropConfig(lr=0.001),
        model=model or MLPConfig(hidden=[32]),
        dataset=dataset or DigitsConfig(),
        trainer=TrainerConfig(steps=steps, **trainer),
        tracking=TrackingConfig(enabled=False),
    )


class LectureRMSprop:
    """The lecture's class, written here from its update rule, as the reference."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


def test_rmsprop_matches_the_lecture_step_by_step_on_the_digits_mlp():
    job = build_job(job_config(optimizer=RMSpropConfig(lr=0.01, decay_rate=0.9)))
    ours, theirs = job.params, {k: np.array(v) for k, v in job.params.items()}
    reference = LectureRMSprop(lr=0.01, decay_rate=0.9)
    for step in range(1, 201):
        X, y = job.dataset.sample_batch(job.rng, 64, step)
        _, grads = job.model.loss_and_grads(ours, X, y)
        job.optimizer.update(ours, grads)
        _, ref_grads = job.model.loss_and_grads(theirs, X, y)
        reference.update(theirs, {k: v.copy() for k, v in ref_grads.items()})
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{key} at {step}")
            np.testing.assert_array_equal(job.optimizer.state["h"][key], reference.h[key])


def test_same_seed_gives_bit_identical_curves_and_other_seeds_differ():
    cfg = job_config(steps=120)
    first, second = train(cfg), train(cfg)
    np.testing.assert_array_equal(first.curves.data, second.curves.data)
    cfg.seed = 1
    other = train(cfg)
    assert not np.array_equal(first.curves.column("train_loss"), other.curves.column("train_loss"))


def test_evaluates_at_zero_every_k_steps_and_at_the_end():
    result = train(job_config(steps=130, eval_every=50))
    evaluated = np.flatnonzero(~np.isnan(result.curves.column("val_loss")))
    assert evaluated.tolist() == [0, 50, 100, 130]
    accuracy = result.curves.column("val_accuracy")[evaluated]
    assert ((accuracy >= 0) & (accuracy <= 1)).all()
    assert result.summary["best_val_loss"] <= result.summary["final_val_loss"]
    train_loss = result.curves.column("train_loss")
    assert np.isnan(train_loss[0]) and not np.isnan(train_loss[1:]).any()


def test_a_diverging_run_stops_without_raising_and_says_why():
    result = train(job_config(optimizer=SGDConfig(lr=1e4), steps=300))
    assert result.diverged
    assert 1 <= result.diverged_step < 300
    assert "loss" in result.diverged_reason
    assert result.curves.last_step == result.diverged_step
    assert result.summary["diverged"] == 1.0


class Checkpoints:
    def __init__(self):
        self.states = []

    def on_start(self, curves):
        pass

    def on_step(self, step, curves):
        pass

    def on_checkpoint(self, state):
        self.states.append(state)

    def on_end(self, result):
        pass


@pytest.mark.parametrize("optimizer", [AdagradConfig(lr=0.05), RMSpropConfig(lr=0.001)])
def test_resuming_from_step_50_equals_an_uninterrupted_run(optimizer):
    cfg = job_config(optimizer=optimizer, steps=120, eval_every=30, checkpoint_every=50)
    sink = Checkpoints()
    straight = train(cfg, sink)
    state = sink.states[0]
    assert state.step == 50
    resumed = train(cfg, resume=state)
    np.testing.assert_array_equal(resumed.curves.data, straight.curves.data)
    assert resumed.summary == straight.summary


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resuming_through_a_checkpoint_file_at_internals_every_1_is_exact(tmp_path, name):
    """Every step keeps Δp: the curves, the optimizer's arrays and its last internals survive."""
    cfg = job_config(
        optimizer=OPTIMIZER_CONFIGS[name](lr=0.001), steps=60, eval_every=20,
        internals_every=1, checkpoint_every=30,
    )  # fmt: skip
    sink = Checkpoints()
    straight = train(cfg, sink)
    save_checkpoint(tmp_path / "job.npz", "run", "hash", sink.states[0])
    state = load_checkpoint(tmp_path / "job.npz").state
    resumed = train(cfg, resume=state)
    np.testing.assert_array_equal(resumed.curves.data, straight.curves.data)
    assert not np.isnan(straight.curves.column("update_ratio")[1:]).any()

    saved, job = sink.states[0].optimizer, build_job(cfg)
    job.optimizer.load_state_dict(state.optimizer)
    restored = job.optimizer.state_dict()
    assert restored["t"] == saved["t"] == 30
    for group in ("state", "last_update"):
        assert restored[group].keys() == saved[group].keys()
        for part, arrays in saved[group].items():
            for key, value in arrays.items():
                np.testing.assert_array_equal(restored[group][part][key], value)
    internals = job.optimizer.internals(state.params)  # what step 30 logged, Δp included
    assert "update_ratio" in internals
    assert internals == {k: straight.curves.column(k)[30] for k in internals}


def test_a_non_stationary_run_sees_the_change():
    dataset = DigitsConfig(shift_step=100, shift_kind="scale_inputs", shift_factor=10.0)
    result = train(job_config(dataset=dataset, steps=200, eval_every=10))
    grad_norm = result.curves.column("grad_norm")
    assert np.nanmean(grad_norm[101:111]) > 2 * np.nanmean(grad_norm[90:100])


def test_a_2d_function_run_records_its_trajectory():
    cfg = job_config(
        optimizer=SGDConfig(lr=0.95),
        model=Function2DConfig(name="quadratic2d"),
        dataset=NoDatasetConfig(),
        steps=30,
    )
    result = train(cfg)
    x, y = result.curves.column("x"), result.curves.column("y")
    assert (x[0], y[0]) == (-7.0, 2.0)
    assert abs(x[-1]) < 7.0 and abs(y[-1]) < 2.0


def slope_second_half(curve: np.ndarray) -> float:
    steps = np.arange(curve.size)
    keep = ~np.isnan(curve) & (steps >= curve.size // 2)
    return float(np.polyfit(np.log(steps[keep]), np.log(curve[keep]), 1)[0])


@pytest.mark.slow
def test_adagrads_step_size_falls_like_one_over_sqrt_t_while_rmsprops_levels_off():
    """Softmax regression on digits with L2, so minibatch gradients keep a steady size."""
    model = SoftmaxConfig(weight_decay=0.01)
    adagrad = train(job_config(optimizer=AdagradConfig(lr=0.1), model=model, steps=8000))
    rmsprop = train(
        job_config(optimizer=RMSpropConfig(lr=0.001, decay_rate=0.9), model=model, steps=8000)
    )
    assert slope_second_half(adagrad.curves.column("effective_lr_median")) == pytest.approx(
        -0.5, abs=0.1
    )
    assert abs(slope_second_half(rmsprop.curves.column("effective_lr_median"))) < 0.1
