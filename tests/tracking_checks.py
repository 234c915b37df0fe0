"""Helpers for the reliability and team-mode tests: start, kill and read back real jobs.

Jobs run as ``python -m harness`` in their own process group (so ``kill -9`` reaches the joblib
workers too); stores are read back with ``MlflowClient``, the way a user or ``analysis`` reads
them: run status, metric history, and the ``curves/curves.parquet`` artifact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

PROJECT = Path(__file__).resolve().parent.parent
#: What the test tools themselves may add to the project's top level: pytest's cache and
#: hypothesis' folder. Anything else a test leaves there fails the session (``conftest``).
TOOL_ENTRIES = frozenset({".pytest_cache", ".hypothesis"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mlflow_server_command(folder: Path, port: int) -> list[str]:
    """A plain ``mlflow server`` on loopback: SQLite and artifacts in ``folder``, one worker."""
    command = [sys.executable, "-m", "mlflow", "server", "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'server.db'}"]
    command += ["--artifacts-destination", str(folder / "artifacts")]
    return command + ["--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def serving(
    command: list[str], url: str, log_path: Path, timeout: float = 240, **popen
) -> Iterator[subprocess.Popen]:
    """Start an MLflow server (``command``) in its own process group, logging to ``log_path``;
    yield it once ``url/health`` answers 200 (10-45 s idle, far more on a busy machine); stop
    the whole group at exit."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
    try:
        wait_healthy(url, process, log_path, timeout)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Return when ``url/health`` answers 200; fail with the log's tail if the server dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"the server at {url} did not answer in {timeout:.0f} s:\n{log_path.read_text()[-3000:]}"
    )


def user_env(folder: Path, **extra: str) -> dict[str, str]:
    """A user's environment: the embedded store in ``folder``, telemetry off, no pytest vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        OPTLAB_STORE_DIR=str(folder / "store"),
        PYTHONPATH=str(PROJECT),
    )
    env.update(extra)
    return env


def start_harness(folder: Path, args: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    """``python -m harness *args`` in ``folder``, in a new process group, output to ``log``."""
    with open(folder / log, "w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def run_harness(folder: Path, args: list[str], env: dict[str, str], log: str, timeout=600):
    """Run to the end; return (exit code, output)."""
    process = start_harness(folder, args, env, log)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        pytest.fail(f"python -m harness {' '.join(args)} did not end in {timeout} s")
    return code, (folder / log).read_text()


def kill_group(process: subprocess.Popen) -> None:
    """``kill -9`` the whole process group and wait until none of it is alive."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while group_alive(process.pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process group {process.pid} survived kill -9")
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Any process of group ``pgid`` that is not a zombie."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_until(condition: Callable[[], object], what: str, timeout: float = 300) -> object:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def copy_store(template: Path, folder: Path) -> None:
    """Give ``folder`` an existing, migrated store (MLflow's migrations take seconds each time)."""
    (folder / "store").mkdir(parents=True)
    shutil.copy(template, folder / "store" / "mlflow.db")


# --- reading a store back -------------------------------------------------------------------
def runs_of(client: MlflowClient, experiment: str, role: str | None = "job") -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], max_results=5000)
    return [r for r in runs if role is None or r.data.tags.get("optlab.role") == role]


def statuses(runs) -> Counter:
    return Counter(run.info.status for run in runs)


def read_curves(client: MlflowClient, run_id: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "curves/curves.parquet", folder)
        return pd.read_parquet(path)


def assert_full_curves(client: MlflowClient, run, steps: int, every: int) -> pd.DataFrame:
    """Every step 0..steps is in the parquet artifact, and the metric history holds exactly the
    parquet's values, once each: every evaluation, and the other curves every ``every``-th and
    at the last step."""
    curves = read_curves(client, run.info.run_id)
    name = run.info.run_name
    assert curves["step"].tolist() == list(range(steps + 1)), f"{name}: parquet rows missing"
    assert curves["train_loss"].iloc[1:].notna().all(), f"{name}: train_loss has holes"
    strided = {steps, *range(every, steps + 1, every)}
    for column in ("train_loss", "grad_norm", "val_loss"):
        history = client.get_metric_history(run.info.run_id, column)
        got = sorted((m.step, m.value) for m in history)
        expected = [
            (step, value)
            for step, value in enumerate(curves[column])
            if not np.isnan(value) and (column == "val_loss" or step in strided)
        ]
        assert [s for s, _ in got] == [s for s, _ in expected], f"{name}: {column} steps differ"
        np.testing.assert_array_equal([v for _, v in got], [v for _, v in expected])
    return curves


def assert_one_finished_run_per_job(runs, jobs: int) -> None:
    finished = Counter(
        r.data.tags["optlab.config_hash"] for r in runs if r.info.status == "FINISHED"
    )
    assert len(finished) == jobs, f"{len(finished)} jobs finished, expected {jobs}"
    assert set(finished.values()) == {1}, f"duplicate FINISHED runs: {finished}"
