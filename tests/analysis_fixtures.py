"""Small optimizer-lab studies written to a real MLflow store, following the tracking contract.

The curves are made up but known, so tests can check what the loader and statistics return:

- ``train_loss(t) = 0.1 + 2 / (1 + lr * speed * t)`` times seeded noise of ±2 %; on a
  non-stationary dataset the loss jumps by 1.0 at ``shift_step`` and the jump decays with
  time constant 15 steps.
- ``effective_lr_median`` is ``lr / sqrt(t)`` for Adagrad (decay exponent -0.5) and ``lr``
  otherwise (exponent 0); p10 and p90 are half and twice the median.
- ``val_loss`` is 1.1 × the noiseless train loss (±1 % seeded noise) at step 0, every
  ``eval_every`` steps and at the end; ``val_accuracy`` is ``1 - val_loss / 3``.
- A diverging job stops at ``diverge_at`` with ``inf`` loss; a failed job stops halfway.

2-D jobs run real SGD/Momentum/Adagrad/RMSprop/Adam updates on f = x²/20 + y² and Rosenbrock,
written independently of the harness, and record the ``x``, ``y`` columns.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

LABELS = {"sgd": "SGD", "momentum": "Momentum", "adagrad": "Adagrad", "adam": "Adam"}
SPEED = {"sgd": 1.0, "momentum": 3.0, "nesterov": 3.0, "adagrad": 1.5, "rmsprop": 2.0, "adam": 4.0}
HISTORY_EVERY = 5  # metric history is subsampled; the parquet has every step
START_MS = 1_700_000_000_000


@dataclass(frozen=True)
class JobSpec:
    """One job of a sweep: its config and how its curves look."""

    optimizer: str
    lr: float
    seed: int
    decay_rate: float | None = None
    model: str = "mlp"
    dataset: str = "blobs"
    steps: int = 200
    eval_every: int = 20
    shift_step: int | None = None
    diverge_at: int | None = None
    status: str = "FINISHED"
    write_parquet: bool = True

    @property
    def label(self) -> str:
        if self.optimizer == "rmsprop":
            return f"RMSprop α={self.decay_rate:g}"
        return LABELS.get(self.optimizer, self.optimizer)


@dataclass
class LoggedSweep:
    """What a fixture wrote: ids, and each run's spec and wide curves, to check against."""

    experiment: str
    parent_run_id: str | None
    specs: dict[str, JobSpec] = field(default_factory=dict)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class FixtureStore:
    """A temporary store holding the fixture studies."""

    tracking_uri: str
    root: Path
    main: LoggedSweep
    older: LoggedSweep
    single: LoggedSweep
    planar: LoggedSweep


# --- curves -----------------------------------------------------------------------------
def base_loss(spec: JobSpec, t: np.ndarray) -> np.ndarray:
    """The noiseless train loss of a job at steps ``t``."""
    loss = 0.1 + 2.0 / (1.0 + spec.lr * SPEED[spec.optimizer] * 10 * t)
    if spec.shift_step is not None:
        after = t > spec.shift_step
        loss = loss + np.where(after, np.exp(-(t - spec.shift_step) / 15.0), 0.0)
    return loss


def effective_lr(spec: JobSpec, t: np.ndarray) -> np.ndarray:
    if spec.optimizer == "adagrad":
        return spec.lr / np.sqrt(t)
    return np.full(t.shape, spec.lr)


