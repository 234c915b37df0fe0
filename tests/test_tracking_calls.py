"""What a tracked job asks of its store: few calls, and nothing lost on the way out.

Real jobs, in-process, on a temporary SQLite store; the client's calls are counted by wrapping
the real ``MlflowClient`` methods (every call still reaches the store), and what the run holds
is read back as a user reads it.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag

from harness.core.config import Config, SpiralsConfig, TrackingConfig, TrainerConfig
from harness.core.curves import Curves
from harness.tracking.checkpoint import checkpoint_path
from harness.tracking.job import job_params, run_job
from harness.tracking.sink import BATCH_POINTS, MlflowSink, config_hash, run_tags
from harness.tracking.store import prepare_store

COUNTED = ("create_run", "log_batch", "set_terminated", "search_runs", "log_artifacts", "set_tag")


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """How often each of ``COUNTED`` was called on any ``MlflowClient`` (the calls go through)."""
    counts: Counter = Counter()
    for name in COUNTED:
        method = getattr(MlflowClient, name)

        def counted(self, *args, _name=name, _method=method, **kwargs):
            counts[_name] += 1
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(MlflowClient, name, counted)
    return counts


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One store for the module (a new SQLite store costs seconds); each test its own study."""
    folder = tmp_path_factory.mktemp("tracking-calls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTLAB_CHECKPOINT_DIR", str(folder / "checkpoints"))
        yield folder


def small_job(folder: Path, study: str, **tracking) -> Config:
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    prepare_store(uri, study)  # the store and the experiment exist before any call is counted
    return Config(
        dataset=SpiralsConfig(),
        trainer=TrainerConfig(steps=60, eval_every=20, progress=False),
        tracking=TrackingConfig(uri=uri, experiment=study, **tracking),
        study=study,
    )


def test_a_new_job_creates_logs_and_ends_its_run_in_three_calls(folder, calls):
    """Tags in ``create_run``; params, the UI copy, the summary in one ``log_batch``; the
    artifacts written in place; ``set_terminated``. The only search is for a finished twin."""
    cfg = small_job(folder, "calls", metric_every=10)
    files = {"config.yaml": "seed: 0\n"}
    outcome = run_job(cfg, files)
    assert outcome.status == "FINISHED"
    assert dict(calls) == {"create_run": 1, "log_batch": 1, "set_terminated": 1, "search_runs": 1}

    client = MlflowClient(cfg.tracking.uri)
    run = client.get_run(outcome.run_id)
    assert run.data.params == job_params(cfg)
    assert run.data.tags["optlab.diverged"] == "false"
    assert {"final_val_loss", "best_val_accuracy"} <= run.data.metrics.keys()
    history = client.get_metric_history(outcome.run_id, "train_loss")
    assert sorted(m.step for m in history) == [10, 20, 30, 40, 50, 60]

    folder = Path(urlsplit(run.info.artifact_uri).path)  # a local store: written in place
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert written == ["config.yaml", "curves/curves.parquet"]  # no temporary file left
    assert (folder / "config.yaml").read_text() == files["config.yaml"]
    curves = pd.read_parquet(folder / "curves" / "curves.parquet")
    assert curves["step"].tolist() == list(range(61))
    for metric in history:
        assert curves.loc[metric.step, "train_loss"] == metric.value


def test_a_lock_file_left_behind_makes_the_rerun_close_the_dead_jobs_run(folder):
    """``kill -9`` leaves the job's lock file and its RUNNING run; the rerun finds the file,
    ends that run KILLED and trains in a new one."""
    cfg = small_job(folder, "left-behind")
    client = MlflowClient(cfg.tracking.uri)
    experiment_id = client.get_experiment_by_name("left-behind").experiment_id
    tags = {**run_tags(cfg), "optlab.host": socket.gethostname()}
    dead = client.create_run(experiment_id, tags=tags).info.run_id
    path = checkpoint_path(cfg.tracking.uri, experiment_id, config_hash(cfg))
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()

    outcome = run_job(cfg)
    assert outcome.status == "FINISHED" and outcome.run_id != dead
    closed = client.get_run(dead)
    assert closed.info.status == "KILLED"
    assert "died" in closed.data.tags["optlab.error"]
    assert not lock.exists()


def test_a_job_that_fails_before_its_first_step_keeps_its_params(folder, monkeypatch):
    """The params ride in the first ``log_batch``; a job that fails before any metric still
    sends them on its way out, with the error."""
    cfg = small_job(folder, "early-failure")

    def fails(*args, **kwargs):
        raise RuntimeError("the model broke")

    monkeypatch.setattr("harness.tracking.job.train", fails)
    with pytest.raises(RuntimeError):
        run_job(cfg)
    client = MlflowClient(cfg.tracking.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("early-failure").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.params == job_params(cfg)
    assert "the model broke" in run.data.tags["optlab.error"]


def test_a_flush_past_mlflows_batch_limit_splits_into_whole_steps(folder, monkeypatch):
    """MLflow takes at most 1000 metrics, params and tags together in a call: the params go in
    the first call, the summary and tags in the last, and no step is split between calls."""
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    _, experiment_id = prepare_store(uri, "split")
    client = MlflowClient(uri)
    run_id = client.create_run(experiment_id).info.run_id
    sent = []
    log_batch = MlflowClient.log_batch

    def recorded(self, run_id, metrics=(), params=(), tags=(), **kwargs):
        sent.append({"metrics": metrics, "params": params, "tags": tags})
        return log_batch(self, run_id, metrics=metrics, params=params, tags=tags, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", recorded)
    curves = Curves(("train_loss", "grad_norm", "update_ratio"), steps=400)
    curves.data[:] = np.arange(401.0)[:, None] + np.array([0.1, 0.2, 0.3])
    params = {f"p{i}": str(i) for i in range(40)}
    sink = MlflowSink(client, run_id, stride=1, params=params)
    sink.attach(curves)
    for step in range(401):
        sink.add(step)  # 1203 values pending, as a sink holds them between flushes
    summary = [Metric(f"final_{i}", 1.0, 0, 0) for i in range(3)]
    sink.flush(summary, [RunTag("done", "yes")])

    assert len(sent) == 2
    first, last = sent
    assert all(sum(map(len, call.values())) <= BATCH_POINTS for call in sent)
    assert (len(first["params"]), len(first["tags"])) == (len(params), 0)
    assert (len(last["params"]), len(last["tags"])) == (0, 1)
    assert all(m in last["metrics"] for m in summary)
    steps = [{m.step for m in call["metrics"] if m.key in curves.columns} for call in sent]
    assert not steps[0] & steps[1] and steps[0] | steps[1] == set(range(401))
    run = client.get_run(run_id)
    assert run.data.params == params and run.data.tags["done"] == "yes"
    history = client.get_metric_history(run_id, "update_ratio")
    assert sorted(m.step for m in history) == list(range(401))
    sink.flush()
    assert len(sent) == 2  # nothing left to send, params included
