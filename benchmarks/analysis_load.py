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

A third store holds ten times the sweep (2,000 runs): the harness's store and, for every further
job, a copy of the harness-written job with the same optimizer and lr under its own run id,
name, seed and config hash (:func:`build_large_store`). ``load_study`` on it, interleaved with
the rest, gives the cost per run at both sizes; the baseline is not run there (its store alone
takes ten times the 200-run one to write).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

import numpy as np

from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave, median, time_call

GOAL = 300.0  # full-history loop ÷ load_study at 200 runs
LINEAR = 1.25  # load_study's seconds per run, ten times the runs ÷ the sweep's: at most
STEPS, EVAL_EVERY = 2000, 100
CURVES = ("train_loss", "grad_norm", "effective_lr_median", "update_ratio", "val_loss")
EXPERIMENT = "bench-analysis"
OPTIMIZERS = ("adagrad", "rmsprop", "momentum", "adam")
LR_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)
BATCH = 1000  # MLflow's most metrics in one log_batch


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    runs = 40 if quick else 200
    large = 10 * runs
    folder = workdir / f"P4-{runs}"
    built = time_call(lambda: build_store(folder / "harness", runs))
    built_full = time_call(lambda: build_history_store(folder / "history", runs))
    large_folder = folder / f"harness-{large}"
    built_large = time_call(lambda: build_large_store(large_folder, large, folder / "harness"))
    uri, parent = build_store(folder / "harness", runs)  # already there: returns at once
    full_uri, full_parent = build_history_store(folder / "history", runs)
    large_uri, large_parent = build_large_store(large_folder, large, folder / "harness")
    loaded = {}
    ours, ours_large = "load_study", f"load_study, {large} runs"
    sides = {
        "full-history loop": lambda: loaded.update(full=history_loop(full_uri, full_parent)),
        "strided-history loop": lambda: loaded.update(strided=history_loop(uri, parent)),
        ours: lambda: loaded.update(ours=load_ours(uri, parent, runs)),
        ours_large: lambda: loaded.update(large=load_ours(large_uri, large_parent, large)),
    }
    times = interleave(sides, repeats)
    seconds = ", ".join(f"{name} {median(values):.2f} s" for name, values in times.items())
    same = same_points(loaded["full"], loaded["ours"])
    points = {"ours": len(loaded["ours"].curves), "large": len(loaded["large"].curves)}
    points |= {side: count_points(loaded[side]) for side in ("full", "strided")}
    per_run = {
        "load_study": [t / runs for t in times[ours]],
        "large": [t / large for t in times[ours_large]],
        "full": [t / runs for t in times["full-history loop"]],
    }
    ms = {side: f"{median(values) * 1000:.2f} ms" for side, values in per_run.items()}
    stages = {
        n: stage_seconds(*where, n)
        for n, where in ((runs, (uri, parent)), (large, (large_uri, large_parent)))
    }
    return Section(
        key="P4",
        title=f"analysis load: {runs} runs × {len(CURVES)} curves × {STEPS} steps (and {large})",
        commands=[
            f"python -m benchmarks --only P4{' --quick' if quick else ''}",
            f"# ours: analysis.load.load_study({EXPERIMENT!r}, sweep=<parent run id>, "
            "tracking_uri='sqlite:///<tmp>/harness/mlflow.db')",
            "# baseline: for run in client.search_runs(<sweep's children>): "
            "for key in curves: client.get_metric_history(run_id, key)",
            "#   goal: on sqlite:///<tmp>/history/mlflow.db (every step logged with log_batch);"
            " reference: on the harness's store (strided history)",
            f"# linear: load_study on sqlite:///<tmp>/harness-{large}/mlflow.db ({large} runs)",
        ],
        comparisons=[
            Comparison(
                f"full-resolution get_metric_history loop ÷ load_study, {runs} runs "
                "(the goal's measure: same points)",
                Ratio.of(times["full-history loop"], times[ours]),
                GOAL,
                check_failed="" if same else "points differ",
            ),
            Comparison(
                f"strided (UI) get_metric_history loop ÷ load_study, {runs} runs "
                f"({points['strided'] / points['ours']:.0%} of the points)",
                Ratio.of(times["strided-history loop"], times[ours]),
            ),
            Comparison(
                f"load_study's seconds per run: {large} runs ÷ {runs} runs (linear in runs)",
                Ratio.of(per_run["large"], per_run["load_study"]),
                LINEAR,
                lower_is_better=True,
                check_failed="" if points["large"] == 10 * points["ours"] else "points differ",
            ),
        ],
        notes=[
            f"Seconds per run (median): load_study {ms['load_study']} at {runs} runs and "
            f"{ms['large']} at {large} runs; the full-history loop {ms['full']} at {runs} runs "
            f"(not run at {large}: its store took {built_full:.0f} s to write for {runs} runs).",
            "Where load_study's time goes, ms per run (one pass after the timing): "
            + "; ".join(
                f"{n} runs: " + ", ".join(f"{name} {t / n * 1000:.2f}" for name, t in parts.items())
                for n, parts in stages.items()
            )
            + ".",
            f"Points: load_study {points['ours']:,} (full-resolution curves.parquet, and it "
            f"also builds the runs table); full-history loop {points['full']:,}, "
            f"{'the same (run, curve, step, value)' if same else 'NOT the same'} points; "
            f"strided-history loop {points['strided']:,}; load_study at {large} runs "
            f"{points['large']:,}. The loops return lists of Metric objects, not a table.",
            f"Median seconds: {seconds}. Writing the stores took {built:.0f} s (harness), "
            f"{built_full:.0f} s (full history, {BATCH} metrics a log_batch) and "
            f"{built_large:.0f} s ({large} runs: the harness's store copied, then the further "
            "jobs copied in SQL from it, see build_large_store), not timed.",
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


def stage_seconds(uri: str, parent: str, runs: int) -> dict[str, float]:
    """Seconds of load_study's stages, run one after the other as load_study runs them."""
    from mlflow import MlflowClient

    from analysis.curves import load_curves
    from analysis.load import load_experiment, load_runs, load_sweep_run

    started, seconds = time.perf_counter(), {}

    def lap(name: str) -> None:
        nonlocal started
        seconds[name], started = time.perf_counter() - started, time.perf_counter()

    client = MlflowClient(uri)
    experiment = load_experiment(client, EXPERIMENT)
    sweep = load_sweep_run(client, experiment, parent)
    lap("experiment and sweep run")
    table = load_runs(client, experiment, sweep)
    lap("runs table (SQL, pandas)")
    curves = load_curves(table, tracking_uri=uri)
    lap(f"curves ({runs} curves.parquet read, long table)")
    if len(table) != runs or curves.empty:
        raise RuntimeError(f"P4: the stages found {len(table)} runs, expected {runs}")
    return seconds


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
    from harness.tracking.sink import MlflowSink, log_run_end, metric_stride, run_name

    tags = _job_tags(cfg, parent)
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


def _job_tags(cfg, parent: str) -> dict[str, str]:
    from harness.tracking.sink import config_hash, label

    return {
        "optlab.role": "job",
        "optlab.study": EXPERIMENT,
        "optlab.optimizer": cfg.optimizer.name,
        "optlab.label": label(cfg),
        "optlab.config_hash": config_hash(cfg),
        "optlab.group": config_hash(cfg, with_seed=False),
        "mlflow.parentRunId": parent,
        "optlab.sweep_id": "bench",
    }


def build_large_store(folder: Path, runs: int, template: Path) -> tuple[str, str]:
    """A sweep of ``runs`` jobs built from the harness-written store in ``template``: a copy of
    it, then every further job a copy of the template job with the same optimizer and lr.

    A copy is made in SQL: the job's rows in every table MLflow keeps per run (``runs``,
    ``tags``, ``params``, ``metrics``, ``latest_metrics``) under a new run id, with the run
    name, params and tags the harness writes for the copy's own config (its seed), and its
    artifacts folder (``curves/curves.parquet`` as is, ``config.yaml`` naming the copy). So the
    store holds what ``runs`` jobs leave; only the curves repeat the template's. Writing each
    job with MLflow's client instead costs ~0.14 s a job on a quiet machine, far more loaded.
    """
    if not (folder / "mlflow.db").is_file():
        shutil.copytree(template, folder)
        with closing(sqlite3.connect(folder / "mlflow.db")) as db, db:
            old, new = template.resolve().as_uri(), folder.resolve().as_uri()
            db.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (old, new))
            db.execute(
                "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)",
                (old, new),
            )
            _add_copies(db, folder / "artifacts", runs)
    with closing(sqlite3.connect(folder / "mlflow.db")) as db:
        return f"sqlite:///{folder / 'mlflow.db'}", _sweep_parent(db)


def _add_copies(db: sqlite3.Connection, artifacts: Path, runs: int) -> None:
    """Add jobs to the copied sweep until it has ``runs``, each from its template job."""
    from harness.tracking.job import job_params
    from harness.tracking.sink import run_name

    parent = _sweep_parent(db)
    sources = dict(db.execute("SELECT name, run_uuid FROM runs WHERE run_uuid != ?", (parent,)))
    if len(sources) % (len(OPTIMIZERS) * len(LR_SCALES)):  # a copy keeps its lr's curves
        raise ValueError(f"P4: a template of {len(sources)} jobs is not whole seeds")
    configs = list(_configs(runs))
    start = db.execute("SELECT max(start_time) FROM runs").fetchone()[0]
    for i, cfg in enumerate(configs[len(sources) :], start=len(sources)):
        source = sources[run_name(configs[i % len(sources)])]
        run_id = _copy_run(db, source, start + i)
        db.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (run_name(cfg), run_id))
        tags = {**_job_tags(cfg, parent), "mlflow.runName": run_name(cfg)}
        for table, values in (("params", job_params(cfg)), ("tags", tags)):
            db.executemany(
                f'UPDATE {table} SET value = ? WHERE run_uuid = ? AND "key" = ?',
                [(str(value), run_id, key) for key, value in values.items()],
            )
        shutil.copytree(artifacts / source, artifacts / run_id)
        (artifacts / run_id / "artifacts" / "config.yaml").write_text(f"# {run_name(cfg)}\n")


def _sweep_parent(db: sqlite3.Connection) -> str:
    found = "SELECT run_uuid FROM tags WHERE key = 'optlab.role' AND value = 'sweep'"
    return db.execute(found).fetchone()[0]


def _copy_run(db: sqlite3.Connection, source: str, start_time: int) -> str:
    """A new run holding ``source``'s rows in MLflow's per-run tables; its id."""
    run_id = uuid.uuid4().hex
    for table in ("runs", "tags", "params", "metrics", "latest_metrics"):
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        names = ", ".join(f'"{col}"' for col in columns)
        picked = ", ".join("?" if col == "run_uuid" else f'"{col}"' for col in columns)
        db.execute(
            f"INSERT INTO {table} ({names}) SELECT {picked} FROM {table} WHERE run_uuid = ?",
            (run_id, source),
        )
    db.execute(
        "UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?),"
        " end_time = end_time - start_time + ?, start_time = ? WHERE run_uuid = ?",
        (source, run_id, start_time, start_time, run_id),
    )
    return run_id


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