def make_curves(spec: JobSpec) -> pd.DataFrame:
    """The wide curves table of a job, as the harness writes ``curves/curves.parquet``."""
    last = spec.diverge_at or (spec.steps // 2 if spec.status == "FAILED" else spec.steps)
    steps = np.arange(0, last + 1)
    t = steps[1:].astype(float)
    noise = np.random.default_rng(spec.seed).normal(1.0, 0.02, t.size)
    train = base_loss(spec, t) * noise
    if spec.diverge_at:
        train[-1] = np.inf
    lr_median = effective_lr(spec, t)
    columns = {
        "train_loss": train,
        "grad_norm": np.sqrt(train),
        "effective_lr_median": lr_median,
        "effective_lr_p10": lr_median / 2,
        "effective_lr_p90": lr_median * 2,
        "update_ratio": lr_median * 0.1,
    }
    if spec.optimizer == "adagrad":
        columns["accumulator_mean"] = 0.01 * t
    elif spec.optimizer in ("rmsprop", "adam"):
        columns["accumulator_mean"] = 0.01 * (1 - (spec.decay_rate or 0.999) ** t)
    wide = pd.DataFrame({"step": steps.astype(np.int64)})
    for name, values in columns.items():
        wide[name] = np.concatenate([[np.nan], values])
    return _with_val(wide, spec, last)


def _with_val(wide: pd.DataFrame, spec: JobSpec, last: int) -> pd.DataFrame:
    evals = sorted({0, last, *range(0, last + 1, spec.eval_every)})
    if spec.diverge_at:
        evals = [s for s in evals if s < spec.diverge_at]
    val = np.full(len(wide), np.nan)
    noise = np.random.default_rng(1000 + spec.seed).normal(1.0, 0.01, len(evals))
    val[evals] = 1.1 * base_loss(spec, np.array(evals, dtype=float)) * noise
    wide["val_loss"] = val
    wide["val_accuracy"] = 1 - val / 3
    return wide


# --- 2-D problems -------------------------------------------------------------------------
PLANAR = {
    "quadratic2d": (
        lambda x, y: x**2 / 20 + y**2,
        lambda x, y: np.array([x / 10, 2 * y]),
        (-7.0, 2.0),
    ),
    "rosenbrock": (
        lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        lambda x, y: np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)]),
        (-1.5, 2.0),
    ),
}


def run_planar(spec: JobSpec) -> pd.DataFrame:
    """Run a textbook optimizer on a 2-D function; the wide table with ``x``, ``y`` columns."""
    f, grad, start = PLANAR[spec.model]
    p = np.array(start)
    state = {"m": np.zeros(2), "v": np.zeros(2)}
    rows = [{"step": 0, "x": p[0], "y": p[1], "val_loss": f(*p)}]
    for t in range(1, spec.steps + 1):
        g = grad(*p)
        delta = _planar_update(spec, g, state, t)
        rows.append(_planar_row(t, f(*p), g, delta, p + delta, spec.lr))
        p = p + delta
        if spec.eval_every and (t % spec.eval_every == 0 or t == spec.steps):
            rows[-1]["val_loss"] = f(*p)
    return pd.DataFrame(rows).astype({"step": np.int64})


def _planar_update(spec: JobSpec, g: np.ndarray, s: dict, t: int) -> np.ndarray:
    lr, eps = spec.lr, 1e-7
    if spec.optimizer == "sgd":
        return -lr * g
    if spec.optimizer == "momentum":
        s["m"] = 0.9 * s["m"] - lr * g
        return s["m"]
    if spec.optimizer == "adagrad":
        s["v"] += g * g
        return -lr * g / (np.sqrt(s["v"]) + eps)
    if spec.optimizer == "rmsprop":
        s["v"] = spec.decay_rate * s["v"] + (1 - spec.decay_rate) * g * g
        return -lr * g / (np.sqrt(s["v"]) + eps)
    s["m"] = 0.9 * s["m"] + 0.1 * g
    s["v"] = 0.999 * s["v"] + 0.001 * g * g
    m_hat, v_hat = s["m"] / (1 - 0.9**t), s["v"] / (1 - 0.999**t)
    return -lr * m_hat / (np.sqrt(v_hat) + eps)


def _planar_row(t, loss, g, delta, p, lr) -> dict:
    ratio = np.abs(delta) / np.maximum(np.abs(g), 1e-12)
    return {
        "step": t,
        "train_loss": loss,
        "grad_norm": float(np.linalg.norm(g)),
        "effective_lr_median": float(np.median(ratio)),
        "effective_lr_p10": float(ratio.min()),
        "effective_lr_p90": float(ratio.max()),
        "update_ratio": float(np.linalg.norm(delta) / max(np.linalg.norm(p), 1e-12)),
        "x": p[0],
        "y": p[1],
    }


