"""The servers: ``make ui`` is light and quiet; team mode (``make server``, MLflow over
PostgreSQL) takes a parallel sweep whole.

``make ui``: a real ``mlflow server`` started by ``harness.tracking.ui`` on a free loopback port
over a temporary store, its process tree measured with psutil, its log read.
Team mode: a real PostgreSQL (set up by ``.ci/setup-postgres``, a fresh database per test
session), a real ``mlflow server`` started by ``harness.tracking.server`` on a free loopback
port, and a
joblib sweep of four jobs logging to it through HTTP. Read back through the server, as a teammate
would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from analysis_fixtures import LoggedSweep
from browser import PLAIN, REPORT_TITLE, STUDY, ui_store
from mlflow import MlflowClient
from tracking_checks import (
    PROJECT,
    assert_full_curves,
    assert_one_finished_run_per_job,
    free_port,
    run_harness,
    runs_of,
    serving,
    statuses,
    user_env,
)

from harness.tracking.ui import study_links

ADMIN_URI = "postgresql://optlab:optlab@127.0.0.1:5432/optlab"
SECRET = "s3cr3t-in-the-uri"
UI_RSS_LIMIT_MB = 600
JOB_RUNNER = ("_job_runner", "huey_consumer")  # MLflow's job-execution processes


# --- make ui: light and quiet ---------------------------------------------------------------
@pytest.fixture(scope="module")
def ui_store_folder(tmp_path_factory) -> tuple[Path, LoggedSweep]:
    return ui_store(tmp_path_factory.mktemp("ui"))


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_study_links_name_each_study_with_runs_and_its_latest_report(ui_store_folder):
    folder, sweep = ui_store_folder
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    ids = {name: client.get_experiment_by_name(name).experiment_id for name in (PLAIN, STUDY)}
    base = "http://127.0.0.1:5000"
    assert study_links(uri, base) == [
        f"{PLAIN}: {base}/#/experiments/{ids[PLAIN]}/runs?workflowType=machine_learning",
        f"{STUDY}: {base}/#/experiments/{ids[STUDY]}/runs?workflowType=machine_learning",
        f"{STUDY} report: {base}/#/experiments/{ids[STUDY]}/runs/{sweep.parent_run_id}"
        "/artifacts/report/report.html?workflowType=machine_learning",
    ]


@pytest.mark.full  # make test-long and CI (tests/test_ui_browser.py starts make ui in make test)
def test_make_ui_is_light_and_quiet_and_prints_links_that_exist(ui_store_folder, tmp_path):
    """One web worker and no job runner: at most 600 MB for the whole process tree; no line per
    request, no advice to bind 0.0.0.0; the printed report link names an artifact it serves."""
    folder, sweep = ui_store_folder
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "ui.log"
    command = [sys.executable, "-m", "harness.tracking.ui", "--port", str(port)]
    env = {**user_env(tmp_path), "OPTLAB_STORE_DIR": str(folder)}
    with serving(command, base, log, 180, cwd=tmp_path, env=env) as server:
        get(f"{base}/")
        get(f"{base}/ajax-api/2.0/mlflow/experiments/search?max_results=10")
        report = get(f"{base}/get-artifact?path=report/report.html&run_uuid={sweep.parent_run_id}")
        processes = process_tree(server.pid)
        rss_mb = sum(process.memory_info().rss for process in processes) / 2**20
        command_lines = [" ".join(process.cmdline()) for process in processes]
        printed = log.read_text()
    print(f"make ui: {len(processes)} processes, {rss_mb:.0f} MB RSS")
    assert rss_mb <= UI_RSS_LIMIT_MB, command_lines
    assert not [line for line in command_lines if any(name in line for name in JOB_RUNNER)]
    assert REPORT_TITLE in report
    assert f"{STUDY} report: {base}/#/experiments/" in printed
    assert f"/runs/{sweep.parent_run_id}/artifacts/report/report.html?workflowType=" in printed
    assert "Model training" in printed
    assert not [line for line in printed.splitlines() if '"GET /' in line], printed
    assert "0.0.0.0" not in printed, printed


@pytest.fixture(scope="session")
def database():
    """A fresh PostgreSQL database for this session, dropped at the end."""
    setup = subprocess.run(
        ["bash", str(PROJECT / ".ci" / "setup-postgres")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if setup.returncode != 0:
        reason = f"PostgreSQL cannot be started: {(setup.stderr or setup.stdout).strip()[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import sqlalchemy

    name = f"optlab_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"create database {name}"))
    yield ADMIN_URI.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"drop database if exists {name} with (force)"))
    admin.dispose()


@pytest.fixture(scope="module")
def server(database, tmp_path_factory):
    """``python -m harness.tracking.server`` on a free port; yields (url, process id, log file)."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    log = folder / "server.log"
    env = {**user_env(folder), "OPTLAB_SERVER_DB": database}
    command = [sys.executable, "-m", "harness.tracking.server", "--port", str(port)]
    command += ["--artifacts", str(folder / "artifacts")]
    url = f"http://127.0.0.1:{port}"
    with serving(command, url, log, 180, env=env) as process:
        yield url, process.pid, log


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.mark.postgres
def test_the_server_listens_on_loopback_only_and_hides_the_database_password(server):
    url, pid, log = server
    port = int(url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
    printed = log.read_text()
    assert f"tracking.uri={url}" in printed
    assert "optlab:***@" in printed and "optlab:optlab@" not in printed
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert "postgresql" not in command_line  # the URI is in the environment, not in `ps`
    command_lines = [" ".join(process.cmdline()) for process in process_tree(pid)]
    assert not [line for line in command_lines if any(name in line for name in JOB_RUNNER)]
    assert "0.0.0.0" not in printed


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.full  # make test-long and CI
def test_a_parallel_sweep_through_the_server_loses_nothing(server, database, tmp_path):
    url, _, _ = server
    env = user_env(  # credentials travel in MLflow's variables, never in tracking.uri
        tmp_path,
        OPTLAB_TEAM_URI=url,
        MLFLOW_TRACKING_USERNAME="alice",
        MLFLOW_TRACKING_PASSWORD=SECRET,
        OPTLAB_CHECKPOINT_DIR=str(tmp_path / "ckpt"),
    )
    args = [
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",
        "optimizer=sgd,momentum,rmsprop,adam",
        "study=team",
        "dataset=spirals",
        "trainer.steps=400",
        "trainer.eval_every=50",
        "trainer.checkpoint_every=100",
        "tracking.metric_every=4",
        "tracking.uri=${oc.env:OPTLAB_TEAM_URI}",
        "hydra.sweep.dir=team-sweep",
    ]
    code, output = run_harness(tmp_path, args, env, "sweep")
    assert code == 0, output[-3000:]
    assert "4 finished, 0 skipped, 0 failed" in output

    client = MlflowClient(url)
    runs = runs_of(client, "team")
    assert statuses(runs) == {"FINISHED": 4}
    assert_one_finished_run_per_job(runs, 4)
    (parent,) = runs_of(client, "team", role="sweep")
    assert parent.info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parent.info.run_id}
    default = client.get_experiment_by_name("Default")
    assert default is None or not client.search_runs([default.experiment_id])
    for run in runs:  # metric history and the parquet, both downloaded through the server
        assert_full_curves(client, run, steps=400, every=4)
    assert not list((tmp_path / "ckpt").glob("*.npz"))

    import sqlalchemy

    engine = sqlalchemy.create_engine(database)
    with engine.connect() as connection:  # the runs live in PostgreSQL
        query = "select count(*) from runs where status = 'FINISHED'"
        assert connection.execute(sqlalchemy.text(query)).scalar() == 5
    engine.dispose()

    logged = [output]
    for run in [*runs, parent]:
        logged += [*run.data.params.values(), *run.data.tags.values()]
    for run in runs:
        for artifact in ("config.yaml", "overrides.yaml"):
            folder = tmp_path / "read" / run.info.run_id
            logged.append(Path(client.download_artifacts(run.info.run_id, artifact, folder)))
    logged += [p for p in (tmp_path / "team-sweep").rglob("*") if p.is_file()]
    texts = [v.read_text(errors="replace") if isinstance(v, Path) else str(v) for v in logged]
    assert any(url in text for text in texts)  # the URI is logged; the password is nowhere
    for text in texts:
        assert SECRET not in text, text[:2000]


