"""Benchmark: load a sweep's curves with analysis.load vs a get_metric_history loop.

    .venv/bin/python tests/analysis_bench.py [--runs 200] [--steps 2000] [--dir DIR]

Builds (once, in ``DIR``) a SQLite store of ``runs`` contract jobs with 5 curves of ``steps``
points each, logged both as full-resolution metric history and as ``curves.parquet``, then
times :func:`analysis.load.load_study` against a ``MlflowClient.get_metric_history`` loop over
every run and curve. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from analysis_fixtures import (  # noqa: E402
    JobSpec,
    _log_parquet,
    history_of,
    make_curves,
    params_of,
    tags_of,
)
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Param  # noqa: E402

from analysis.load import load_study  # noqa: E402

CURVES = ["train_loss", "grad_norm", "effective_lr_median", "update_ratio", "val_loss"]
EXPERIMENT = "bench"


def build(root: Path, runs: int, steps: int) -> str:
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri)
    if client.get_experiment_by_name(EXPERIMENT):
        return uri
    experiment_id = client.create_experiment(EXPERIMENT, (root / "artifacts").as_uri())
    parent = client.create_run(experiment_id, tags={"optlab.role": "sweep"}).info.run_id
    for i in range(runs):
        spec = JobSpec(
            ("adagrad", "rmsprop")[i % 2],
            0.1,
            i,
            0.9 if i % 2 else None,
            steps=steps,
            eval_every=steps // 20,
        )
        wide = make_curves(spec)[["step", *CURVES]]
        run_id = client.create_run(experiment_id, tags=tags_of(spec, wide, parent, "s")).info.run_id
        metrics = history_of(wide, 1, 0)
        params = [Param(k, v) for k, v in params_of(spec).items()]
        for start in range(0, len(metrics), 1000):
            client.log_batch(
                run_id, metrics[start : start + 1000], params=params if start == 0 else []
            )
        _log_parquet(client, run_id, wide)
        client.set_terminated(run_id)
    return uri


def history_loop(uri: str) -> int:
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    points = 0
    for run in client.search_runs([experiment_id], "tags.`optlab.role` = 'job'", max_results=50000):
        for key in CURVES:
            points += len(client.get_metric_history(run.info.run_id, key))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "analysis-bench")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    uri = build(args.dir, args.runs, args.steps)
    print(f"store ready in {time.perf_counter() - start:.1f} s: {uri}")
    start = time.perf_counter()
    study = load_study(EXPERIMENT, sweep=None, tracking_uri=uri)
    fast = time.perf_counter() - start
    print(f"analysis.load: {len(study.runs)} runs, {len(study.curves)} points in {fast:.2f} s")
    start = time.perf_counter()
    points = history_loop(uri)
    slow = time.perf_counter() - start
    print(f"get_metric_history loop: {points} points in {slow:.2f} s")
    print(f"speed-up: {slow / fast:.0f}x")


if __name__ == "__main__":
    main()
