"""The training loop: N steps, evaluation every k, stall diagnostics, divergence stop, a sink.

No Hydra or MLflow here: ``train(cfg, sink)`` takes a validated ``harness.core.config.Config`` and
hands metrics to a ``Sink`` (tracking attaches there). Curves are recorded in preallocated
arrays, so the loop's own bookkeeping costs a few array writes per step.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from harness.core.config import Config, ConfigError, DatasetConfig
from harness.core.curves import Curves
from harness.core.data import Dataset, load_dataset
from harness.core.models import build_model
from harness.core.optim import Optimizer, build_optimizer

STEP_METRICS = (
    "train_loss",
    "grad_norm",
    "effective_lr_median",
    "effective_lr_p10",
    "effective_lr_p90",
    "accumulator_mean",
    "update_ratio",
)
EVAL_METRICS = ("val_loss", "val_accuracy", "test_loss", "test_accuracy")


class Sink(Protocol):
    """Where the loop reports. ``on_step`` is on the hot path: keep it to appends."""

    def on_start(self, curves: Curves) -> None: ...

    def on_step(self, step: int, curves: Curves) -> None: ...

    def on_checkpoint(self, state: TrainState) -> None: ...

    def on_end(self, result: TrainResult) -> None: ...


class NullSink:
    """A sink that does nothing: the untracked baseline."""

    def on_start(self, curves):
        pass

    def on_step(self, step, curves):
        pass

    def on_checkpoint(self, state):
        pass

    def on_end(self, result):
        pass


@dataclass
class TrainState:
    """Everything needed to continue a run bit-identically from ``step``."""

    step: int
    params: dict[str, np.ndarray]
    optimizer: dict
    rng: dict
    curves: Curves
    initial_loss: float


@dataclass
class TrainResult:
    curves: Curves
    steps_done: int
    diverged: bool = False
    diverged_step: int | None = None
    diverged_reason: str | None = None
    wall_time: float = 0.0
    summary: dict[str, float] = field(default_factory=dict)


@dataclass
class Job:
    """The pieces a config builds: data, model, optimizer and the two random streams."""

    dataset: Dataset | None
    model: object
    optimizer: Optimizer
    params: dict
    rng: np.random.Generator


def build_job(cfg: Config) -> Job:
    """Build data, model, optimizer and RNGs from ``cfg``; the seed drives init and sampling."""
    init_seq, sample_seq = np.random.SeedSequence(cfg.seed).spawn(2)
    dataset = job_dataset(cfg)
    n_features = n_classes = None
    if dataset is not None:
        n_features, n_classes = dataset.n_features, dataset.n_classes
    model = build_model(
        cfg.model.name, n_features=n_features, n_classes=n_classes, **cfg.model.options()
    )
    params = model.init_params(np.random.default_rng(init_seq))
    optimizer = build_optimizer(cfg.optimizer.name, **cfg.optimizer.hyperparams())
    return Job(dataset, model, optimizer, params, np.random.default_rng(sample_seq))


def job_dataset(cfg: Config) -> Dataset | None:
    """The job's data set, once its batch size is known to fit; ``None`` for a 2-D function.

    Call it before a run exists: some bad configs only the data can show. Data sets are frozen
    and read-only, so a process keeps the last few it loaded and its next jobs reuse them.
    """
    if cfg.dataset.name == "none":
        return None
    dataset = _load(type(cfg.dataset), dataclasses.astuple(cfg.dataset))
    if cfg.trainer.batch_size > dataset.n_train:
        raise ConfigError(
            "trainer.batch_size",
            cfg.trainer.batch_size,
            f"must be <= {dataset.n_train}, the training rows of dataset {dataset.name!r}",
        )
    return dataset


@functools.lru_cache(maxsize=4)
def _load(kind: type[DatasetConfig], values: tuple) -> Dataset:
    data = kind(*values)
    dataset = load_dataset(
        data.name,
        seed=data.seed,
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        **data.options(),
    )
    if data.shift_step is not None and data.shift_kind != "none":
        dataset = dataset.with_shift(
            data.shift_step, data.shift_kind, data.shift_factor, seed=data.seed
        )
    return dataset


def curve_columns(job: Job) -> tuple[str, ...]:
    columns = STEP_METRICS + EVAL_METRICS
    if job.dataset is None:
        columns += ("x", "y")
    return columns


def train(cfg: Config, sink: Sink | None = None, resume: TrainState | None = None) -> TrainResult:
    """Train ``cfg``'s model for ``cfg.trainer.steps`` steps, reporting to ``sink``.

    Step ``k`` (1-based) is the k-th update: ``train_loss`` at ``k`` is the minibatch loss before
    it and the internals describe it. Validation runs at step 0, every ``eval_every`` steps and at
    the last step. A run whose loss turns NaN/Inf or exceeds ``divergence_factor`` × its initial
    loss stops there, without raising: the result says at which step and why.
    """
    sink = sink or NullSink()
    started = time.perf_counter()
    job = build_job(cfg)
    trainer = cfg.trainer
    if resume is None:
        curves = Curves(curve_columns(job), trainer.steps)
        first, initial_loss = 1, None
        _evaluate(job, curves, 0)
    else:
        curves, first, initial_loss = resume.curves.copy(), resume.step + 1, resume.initial_loss
        _restore(job, resume)
    sink.on_start(curves)
    result = TrainResult(curves=curves, steps_done=first - 1)
    for step in range(first, trainer.steps + 1):
        loss = _train_step(job, trainer, curves, step)
        if initial_loss is None:
            initial_loss = loss
        reason = _divergence(loss, initial_loss, trainer.divergence_factor)
        if reason is not None:
            result.diverged, result.diverged_step, result.diverged_reason = True, step, reason
            curves.truncate(step)
            break
        result.steps_done = step
        if step % trainer.eval_every == 0 or step == trainer.steps:
            _evaluate(job, curves, step)
        sink.on_step(step, curves)
        if trainer.checkpoint_every and step % trainer.checkpoint_every == 0:
            sink.on_checkpoint(_snapshot(job, curves, step, initial_loss))
    result.wall_time = time.perf_counter() - started
    result.summary = summarize(curves, result)
    sink.on_end(result)
    return result


def _train_step(job: Job, trainer, curves: Curves, step: int) -> float:
    if job.dataset is None:
        X = y = None
    else:
        X, y = job.dataset.sample_batch(job.rng, trainer.batch_size, step)
    loss, grads = job.model.loss_and_grads(job.params, X, y)
    # The loop decides which steps keep Δp (writing it costs a memory pass): the internals steps.
    with_internals = step % trainer.internals_every == 0 or step == 1
    job.optimizer.update(job.params, grads, record=with_internals)
    row = curves.row(step)
    row["train_loss"] = loss
    g = grads.flat
    row["grad_norm"] = math.sqrt(float(np.dot(g, g)))
    if with_internals:
        for key, value in job.optimizer.internals().items():
            row[key] = value
    if job.dataset is None:
        row["x"], row["y"] = float(job.params["x"]), float(job.params["y"])
    return loss


def _evaluate(job: Job, curves: Curves, step: int) -> None:
    row = curves.row(step)
    if job.dataset is None:
        row["val_loss"] = job.model.loss(job.params, None, None)
        if step == 0:
            row["x"], row["y"] = float(job.params["x"]), float(job.params["y"])
        return
    parts = {"val": job.dataset.validation(step), "test": job.dataset.test(step)}
    for part, arrays in parts.items():
        if arrays is None:
            continue
        row[f"{part}_loss"] = job.model.loss(job.params, *arrays)
        accuracy = job.model.accuracy(job.params, *arrays)
        if accuracy is not None:
            row[f"{part}_accuracy"] = accuracy


def _divergence(loss: float, initial_loss: float, factor: float) -> str | None:
    if not math.isfinite(loss):
        return "non-finite loss"
    if initial_loss > 0 and loss > factor * initial_loss:
        return f"loss {loss:.3g} > {factor:g} x initial loss {initial_loss:.3g}"
    return None


def _snapshot(job: Job, curves: Curves, step: int, initial_loss: float) -> TrainState:
    return TrainState(
        step=step,
        params={k: np.array(v) for k, v in job.params.items()},
        optimizer=job.optimizer.state_dict(),
        rng=job.rng.bit_generator.state,
        curves=curves.copy(),
        initial_loss=initial_loss,
    )


def _restore(job: Job, state: TrainState) -> None:
    for key, value in state.params.items():
        job.params[key] = value
    job.optimizer.load_state_dict(state.optimizer)
    job.rng.bit_generator.state = state.rng


def summarize(curves: Curves, result: TrainResult) -> dict[str, float]:
    """End-of-training numbers: final and best validation loss/accuracy, final test
    loss/accuracy (no "best" on test: picking the best test point would select on test), and
    the divergence flag."""
    summary = {"diverged": float(result.diverged)}
    for metric, best in (
        ("val_loss", np.nanmin),
        ("val_accuracy", np.nanmax),
        ("test_loss", None),
        ("test_accuracy", None),
    ):
        values = curves.column(metric)
        values = values[~np.isnan(values)] if values is not None else np.array([])
        if values.size:
            summary[f"final_{metric}"] = float(values[-1])
            if best is not None:
                summary[f"best_{metric}"] = float(best(values))
    return summary
