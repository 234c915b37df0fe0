"""Sweeps on a real Slurm cluster, through ``hydra/launcher=slurm`` (Hydra's submitit_slurm).

``.ci/slurm/setup`` starts a one-node cluster on this machine (munge, slurmdbd, slurmctld,
slurmd); the tests run ``python -m harness -m ...`` as a user would, let Slurm run the jobs,
and read back what a user would read: the launcher's output, ``sacct``, and the MLflow store.
Without a cluster they skip with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from tracking_checks import free_port, mlflow_server_command, serving

from harness.cli import schemas  # noqa: F401  (registers the typed schemas before any compose)

PROJECT = Path(__file__).resolve().parent.parent
SETUP = PROJECT / ".ci" / "slurm" / "setup"
STUDIES = sorted(p.stem for p in (PROJECT / "conf" / "experiment").glob("*.yaml"))
SWEEP_TIMEOUT = 240  # a sweep that hangs fails the test instead of CI
LONG_STEPS = 12000  # the job we interrupt: long enough to catch it after a checkpoint
CHECKPOINT_EVERY = 500


# --- the cluster, the stores and the sweep command ------------------------------------------
@pytest.fixture(scope="session")
def slurm() -> str:
    """Start (or find) the cluster; skip without one, but fail in CI."""
    try:
        done = subprocess.run(
            ["bash", str(SETUP)],
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        code, output = -1, str(error)
    if code != 0:
        reason = f"no Slurm cluster: .ci/slurm/setup exited {code}: {output.strip()[-800:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return output.strip().splitlines()[-1]


POSTGRES = f"postgresql://optlab:optlab@127.0.0.1:{os.environ.get('PGPORT', '5432')}"


def postgres(statement: str) -> None:
    """Run one statement as the ``optlab`` role that ``.ci/setup-postgres`` creates."""
    import sqlalchemy

    admin = sqlalchemy.create_engine(f"{POSTGRES}/optlab", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(statement))
    finally:
        admin.dispose()


def postgres_database(name: str) -> str | None:
    """A fresh database on the team server's PostgreSQL (``.ci/setup-postgres``), or None."""
    setup = PROJECT / ".ci" / "setup-postgres"
    if not setup.exists() or not (PROJECT / "harness" / "server.py").exists():
        return None
    done = subprocess.run(
        ["bash", str(setup)], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        warnings.warn(f".ci/setup-postgres failed: {done.stderr.strip()[-300:]}", stacklevel=2)
        return None
    postgres(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES}/{name}"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """The team server (``python -m harness.tracking.server``, PostgreSQL), else a plain one."""
    root = tmp_path_factory.mktemp("server")
    port, name = free_port(), f"optlab_slurm_{uuid.uuid4().hex[:8]}"
    database = postgres_database(name)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    if database is not None:
        command = [sys.executable, "-m", "harness.tracking.server", "--port", str(port)]
        command += ["--artifacts", str(root / "artifacts")]
        env["OPTLAB_SERVER_DB"] = database
    else:
        warnings.warn(
            "no PostgreSQL team server here: testing against a plain mlflow server", stacklevel=2
        )
        command = mlflow_server_command(root, port)
    url = f"http://127.0.0.1:{port}"
    try:
        with serving(command, url, root / "server.log", 180, env=env, cwd=root):
            yield url
    finally:
        if database is not None:
            postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sweep_command(folder: Path, uri: str, study: str, *overrides: str) -> list[str]:
    """The README's cluster command, with the sweep folder and the store in ``folder``."""
    command = [sys.executable, "-m", "harness", "-m", "hydra/launcher=slurm", f"study={study}"]
    return command + [f"tracking.uri={uri}", f"hydra.sweep.dir={folder / 'sweep'}", *overrides]


def user_env(folder: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OPTLAB_STORE_DIR": str(folder / "store"),
        "OPTLAB_CHECKPOINT_DIR": str(folder / "checkpoints"),
    }


def start_sweep(folder: Path, command: list[str], log: str) -> subprocess.Popen:
    with open(folder / log, "w") as output:
        return subprocess.Popen(
            command,
            cwd=folder,
            env=user_env(folder),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def finish(folder: Path, sweep: subprocess.Popen, log: str) -> tuple[int, str]:
    try:
        code = sweep.wait(timeout=SWEEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        sweep.send_signal(signal.SIGINT)  # the launcher cancels its Slurm jobs
        sweep.wait(timeout=60)
        pytest.fail(f"the sweep did not end in {SWEEP_TIMEOUT} s:\n{(folder / log).read_text()}")
    return code, (folder / log).read_text()


def run_sweep(folder: Path, command: list[str], log: str) -> tuple[int, str]:
    return finish(folder, start_sweep(folder, command, log), log)


# --- what Slurm and MLflow say --------------------------------------------------------------
def slurm_array(output: str) -> str:
    found = re.search(r"submitted \d+ jobs as slurm job (\d+)", output)
    assert found, f"the launcher did not say what it submitted:\n{output}"
    return found.group(1)


def sacct_states(job_id: str, records: int) -> list[str]:
    """Every record Slurm accounting keeps of the job (or array), requeued attempts included,
    once ``records`` of them are in and all have ended. slurmctld sends records to slurmdbd
    on its own time, so a task that finished may still be missing from ``sacct`` (and a job's
    process may still be exiting) when its result is in."""
    command = ["sacct", "-D", "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State"]
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        states = sorted(line for line in done.stdout.splitlines() if line)
        ended = not any(s.endswith(("|RUNNING", "|PENDING", "|COMPLETING")) for s in states)
        if time.monotonic() > deadline or (ended and len(states) >= records):
            return states
        time.sleep(1)


def slurm_state(job_id: str) -> str:
    done = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True
    )
    return done.stdout.strip()


def runs_of(uri: str, study: str) -> tuple[list, list]:
    """(the sweep's parent runs, its job runs) in the experiment named after the study."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None, f"no experiment {study!r} in {uri}"
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    is_parent = [r.data.tags.get("optlab.role") == "sweep" for r in runs]
    parents = [r for r, parent in zip(runs, is_parent, strict=True) if parent]
    return parents, [r for r, parent in zip(runs, is_parent, strict=True) if not parent]


def wait_for_checkpoint(folder: Path, sweep: subprocess.Popen, index: int | None) -> str:
    """The Slurm id of job ``index`` of the sweep's array (None: a lone job), once it is RUNNING
    and has written a checkpoint (submitit keeps each job's files in a folder named by that id)."""
    name = re.compile(r"\d+" if index is None else rf"\d+_{index}")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert sweep.poll() is None, (folder / "first.log").read_text()
        found = [
            p.name for p in (folder / "sweep" / ".submitit").glob("*") if name.fullmatch(p.name)
        ]
        checkpoints = list((folder / "checkpoints").glob("*.npz"))
        if found and checkpoints and slurm_state(found[0]) == "RUNNING":
            return found[0]
        time.sleep(0.5)
    pytest.fail(f"job {index} never ran with a checkpoint:\n{(folder / 'first.log').read_text()}")


# --- the tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("study", STUDIES)
def test_every_study_composes_with_the_slurm_launcher(study):
    """The launcher config loads for each study, names its jobs and keeps its files in the sweep."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    with initialize_config_dir(str(PROJECT / "conf"), version_base="1.3"):
        cfg = compose(
            "config", [f"experiment={study}", "hydra/launcher=slurm"], return_hydra_config=True
        )
    launcher = cfg.hydra.launcher
    plugin = Plugins.instance().class_name_to_class.get(launcher._target_)
    assert plugin is not None and issubclass(plugin, Launcher), launcher._target_
    assert launcher.submitit_folder.startswith(cfg.hydra.sweep.dir + "/")
    assert launcher.name == f"optlab-{cfg.study}"
    assert launcher.max_num_timeout > 0 and launcher.cpus_per_task == 1
    assert cfg.hydra.sweeper.params, "a study is a sweep"


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "tracking server"])
def test_a_study_sweep_on_slurm_tracks_every_job_under_one_parent(slurm, store, tmp_path, request):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    if store == "tracking server":
        uri = request.getfixturevalue("tracking_server")
    # The headline study, cut to 2 optimizers x 2 seeds of a few steps: 4 Slurm jobs.
    command = sweep_command(
        tmp_path,
        uri,
        "stall",
        "experiment=stall",
        "dataset=digits",
        "optimizer=adagrad,rmsprop_a0.9",
        "lr_scale=1",
        "seed=0,1",
        "trainer.steps=60",
    )
    code, output = run_sweep(tmp_path, command, "sweep.log")

    assert code == 0, output
    assert "sweep done: 4 finished, 0 skipped, 0 failed" in output
    assert sacct_states(slurm_array(output), 4) == [
        f"{slurm_array(output)}_{i}|COMPLETED" for i in range(4)
    ]
    (parent,), jobs = runs_of(uri, "stall")
    assert parent.info.status == "FINISHED"
    assert len(jobs) == 4
    assert {r.info.status for r in jobs} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    assert len({r.data.tags["optlab.config_hash"] for r in jobs}) == 4
    for run in jobs:  # the launching terminal showed each job as it ended
        assert re.search(rf"\[[1-4]/4\] FINISHED {re.escape(run.info.run_name)} ", output), output


@pytest.mark.slurm
@pytest.mark.slow
def test_a_cancelled_job_fails_the_sweep_and_the_same_command_runs_only_that_job(slurm, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    steps = f"trainer.steps=60,70,80,{LONG_STEPS}"  # job 3 is the long one
    command = sweep_command(
        tmp_path, uri, "cancel", steps, f"trainer.checkpoint_every={CHECKPOINT_EVERY}"
    )
    sweep = start_sweep(tmp_path, command, "first.log")
    long_job = wait_for_checkpoint(tmp_path, sweep, 3)
    subprocess.run(["scancel", long_job], check=True)
    code, output = finish(tmp_path, sweep, "first.log")

    assert code == 1, output
    assert f"slurm job {long_job} ended CANCELLED" in output
    assert "sweep done: 3 finished, 0 skipped, 1 failed" in output
    assert f"{long_job}|CANCELLED by 0" in sacct_states(slurm_array(output), 4)
    (parent,), jobs = runs_of(uri, "cancel")
    assert parent.info.status == "FAILED"
    assert Counter(r.info.status for r in jobs) == {"FINISHED": 3, "KILLED": 1}
    (killed,) = [r for r in jobs if r.info.status == "KILLED"]

    code, output = run_sweep(tmp_path, command, "second.log")

    assert code == 0, output
    assert "sweep done: 1 finished, 3 skipped, 0 failed" in output
    (again,), jobs = runs_of(uri, "cancel")
    assert again.info.run_id == parent.info.run_id and again.info.status == "FINISHED"
    assert len(jobs) == 4, "no duplicate run"
    assert {r.info.status for r in jobs} == {"FINISHED"}
    assert len({r.data.tags["optlab.config_hash"] for r in jobs}) == 4
    resumed = next(r for r in jobs if r.info.run_id == killed.info.run_id)
    assert int(resumed.data.tags["optlab.resumed_from_step"]) >= CHECKPOINT_EVERY
    assert resumed.data.params["trainer.steps"] == str(LONG_STEPS)


@pytest.mark.slurm
@pytest.mark.slow
def test_a_requeued_job_resumes_from_its_checkpoint_in_its_own_run(slurm, tmp_path):
    """USR2 is what Slurm sends before a time limit (and submitit's own way to test preemption):
    submitit requeues the job, which goes on from its checkpoint, in the same run."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = sweep_command(
        tmp_path,
        uri,
        "requeue",
        f"trainer.steps={LONG_STEPS}",
        f"trainer.checkpoint_every={CHECKPOINT_EVERY}",
    )
    sweep = start_sweep(tmp_path, command, "first.log")
    job = wait_for_checkpoint(tmp_path, sweep, None)  # a sweep of one job: no array
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    code, output = finish(tmp_path, sweep, "first.log")

    assert code == 0, output
    assert "sweep done: 1 finished, 0 skipped, 0 failed" in output
    states = sacct_states(job, 2)
    assert f"{job}|REQUEUED" in states and f"{job}|COMPLETED" in states, states
    log = next((tmp_path / "sweep" / ".submitit" / job).glob("*_log.err")).read_text()
    assert "Caught signal SIGUSR2" in log
    (parent,), (run,) = runs_of(uri, "requeue")  # one job, one run: no duplicate
    assert run.info.status == "FINISHED"
    assert int(run.data.tags["optlab.resumed_from_step"]) >= CHECKPOINT_EVERY


@pytest.mark.full  # make test-long and CI
@pytest.mark.slow
def test_the_local_submitit_launcher_shows_the_jobs_that_write_to_log_files(tmp_path):
    """``hydra/launcher=submitit``: the cluster path (pickled jobs, log files) without Slurm."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = sweep_command(tmp_path, uri, "local", "seed=0,1", "trainer.steps=60")
    command[command.index("hydra/launcher=slurm")] = "hydra/launcher=submitit"
    code, output = run_sweep(tmp_path, command, "sweep.log")

    assert code == 0, output
    assert "sweep done: 2 finished, 0 skipped, 0 failed" in output
    (parent,), jobs = runs_of(uri, "local")
    assert {r.info.status for r in jobs} == {"FINISHED"} and len(jobs) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    logs = "".join(p.read_text() for p in (tmp_path / "sweep").glob(".submitit/*/*_log.err"))
    for run in jobs:  # each job wrote its line to its log, and the launcher showed it
        assert re.search(rf"\[[12]/2\] FINISHED {re.escape(run.info.run_name)} ", logs), logs
        assert re.search(rf"\[[12]/2\] FINISHED {re.escape(run.info.run_name)} ", output), output