# --- logging to MLflow ----------------------------------------------------------------------
def params_of(spec: JobSpec) -> dict[str, str]:
    """The flattened resolved config, as strings, the way the harness logs params."""
    config = {
        "seed": spec.seed,
        "optimizer.name": spec.optimizer,
        "optimizer.lr": spec.lr,
        "optimizer.momentum": 0.9 if spec.optimizer in ("momentum", "nesterov") else None,
        "optimizer.beta1": 0.9 if spec.optimizer == "adam" else None,
        "optimizer.beta2": 0.999 if spec.optimizer == "adam" else None,
        "optimizer.eps": 1e-7,
        "model.name": spec.model,
        "model.hidden": 32 if spec.model == "mlp" else None,
        "dataset.name": spec.dataset,
        "dataset.shift_step": spec.shift_step,
        "dataset.shift_kind": "rotate" if spec.shift_step else "none",
        "trainer.steps": spec.steps,
        "trainer.batch_size": 64,
        "trainer.eval_every": spec.eval_every,
    }
    if spec.optimizer == "rmsprop":
        config["optimizer.decay_rate"] = spec.decay_rate
    return {key: str(value) for key, value in config.items()}


def _hash(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def tags_of(spec: JobSpec, wide: pd.DataFrame, parent: str | None, sweep_id: str) -> dict:
    params = params_of(spec)
    diverged = spec.diverge_at is not None
    tags = {
        "optlab.role": "job",
        "optlab.optimizer": spec.optimizer,
        "optlab.label": spec.label,
        "optlab.config_hash": _hash(params),
        "optlab.group": _hash({k: v for k, v in params.items() if k != "seed"}),
        "optlab.diverged": str(diverged).lower(),
        "optlab.git_commit": "0123456789abcdef0123456789abcdef01234567",
        "optlab.git_dirty": "false",
    }
    if diverged:
        tags["optlab.diverged_step"] = str(spec.diverge_at)
        tags["optlab.diverged_reason"] = "non-finite train_loss"
    if parent:
        tags |= {"mlflow.parentRunId": parent, "optlab.sweep_id": sweep_id}
    return tags


def summary_of(wide: pd.DataFrame, diverged: bool) -> dict[str, float]:
    val = wide["val_loss"].dropna()
    summary = {"final_val_loss": val.iloc[-1], "best_val_loss": val.min(), "diverged": diverged}
    if "val_accuracy" in wide:
        acc = wide["val_accuracy"].dropna()
        summary |= {"final_val_accuracy": acc.iloc[-1], "best_val_accuracy": acc.max()}
    return {key: float(value) for key, value in summary.items()}


def history_of(wide: pd.DataFrame, every: int, timestamp: int) -> list[Metric]:
    """Metric history with steps: finite values of every ``every``-th row and every val row."""
    metrics = []
    for name in wide.columns.drop("step"):
        for step, value in zip(wide["step"], wide[name], strict=True):
            keep = name.startswith("val_") or step % every == 0
            if keep and np.isfinite(value):
                metrics.append(Metric(name, float(value), timestamp, int(step)))
    return metrics


def log_job(
    client: MlflowClient,
    experiment_id: str,
    spec: JobSpec,
    parent: str | None,
    sweep_id: str = "",
    start_ms: int = START_MS,
) -> tuple[str, pd.DataFrame]:
    """Log one job run exactly as the contract says; returns its id and wide curves."""
    wide = run_planar(spec) if spec.model in PLANAR else make_curves(spec)
    tags = tags_of(spec, wide, parent, sweep_id)
    run = client.create_run(experiment_id, start_time=start_ms, tags=tags)
    run_id = run.info.run_id
    every = 1 if not spec.write_parquet else HISTORY_EVERY
    metrics = history_of(wide, every, start_ms)
    summary = summary_of(wide, spec.diverge_at is not None)
    metrics += [Metric(k, v, start_ms, 0) for k, v in summary.items() if math.isfinite(v)]
    params = [Param(k, v) for k, v in params_of(spec).items()]
    for i in range(0, max(len(metrics), 1), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000], params=params if i == 0 else [])
    if spec.write_parquet:
        _log_parquet(client, run_id, wide)
    client.set_terminated(run_id, status=spec.status, end_time=start_ms + 1000)
    return run_id, wide


def _log_parquet(client: MlflowClient, run_id: str, wide: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as staging:
        path = Path(staging) / "curves.parquet"
        wide.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), artifact_path="curves")