@pytest.mark.slow
def test_a_sweep_against_a_server_that_is_not_there_fails_fast_in_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    args = ["-m", "optimizer=sgd,adam", "study=nowhere", f"tracking.uri={url}"]
    code, output = run_harness(tmp_path, args, user_env(tmp_path), "sweep", timeout=120)
    assert code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach the tracking server" in errors[0], output
    assert "Traceback" not in output and "FINISHED" not in output
    assert not (tmp_path / "store").exists()  # nothing fell back to the embedded store


def test_the_server_refuses_to_start_without_its_database_in_one_line(tmp_path):
    db = f"postgresql://optlab:{SECRET}@127.0.0.1:{free_port()}/optlab"
    env = {**user_env(tmp_path), "OPTLAB_SERVER_DB": db}
    command = [sys.executable, "-m", "harness.tracking.server", "--artifacts", str(tmp_path / "a")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], lines
    assert SECRET not in lines[0] and "optlab:***@" in lines[0]


@pytest.mark.postgres
@pytest.mark.full
def test_with_basic_auth_only_logged_in_users_can_log(database, tmp_path):
    """``--basic-auth``: anonymous requests are refused; a job logs with a user's password."""
    port, password = free_port(), "first-admin-password"
    env = {**user_env(tmp_path), "OPTLAB_SERVER_DB": database}
    env["MLFLOW_AUTH_ADMIN_PASSWORD"] = password
    command = [sys.executable, "-m", "harness.tracking.server", "--port", str(port), "--basic-auth"]
    command += ["--artifacts", str(tmp_path / "artifacts")]
    url = f"http://127.0.0.1:{port}"
    with serving(command, url, tmp_path / "server.log", 180, env=env) as server:

        def status(path: str) -> int | None:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(url + path, timeout=2) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
            except OSError:
                return None

        assert status("/api/2.0/mlflow/experiments/search?max_results=1") == 401
        job_env = user_env(
            tmp_path, MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=password
        )
        args = ["study=guarded", "dataset=spirals", "trainer.steps=50", f"tracking.uri={url}"]
        code, output = run_harness(tmp_path, args, job_env, "job")
        assert code == 0, output[-3000:]
        os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=password)
        try:
            (run,) = runs_of(MlflowClient(url), "guarded")
        finally:
            del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
        assert run.info.status == "FINISHED"
        assert password not in str(run.data.params) + str(run.data.tags)
