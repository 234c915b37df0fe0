"""P4 — loading a sweep for analysis: ``analysis.load.load_study`` against a metric-history loop.

The store is written by the harness's own tracking code (``MlflowSink`` and ``log_run_end``)
from made-up curves, so it holds what real jobs leave: the params, the tags, a UI-resolution
metric history (every ``metric_stride``-th step, in ``log_batch`` calls) and the full curves as
``curves/curves.parquet``. The baseline lists the sweep's runs and calls
``MlflowClient.get_metric_history`` for every run and curve; it reads the strided history,
while ``load_study`` reads the full-resolution parquet and builds the runs and curves tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave, median, time_call

GOAL = 20.0
STEPS, EVAL_EVERY = 2000, 100
CURVES = ("train_loss", "grad_norm", "effective_lr_median", "update_ratio", "val_loss")
EXPERIMENT = "bench-analysis"
OPTIMIZERS = ("adagrad", "rmsprop", "momentum", "adam")
LR_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    runs = 40 if quick else 200
    folder = workdir / f"P4-{runs}"
    built = time_call(lambda: build_store(folder, runs))
    uri, parent = build_store(folder, runs)  # already there: returns at once
    points = {}
    sides = {
        "metric-history loop": lambda: points.update(history=history_loop(uri, parent)),
        "load_study": lambda: points.update(ours=load_ours(uri, parent, runs)),
    }
    times = interleave(sides, repeats)
    seconds = ", ".join(f"{name} {median(values):.2f} s" for name, values in times.items())
    return Section(
        key="P4",
        title=f"analysis load: {runs} runs × {len(CURVES)} curves × {STEPS} steps",
        commands=[
            f"python -m benchmarks --only P4{' --quick' if quick else ''}",
            f"# ours: analysis.load.load_study({EXPERIMENT!r}, sweep=<parent run id>, "
            "tracking_uri='sqlite:///<tmp>/mlflow.db')",
            "# baseline: for run in client.search_runs(<sweep's children>): "
            "for key in curves: client.get_metric_history(run_id, key)",
        ],
        comparisons=[
            Comparison(
                f"get_metric_history loop ÷ load_study, {runs} runs",
                Ratio.of(times["metric-history loop"], times["load_study"]),
                GOAL,
            )
        ],
        notes=[
            "The baseline reads the strided (UI-resolution) metric history, "
            f"{points['history']:,} points; load_study reads the full-resolution "
            f"curves.parquet, {points['ours']:,} points, and also builds the runs table. "
            "The baseline returns lists of Metric objects, not a table.",
            f"Median seconds: {seconds}. Writing the store took {built:.0f} s (not timed).",
            "Store: SQLite, artifacts on local disk, written by harness.tracking.MlflowSink "
            "and log_run_end as a job does (stride "
            f"{_stride()}, val_loss every {EVAL_EVERY} steps).",
        ],
    )


def _stride() -> int:
    from harness.tracking import metric_stride

    return metric_stride(0, STEPS)


def load_ours(uri: str, parent: str, runs: int) -> int:
    from analysis.load import load_study

    study = load_study(EXPERIMENT, sweep=parent, tracking_uri=uri)
    if len(study.runs) != runs:
        raise RuntimeError(f"P4: load_study found {len(study.runs)} runs, expected {runs}")
    return len(study.curves)


def history_loop(uri: str, parent: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    found = client.search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1000
    )
    points = 0
    for run in found:
        for key in CURVES:
            points += len(client.get_metric_history(run.info.run_id, key))
    return points


# --- the store ------------------------------------------------------------------------------
def build_store(folder: Path, runs: int) -> tuple[str, str]:
    """A sweep of ``runs`` jobs in ``folder/mlflow.db``, written once; (uri, parent run id)."""
    from mlflow import MlflowClient

    from harness.store import prepare_store

    folder.mkdir(parents=True, exist_ok=True)
    uri, experiment_id = prepare_store(f"sqlite:///{folder / 'mlflow.db'}", EXPERIMENT)
    client = MlflowClient(uri)
    done = client.search_runs([experiment_id], "tags.`optlab.role` = 'sweep'", max_results=1)
    if done and done[0].info.status == "FINISHED":
        return uri, done[0].info.run_id
    tags = {"optlab.role": "sweep", "optlab.sweep_id": "bench", "optlab.study": EXPERIMENT}
    parent = client.create_run(experiment_id, run_name="sweep-bench", tags=tags).info.run_id
    rng = np.random.default_rng(0)
    for cfg in _configs(runs):
        _write_job(client, experiment_id, cfg, parent, rng)
    client.set_terminated(parent)
    return uri, parent


def _configs(runs: int):
    from harness import config as c

    classes = {"adagrad": c.AdagradConfig, "rmsprop": c.RMSpropConfig}
    classes |= {"momentum": c.MomentumConfig, "adam": c.AdamConfig}
    for i in range(runs):
        name = OPTIMIZERS[i % len(OPTIMIZERS)]
        scale = LR_SCALES[(i // len(OPTIMIZERS)) % len(LR_SCALES)]
        seed = i // (len(OPTIMIZERS) * len(LR_SCALES))
        optimizer = classes[name](lr=round(0.001 * scale, 6))
        tracking = c.TrackingConfig(experiment=EXPERIMENT)
        trainer = c.TrainerConfig(steps=STEPS, eval_every=EVAL_EVERY)
        yield c.Config(
            optimizer=optimizer, trainer=trainer, tracking=tracking, seed=seed, study=EXPERIMENT
        )


def _write_job(client, experiment_id: str, cfg, parent: str, rng) -> None:
    """One job's run, logged by the harness's own sink and end-of-run upload."""
    from mlflow.entities import Param

    from harness.job import job_params
    from harness.tracking import (
        MlflowSink,
        config_hash,
        label,
        log_run_end,
        metric_stride,
        run_name,
    )
    from harness.train import TrainResult, summarize

    tags = {
        "optlab.role": "job",
        "optlab.study": EXPERIMENT,
        "optlab.optimizer": cfg.optimizer.name,
        "optlab.label": label(cfg),
        "optlab.config_hash": config_hash(cfg),
        "optlab.group": config_hash(cfg, with_seed=False),
        "mlflow.parentRunId": parent,
        "optlab.sweep_id": "bench",
    }
    run_id = client.create_run(experiment_id, run_name=run_name(cfg), tags=tags).info.run_id
    client.log_batch(run_id, params=[Param(k, v) for k, v in job_params(cfg).items()])
    curves = _made_up_curves(cfg.optimizer.lr, rng)
    sink = MlflowSink(client, run_id, metric_stride(0, STEPS))
    sink.on_start(curves)
    for step in range(1, STEPS + 1):
        sink.on_step(step, curves)
    result = TrainResult(curves=curves, steps_done=STEPS)
    result.summary = summarize(curves, result)
    sink.on_end(result)
    log_run_end(client, run_id, result, {"config.yaml": f"# {run_name(cfg)}\n"})
    client.set_terminated(run_id, "FINISHED")


def _made_up_curves(lr: float, rng):
    from harness.curves import Curves

    curves = Curves(CURVES, STEPS)
    t = np.arange(1, STEPS + 1, dtype=float)
    loss = (0.1 + 2.0 / (1.0 + 10 * lr * t)) * rng.normal(1.0, 0.02, t.size)
    curves.data[1:, 0] = loss
    curves.data[1:, 1] = np.sqrt(loss)
    curves.data[1:, 2] = lr / np.sqrt(t)
    curves.data[1:, 3] = 0.1 * lr / np.sqrt(t)
    evals = np.arange(0, STEPS + 1, EVAL_EVERY)
    curves.data[evals, 4] = 1.1 * (0.1 + 2.0 / (1.0 + 10 * lr * evals))
    return curves