def log_sweep(
    client: MlflowClient,
    experiment: str,
    specs: Sequence[JobSpec],
    sweep_id: str,
    start_ms: int = START_MS,
    artifact_root: Path | None = None,
) -> LoggedSweep:
    """Log a parent run and its child jobs (or, with an empty ``sweep_id``, parentless jobs)."""
    experiment_id = _experiment_id(client, experiment, artifact_root)
    parent = None
    if sweep_id:
        tags = {"optlab.role": "sweep", "optlab.sweep_id": sweep_id, "optlab.study": experiment}
        parent = client.create_run(experiment_id, start_time=start_ms, tags=tags).info.run_id
    logged = LoggedSweep(experiment, parent)
    for i, spec in enumerate(specs):
        run_id, wide = log_job(client, experiment_id, spec, parent, sweep_id, start_ms + i + 1)
        logged.specs[run_id], logged.curves[run_id] = spec, wide
    if parent:
        client.set_terminated(parent, end_time=start_ms + 10_000)
    return logged


def _experiment_id(client: MlflowClient, name: str, artifact_root: Path | None) -> str:
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    location = (artifact_root / name).as_uri() if artifact_root else None
    return client.create_experiment(name, artifact_location=location)


# --- the fixture studies ----------------------------------------------------------------------
MAIN_EXPERIMENT = "optlab-fixture"
PLANAR_EXPERIMENT = "optlab-fixture-2d"


def main_specs() -> list[JobSpec]:
    """4 labels × 2 lrs × 3 seeds on a dataset that shifts at step 120 (24 jobs).

    One Momentum job diverges at step 90, one RMSprop job fails halfway without a parquet,
    and one Adagrad job was logged without a parquet (metric history only, every step).
    """
    specs = []
    configs = [("adagrad", None), ("rmsprop", 0.9), ("rmsprop", 0.99), ("momentum", None)]
    for optimizer, decay_rate in configs:
        for lr in (0.01, 0.1):
            for seed in range(3):
                spec = JobSpec(optimizer, lr, seed, decay_rate, dataset="blobs-shift")
                specs.append(replace(spec, shift_step=120))
    specs[0] = replace(specs[0], write_parquet=False)
    specs[11] = replace(specs[11], status="FAILED", write_parquet=False)
    specs[23] = replace(specs[23], diverge_at=90)
    return specs


def planar_specs() -> list[JobSpec]:
    """Five optimizers on f = x²/20 + y² and on Rosenbrock, one seed, 100 steps."""
    lrs = {
        "quadratic2d": {"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "rmsprop": 0.1, "adam": 0.3},
        "rosenbrock": {
            "sgd": 5e-4,
            "momentum": 2e-4,
            "adagrad": 0.5,
            "rmsprop": 0.01,
            "adam": 0.05,
        },
    }
    return [
        JobSpec(
            opt,
            lr,
            0,
            0.9 if opt == "rmsprop" else None,
            model=model,
            dataset="none",
            steps=100,
            eval_every=10,
        )
        for model, by_optimizer in lrs.items()
        for opt, lr in by_optimizer.items()
    ]


def build_store(root: Path) -> FixtureStore:
    """Write every fixture study into a new SQLite store under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = root / "artifacts"
    older_specs = [JobSpec("adagrad", 0.1, seed, steps=50, eval_every=10) for seed in range(2)]
    older = log_sweep(client, MAIN_EXPERIMENT, older_specs, "sweep-old", START_MS, artifacts)
    main = log_sweep(client, MAIN_EXPERIMENT, main_specs(), "sweep-main", START_MS + 60_000)
    single_spec = [JobSpec("sgd", 0.1, 0, steps=50, eval_every=10)]
    single = log_sweep(client, MAIN_EXPERIMENT, single_spec, "", START_MS + 120_000)
    planar = log_sweep(client, PLANAR_EXPERIMENT, planar_specs(), "sweep-2d", START_MS, artifacts)
    return FixtureStore(uri, root, main, older, single, planar)


_STORES: dict[str, FixtureStore] = {}


def shared_store(tmp_path_factory) -> FixtureStore:
    """The fixture store, built once per test session (a fresh SQLite store costs ~2 s)."""
    if "store" not in _STORES:
        _STORES["store"] = build_store(tmp_path_factory.mktemp("analysis-store"))
    return _STORES["store"]
