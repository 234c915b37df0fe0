"""P4 — loading a sweep for analysis: ``analysis.load.load_study`` against a metric-history loop.

Two stores hold the same sweep: the same configs and the same made-up curves, 200 runs (40
with ``--quick``) × 5 curves × 2000 steps. The harness's store is written by its own tracking
code (``MlflowSink`` and ``log_run_end``), so it holds what real jobs leave: the params, the
tags, a UI-resolution metric history (every ``metric_stride``-th step) and the full curves as
``curves/curves.parquet``; ``load_study`` reads it and builds the runs and curves tables. The
baseline's store is what a user without the harness leaves: the params, the tags and every
point of every curve as metric history, logged with ``log_batch``; the baseline lists the
sweep's runs and calls ``MlflowClient.get_metric_history`` for every run and curve, so it loads
the same points ``load_study`` returns (the goal's measure, checked point for point). The same
loop over the harness's strided history, about 15% of the points, is kept as a reference.
"""

from __future__ import annotations

import time
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
BATCH = 1000  # MLflow's most metrics in one log_batch


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    runs = 40 if quick else 200
    folder = workdir / f"P4-{runs}"
    built = time_call(lambda: build_store(folder / "harness", runs))
    built_full = time_call(lambda: build_history_store(folder / "history", runs))
    uri, parent = build_store(folder / "harness", runs)  # already there: returns at once
    full_uri, full_parent = build_history_store(folder / "history", runs)
    loaded = {}
    sides = {
        "full-history loop": lambda: loaded.update(full=history_loop(full_uri, full_parent)),
        "strided-history loop": lambda: loaded.update(strided=history_loop(uri, parent)),
        "load_study": lambda: loaded.update(ours=load_ours(uri, parent, runs)),
    }
    times = interleave(sides, repeats)
    seconds = ", ".join(f"{name} {median(values):.2f} s" for name, values in times.items())
    same = same_points(loaded["full"], loaded["ours"])
    points = {"ours": len(loaded["ours"].curves)}
    points |= {side: count_points(loaded[side]) for side in ("full", "strided")}
    return Section(
        key="P4",
        title=f"analysis load: {runs} runs × {len(CURVES)} curves × {STEPS} steps",
        commands=[
            f"python -m benchmarks --only P4{' --quick' if quick else ''}",
            f"# ours: analysis.load.load_study({EXPERIMENT!r}, sweep=<parent run id>, "
            "tracking_uri='sqlite:///<tmp>/harness/mlflow.db')",
            "# baseline: for run in client.search_runs(<sweep's children>): "
            "for key in curves: client.get_metric_history(run_id, key)",
            "#   goal: on sqlite:///<tmp>/history/mlflow.db (every step logged with log_batch);"
            " reference: on the harness's store (strided history)",
        ],
        comparisons=[
            Comparison(
                f"full-resolution get_metric_history loop ÷ load_study, {runs} runs "
                "(the goal's measure: same points)",
                Ratio.of(times["full-history loop"], times["load_study"]),
                GOAL,
                check_failed="" if same else "points differ",
            ),
            Comparison(
                f"strided (UI) get_metric_history loop ÷ load_study, {runs} runs "
                f"({points['strided'] / points['ours']:.0%} of the points)",
                Ratio.of(times["strided-history loop"], times["load_study"]),
            ),
        ],
        notes=[
            f"Points: load_study {points['ours']:,} (full-resolution curves.parquet, and it "
            f"also builds the runs table); full-history loop {points['full']:,}, "
            f"{'the same (run, curve, step, value)' if same else 'NOT the same'} points; "
            f"strided-history loop {points['strided']:,}. The loops return lists of Metric "
            "objects, not a table.",
            f"Median seconds: {seconds}. Writing the stores took {built:.0f} s (harness) and "
            f"{built_full:.0f} s (full history, {BATCH} metrics a log_batch), not timed.",
            "Stores: SQLite, artifacts on local disk. The harness's is written by "
            "harness.tracking.MlflowSink and log_run_end as a job does (stride "
            f"{_stride()}, val_loss every {EVAL_EVERY} steps).",
        ],
    )


