"""Loading and reporting against a real ``mlflow server`` (artifacts proxied over HTTP)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from analysis_fixtures import JobSpec, log_sweep
from mlflow import MlflowClient
from tracking_checks import free_port, mlflow_server_command, serving

from analysis.load import load_study
from analysis.report import write_report

pytestmark = [pytest.mark.slow, pytest.mark.full]  # a real server: make test-long and CI
STARTUP_SECONDS = 240  # 10-45 s on an idle machine; far more on a busy one


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A ``mlflow server`` on a free loopback port, stopped (its process group) at teardown."""
    root = tmp_path_factory.mktemp("server")
    port = free_port()
    command = mlflow_server_command(root, port)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    url = f"http://127.0.0.1:{port}"
    with serving(command, url, root / "server.log", STARTUP_SECONDS, env=env, cwd=root):
        yield url


def test_remote_store_loads_exactly_what_was_logged(server, tmp_path):
    specs = [
        JobSpec(opt, 0.1, seed, 0.9 if opt == "rmsprop" else None, steps=60, eval_every=10)
        for opt in ("adagrad", "rmsprop")
        for seed in range(2)
    ]
    specs[1] = replace(specs[1], write_parquet=False)  # falls back to the metric history
    logged = log_sweep(MlflowClient(server), "remote-study", specs, "sweep-remote")

    study = load_study("remote-study", tracking_uri=server)
    assert study.runs["artifact_uri"].str.startswith("mlflow-artifacts:").all()
    assert set(study.runs["run_id"]) == set(logged.specs)
    counts = study.curves.groupby(["run_id", "metric"], observed=True).size()
    for run_id, wide in logged.curves.items():
        for metric in wide.columns.drop("step"):
            assert counts[(run_id, metric)] == wide[metric].notna().sum(), (run_id, metric)

    write_report(study, tmp_path / "report")
    client = MlflowClient(server)
    names = {f.path for f in client.list_artifacts(logged.parent_run_id, "report")}
    assert "report/report.html" in names