def _stride() -> int:
    from harness.tracking.sink import metric_stride

    return metric_stride(0, STEPS)


def load_ours(uri: str, parent: str, runs: int):
    from analysis.load import load_study

    study = load_study(EXPERIMENT, sweep=parent, tracking_uri=uri)
    if len(study.runs) != runs:
        raise RuntimeError(f"P4: load_study found {len(study.runs)} runs, expected {runs}")
    return study


def history_loop(uri: str, parent: str) -> dict[str, dict[str, list]]:
    """``{run name: {curve: [Metric, ...]}}`` of the sweep's children, as a user's loop keeps."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    found = client.search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1000
    )
    return {
        run.info.run_name: {key: client.get_metric_history(run.info.run_id, key) for key in CURVES}
        for run in found
    }


def count_points(history: dict[str, dict[str, list]]) -> int:
    return sum(len(metrics) for curves in history.values() for metrics in curves.values())


def same_points(history: dict[str, dict[str, list]], study) -> bool:
    """Whether a loop loaded exactly the (run, curve, step, value) points of ``load_study``."""
    import pandas as pd

    columns = ["run_name", "metric", "step", "value"]
    theirs = pd.DataFrame(
        [
            (name, key, m.step, m.value)
            for name, curves in history.items()
            for key, metrics in curves.items()
            for m in metrics
        ],
        columns=columns,
    )
    names = study.runs.set_index("run_id")["run_name"]
    ours = study.curves.assign(
        run_name=study.curves["run_id"].map(names).astype(str),
        metric=study.curves["metric"].astype(str),
        step=study.curves["step"].astype("int64"),
    )[columns]
    return _sorted(theirs).equals(_sorted(ours))


def _sorted(table):
    return table.sort_values(["run_name", "metric", "step"], ignore_index=True)


# --- the store ------------------------------------------------------------------------------
def build_store(folder: Path, runs: int) -> tuple[str, str]:
    """A sweep of ``runs`` jobs in ``folder/mlflow.db``, written once; (uri, parent run id)."""
    from mlflow import MlflowClient

    from harness.tracking.store import prepare_store

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


def build_history_store(folder: Path, runs: int) -> tuple[str, str]:
    """The same sweep as a user without the harness logs it: params, tags and every point of
    every curve as metric history, ``BATCH`` metrics a ``log_batch``; (uri, parent run id)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from harness.tracking.job import job_params
    from harness.tracking.sink import run_name

    folder.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is None:
        experiment_id = client.create_experiment(EXPERIMENT, (folder / "artifacts").as_uri())
    else:
        experiment_id = found.experiment_id
    done = client.search_runs([experiment_id], "tags.`role` = 'sweep'", max_results=1)
    if done and done[0].info.status == "FINISHED":
        return client.tracking_uri, done[0].info.run_id
    parent = client.create_run(experiment_id, run_name="sweep-bench", tags={"role": "sweep"})
    parent_id = parent.info.run_id
    rng = np.random.default_rng(0)  # the harness store's curves, config for config
    for cfg in _configs(runs):
        curves = _made_up_curves(cfg.optimizer.lr, rng)
        tags = {"mlflow.parentRunId": parent_id, "optimizer": cfg.optimizer.name}
        run_id = client.create_run(experiment_id, run_name=run_name(cfg), tags=tags).info.run_id
        params = [Param(k, v) for k, v in job_params(cfg).items()]
        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now, int(step))
            for j, key in enumerate(curves.columns)
            for step, value in enumerate(curves.data[:, j])
            if not np.isnan(value)
        ]
        client.log_batch(run_id, params=params)
        for start in range(0, len(metrics), BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + BATCH])
        client.set_terminated(run_id)
    client.set_terminated(parent_id)
    return client.tracking_uri, parent_id


def _configs(runs: int):
    from harness.core import config as c

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

    from harness.core.train import TrainResult, summarize
    from harness.tracking.job import job_params
    from harness.tracking.sink import (
        MlflowSink,
        config_hash,
        label,
        log_run_end,
        metric_stride,
        run_name,
    )

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
    from harness.core.curves import Curves

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
