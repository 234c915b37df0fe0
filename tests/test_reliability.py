"""Sweeps that survive: parallel writers, kill -9 and rerun, resume from a checkpoint, secrets.

Every test runs ``python -m harness`` as a user would, on a real SQLite store in a temporary
folder, and reads back what a user reads: run status, metric history, the parquet curves.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from mlflow import MlflowClient
from tracking_checks import (
    assert_full_curves,
    assert_one_finished_run_per_job,
    copy_store,
    group_alive,
    kill_group,
    read_curves,
    run_harness,
    runs_of,
    start_harness,
    statuses,
    user_env,
    wait_until,
)

from harness.core.config import (
    OPTIMIZER_CONFIGS,
    Config,
    SpiralsConfig,
    TrackingConfig,
    TrainerConfig,
)
from harness.core.train import NullSink, train
from harness.tracking.checkpoint import (
    DamagedCheckpoint,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from harness.tracking.job import run_job
from harness.tracking.sink import config_hash, run_tags
from harness.tracking.store import prepare_store

PARALLEL = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=4"]
# spirals: no scikit-learn to import, so each of the many processes starts faster
SMALL = ["dataset=spirals", "trainer.steps=300", "trainer.eval_every=50", "tracking.metric_every=1"]


def store_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'store' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated, empty store to copy: every test but the fresh-store one starts from it."""
    folder = tmp_path_factory.mktemp("template")
    prepare_store(store_uri(folder), "template")
    return folder / "store" / "mlflow.db"


def assert_clean_output(code: int, output: str, summary: str) -> None:
    assert code == 0, output[-3000:]
    assert summary in output, output[-3000:]
    for trouble in ("database is locked", "Traceback", "OperationalError"):
        assert trouble not in output, output[-3000:]


def assert_sweep_kept_everything(client, experiment: str, jobs: int, steps: int, every: int):
    runs = runs_of(client, experiment)
    assert statuses(runs) == {"FINISHED": jobs}
    assert_one_finished_run_per_job(runs, jobs)
    parents = runs_of(client, experiment, role="sweep")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parents[0].info.run_id}
    default = client.get_experiment_by_name("Default")
    assert default is None or not client.search_runs([default.experiment_id])
    for run in runs:
        assert_full_curves(client, run, steps, every)


@pytest.mark.slow
def test_a_parallel_sweep_on_a_fresh_store_loses_nothing(tmp_path):
    """Two joblib workers at once create, log to and end runs in a store that does not exist
    yet. (Two, on a 2-core machine: each worker imports MLflow for seconds; the four-worker
    sweeps below, in make test-long, load the store harder.)"""
    jobs = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "optimizer=sgd,adam"]
    args = [*jobs, "study=fresh", *SMALL]
    code, output = run_harness(tmp_path, args, user_env(tmp_path), "sweep")
    assert_clean_output(code, output, "2 finished, 0 skipped, 0 failed")
    client = MlflowClient(store_uri(tmp_path))
    assert_sweep_kept_everything(client, "fresh", jobs=2, steps=300, every=1)


@pytest.mark.full  # make test-long and CI
@pytest.mark.slow
def test_a_parallel_sweep_on_an_existing_store_skips_finished_jobs_and_loses_nothing(
    tmp_path, template
):
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    code, output = run_harness(tmp_path, ["optimizer=sgd", "study=existing", *SMALL], env, "one")
    assert code == 0, output[-3000:]
    jobs = ["optimizer=sgd,rmsprop,adagrad,adam", "seed=0", "study=existing"]
    code, output = run_harness(tmp_path, PARALLEL + jobs + SMALL, env, "sweep")
    assert_clean_output(code, output, "3 finished, 1 skipped, 0 failed")
    client = MlflowClient(store_uri(tmp_path))
    runs = runs_of(client, "existing")
    assert statuses(runs) == {"FINISHED": 4}
    assert_one_finished_run_per_job(runs, 4)
    for run in runs:
        assert_full_curves(client, run, steps=300, every=1)


# --- the checkpoint file --------------------------------------------------------------------
class KeepCheckpoints(NullSink):
    def __init__(self, path: Path):
        self.path, self.saved = path, []

    def on_checkpoint(self, state):
        save_checkpoint(self.path, "run-id", "hash", state)
        self.saved.append(state.step)


@pytest.mark.parametrize("optimizer", ["nesterov", "adam"])
def test_a_saved_checkpoint_resumes_bit_identically(tmp_path, optimizer):
    cfg = Config(
        optimizer=OPTIMIZER_CONFIGS[optimizer](),
        dataset=SpiralsConfig(),
        trainer=TrainerConfig(steps=120, eval_every=30, checkpoint_every=50, progress=False),
    )
    path = tmp_path / "job.npz"
    keep = KeepCheckpoints(path)
    straight = train(cfg, keep)
    assert keep.saved == [50, 100]
    saved = load_checkpoint(path)
    assert (saved.run_id, saved.config_hash, saved.state.step) == ("run-id", "hash", 100)
    resumed = train(cfg, resume=saved.state)
    assert resumed.curves.data.tobytes() == straight.curves.data.tobytes()
    assert resumed.summary == straight.summary


def test_a_torn_save_leaves_the_last_checkpoint(tmp_path):
    cfg = Config(dataset=SpiralsConfig(), trainer=TrainerConfig(steps=60, checkpoint_every=50))
    path = tmp_path / "job.npz"
    train(cfg, KeepCheckpoints(path))
    path.with_name(path.name + ".tmp").write_bytes(b"half a checkpoint")  # killed mid-save
    assert load_checkpoint(path).state.step == 50


@pytest.mark.parametrize("damage", ["truncated", "empty", "not-a-checkpoint"])
def test_a_damaged_checkpoint_is_moved_aside_with_the_reason(tmp_path, damage):
    cfg = Config(dataset=SpiralsConfig(), trainer=TrainerConfig(steps=60, checkpoint_every=50))
    path = tmp_path / "job.npz"
    train(cfg, KeepCheckpoints(path))
    whole = path.read_bytes()
    damaged = {"truncated": whole[: len(whole) // 2], "empty": b"", "not-a-checkpoint": b"x"}
    path.write_bytes(damaged[damage])
    with pytest.raises(DamagedCheckpoint, match="unreadable checkpoint") as raised:
        load_checkpoint(path)
    assert "\n" not in str(raised.value)
    assert not path.exists()
    assert path.with_name("job.npz.damaged").read_bytes() == damaged[damage]  # kept to inspect
    assert load_checkpoint(path) is None  # the next attempt starts over


def test_each_experiment_is_looked_up_once_and_keeps_its_own_id(tmp_path, template, monkeypatch):
    from harness.tracking import store

    asked = []
    find = store._find_or_create_experiment
    monkeypatch.setattr(
        store, "_find_or_create_experiment", lambda *a: asked.append(a[1]) or find(*a)
    )
    copy_store(template, tmp_path)
    uri = store_uri(tmp_path)
    client = MlflowClient(uri)
    first = prepare_store(uri, "first")[1]
    second = prepare_store(uri, "second")[1]
    assert prepare_store(uri, "first")[1] == first != second
    assert asked == ["first", "second"]  # the third call asked no one
    assert client.get_experiment(first).name == "first"
    assert client.get_experiment(second).name == "second"


def tracked_job(tmp_path, monkeypatch, study: str) -> tuple[Config, MlflowClient, Path]:
    """A small tracked job in-process, on a store and a checkpoint folder in ``tmp_path``;
    returns its config, a client and where its checkpoint goes."""
    monkeypatch.setenv("OPTLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    uri = store_uri(tmp_path)
    cfg = Config(
        dataset=SpiralsConfig(),
        trainer=TrainerConfig(steps=60, checkpoint_every=20, progress=False),
        tracking=TrackingConfig(uri=uri, experiment=study),
        study=study,
    )
    _, experiment_id = prepare_store(uri, study)
    return cfg, MlflowClient(uri), checkpoint_path(uri, experiment_id, config_hash(cfg))


def test_a_job_whose_checkpoint_is_damaged_starts_over_and_closes_its_killed_run(
    tmp_path, monkeypatch, capsys
):
    """Before: BadZipFile or EOFError at every rerun, and the killed run stayed RUNNING."""
    cfg, client, path = tracked_job(tmp_path, monkeypatch, "damaged")
    experiment_id = client.get_experiment_by_name("damaged").experiment_id
    tags = {**run_tags(cfg), "optlab.host": socket.gethostname()}
    killed = client.create_run(experiment_id, tags=tags).info.run_id  # left RUNNING by kill -9
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    outcome = run_job(cfg)
    assert outcome.status == "FINISHED"
    lines = [line for line in capsys.readouterr().err.splitlines() if "checkpoint" in line]
    assert len(lines) == 1 and "unreadable checkpoint" in lines[0] and "starts over" in lines[0]
    run = client.get_run(outcome.run_id)
    assert "unreadable checkpoint" in run.data.tags["optlab.restarted"]
    assert client.get_run(killed).info.status == "KILLED"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name + ".damaged"]


def test_a_failed_job_leaves_no_lock_file(tmp_path, monkeypatch):
    cfg, client, path = tracked_job(tmp_path, monkeypatch, "failing")

    def fails(*args, **kwargs):
        raise RuntimeError("the model broke")

    monkeypatch.setattr("harness.tracking.job.train", fails)
    with pytest.raises(RuntimeError):
        run_job(cfg)
    (run,) = runs_of(client, "failing")
    assert run.info.status == "FAILED"
    assert not list(path.parent.glob("*.lock"))


# --- kill -9 and run again ------------------------------------------------------------------
KILL_SWEEP = [
    "-m",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "optimizer=sgd,momentum,adam",
    "seed=0,1",
    "study=killed",
    "trainer.steps=1500",
    "trainer.eval_every=100",
    "trainer.checkpoint_every=25",
    "tracking.metric_every=10",
]


@pytest.mark.full  # make test-long and CI
@pytest.mark.slow
def test_a_killed_sweep_reruns_only_unfinished_jobs_and_leaves_no_run_running(tmp_path, template):
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    checkpoints = tmp_path / "store" / "checkpoints"

    def partway():  # a job finished, and another is early enough not to end before the kill
        saved = [load_checkpoint(path) for path in checkpoints.glob("*.npz")]
        if not any(c is not None and c.state.step <= 1000 for c in saved):
            return False
        return statuses(runs_of(client, "killed"))["FINISHED"] >= 1

    sweep = start_harness(tmp_path, KILL_SWEEP, env, "first")
    wait_until(lambda: partway() or sweep.poll() is not None, "a finished job and a checkpoint")
    kill_group(sweep)
    assert sweep.returncode == -9, "the sweep ended before it was killed; make it longer"

    before = {r.info.run_id: r for r in runs_of(client, "killed")}
    finished_before = {i for i, r in before.items() if r.info.status == "FINISHED"}
    interrupted = {i for i, r in before.items() if r.info.status == "RUNNING"}
    assert interrupted, "nothing was running when the sweep was killed"
    saved = {c.run_id: c.state.step for c in map(load_checkpoint, checkpoints.glob("*.npz"))}
    resumable = {run_id: step for run_id, step in saved.items() if run_id in interrupted}
    assert resumable, "no interrupted run had a checkpoint"

    code, output = run_harness(tmp_path, KILL_SWEEP, env, "second")
    done = len(finished_before)
    assert_clean_output(code, output, f"{6 - done} finished, {done} skipped, 0 failed")

    runs = {r.info.run_id: r for r in runs_of(client, "killed")}
    assert "RUNNING" not in statuses(runs.values())
    assert_one_finished_run_per_job(runs.values(), 6)
    for run_id, step in resumable.items():  # went on in its own run, from its checkpoint
        assert runs[run_id].info.status == "FINISHED"
        assert runs[run_id].data.tags["optlab.resumed_from_step"] == str(step)
    for run_id in interrupted - set(resumable):  # no checkpoint yet: closed, and run anew
        assert runs[run_id].info.status == "KILLED"
        assert runs[run_id].data.tags["optlab.error"]
    for run_id in finished_before:  # not rerun, nothing lost
        assert runs[run_id].info.end_time == before[run_id].info.end_time
    for run in runs.values():
        if run.info.status == "FINISHED":
            assert_full_curves(client, run, steps=1500, every=10)
    assert not list(checkpoints.glob("*.npz")), "finished jobs leave no checkpoint behind"
    assert [p.info.status for p in runs_of(client, "killed", role="sweep")] == ["FINISHED"]


SINGLE = [
    "optimizer=adam",
    "trainer.steps=2500",
    "trainer.eval_every=100",
    "trainer.progress=false",
    "tracking.metric_every=20",
]


@pytest.mark.slow
@pytest.mark.full  # make test-long and CI; tests/test_train.py resumes in process in make test
def test_a_job_killed_mid_run_resumes_its_own_run_with_an_identical_curve(tmp_path, template):
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    checkpoints = tmp_path / "store" / "checkpoints"
    args = [*SINGLE, "study=resumed", "trainer.checkpoint_every=50"]

    job = start_harness(tmp_path, args, env, "first")
    wait_until(lambda: list(checkpoints.glob("*.npz")) or job.poll() is not None, "a checkpoint")
    kill_group(job)
    assert job.returncode == -9, "the job ended before it was killed; make it longer"
    (killed,) = runs_of(client, "resumed")
    assert killed.info.status == "RUNNING"
    (saved,) = map(load_checkpoint, checkpoints.glob("*.npz"))
    assert saved.run_id == killed.info.run_id and 0 < saved.state.step < 2500

    code, output = run_harness(tmp_path, args, env, "second")
    assert code == 0, output[-3000:]
    assert f"resuming run {killed.info.run_id} from step {saved.state.step}" in output
    (resumed,) = runs_of(client, "resumed")  # the same run, not a second one
    assert resumed.info.run_id == killed.info.run_id
    assert resumed.info.status == "FINISHED"
    assert "optlab.error" not in resumed.data.tags
    assert not list(checkpoints.iterdir()), "the finished job's checkpoint and lock are gone"

    code, output = run_harness(tmp_path, [*SINGLE, "study=straight"], env, "reference")
    assert code == 0, output[-3000:]
    (straight,) = runs_of(client, "straight")
    curves = assert_full_curves(client, resumed, steps=2500, every=20)
    reference = read_curves(client, straight.info.run_id)
    assert curves["train_loss"].to_numpy().tobytes() == reference["train_loss"].to_numpy().tobytes()
    assert curves.equals(reference)
    for key in ("val_loss", "update_ratio"):
        history = [(m.step, m.value) for m in client.get_metric_history(resumed.info.run_id, key)]
        expected = client.get_metric_history(straight.info.run_id, key)
        assert sorted(history) == sorted((m.step, m.value) for m in expected)


@pytest.mark.full  # make test-long and CI: 17 s, kept out of make test
def test_a_job_killed_without_a_checkpoint_ends_killed_when_run_again(tmp_path, template):
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    args = [*SINGLE, "study=stale"]

    def running():
        return statuses(runs_of(client, "stale"))["RUNNING"]

    job = start_harness(tmp_path, args, env, "first")
    wait_until(lambda: running() or job.poll() is not None, "the job's run")
    kill_group(job)
    assert job.returncode == -9, "the job ended before it was killed; make it longer"

    code, output = run_harness(tmp_path, args, env, "second")
    assert code == 0, output[-3000:]
    runs = runs_of(client, "stale")
    assert statuses(runs) == {"FINISHED": 1, "KILLED": 1}
    (stale,) = (r for r in runs if r.info.status == "KILLED")
    assert "died" in stale.data.tags["optlab.error"]


@pytest.mark.full  # make test-long and CI: 11 s, kept out of make test
def test_the_same_job_launched_twice_at_once_runs_once(tmp_path, template):
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    args = ["optimizer=sgd", "study=twice", "dataset=spirals", "trainer.steps=3000"]
    first = start_harness(tmp_path, args, env, "first")
    second = start_harness(tmp_path, args, env, "second")
    codes = first.wait(timeout=300), second.wait(timeout=300)
    outputs = (tmp_path / "first").read_text() + (tmp_path / "second").read_text()
    assert codes == (0, 0), outputs[-3000:]
    assert outputs.count("FINISHED sgd") == 1 and outputs.count("SKIPPED sgd") == 1, outputs
    runs = runs_of(MlflowClient(store_uri(tmp_path)), "twice")
    assert statuses(runs) == {"FINISHED": 1}


@pytest.mark.slow
def test_a_sweep_whose_store_is_lost_mid_sweep_exits_1_with_a_summary(tmp_path, template):
    """Before: exit 0, no summary, and ~1,000 lines of SQL and tracebacks."""
    copy_store(template, tmp_path)
    args = ["-m", "seed=0,1,2", "study=lost", "dataset=spirals", "trainer.steps=3000"]
    sweep = start_harness(tmp_path, [*args, "hydra.sweep.dir=sweep"], user_env(tmp_path), "log")
    progress = tmp_path / "sweep" / ".optlab" / "progress"
    wait_until(lambda: progress.exists() or sweep.poll() is not None, "the first job's end")
    (tmp_path / "store" / "mlflow.db").write_bytes(b"")  # truncated under the running sweep
    code = sweep.wait(timeout=300)
    output = (tmp_path / "log").read_text()
    assert code == 1, output[-3000:]
    assert "Traceback" not in output and "SELECT" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "2 job(s) failed" in errors[0], output[-3000:]
    assert "run the same command again" in errors[0]
    assert len(output.splitlines()) < 20, output[-3000:]


@pytest.mark.full  # make test-long and CI (the truncated store stays in make test)
def test_a_sweep_whose_store_is_deleted_mid_sweep_exits_1_with_a_summary(tmp_path, template):
    """The store's file removed under a running sweep (the truncated case is above): the jobs
    after it fail, the sweep says so in one line and exits 1, never 0."""
    copy_store(template, tmp_path)
    args = ["-m", "seed=0,1,2", "study=deleted", "dataset=spirals", "trainer.steps=3000"]
    sweep = start_harness(tmp_path, [*args, "hydra.sweep.dir=sweep"], user_env(tmp_path), "log")
    progress = tmp_path / "sweep" / ".optlab" / "progress"
    wait_until(lambda: progress.exists() or sweep.poll() is not None, "the first job's end")
    (tmp_path / "store" / "mlflow.db").unlink()
    code = sweep.wait(timeout=300)
    output = (tmp_path / "log").read_text()
    assert code == 1, output[-3000:]
    assert "Traceback" not in output and "SELECT" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "job(s) failed" in errors[0], output[-3000:]
    assert "run the same command again" in errors[0]


# --- secrets --------------------------------------------------------------------------------
SECRETS = {
    "MY_API_TOKEN": "s3cr3t-token-1234",
    "MLFLOW_TRACKING_PASSWORD": "s3cr3t-password-5678",
    "DATABASE_URL": "postgresql://optlab:s3cr3t-db-9012@127.0.0.1:5432/optlab",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t-aws-3456",
}


@pytest.mark.slow
def test_no_secret_from_the_environment_is_logged(tmp_path, template):
    copy_store(template, tmp_path)
    env = user_env(tmp_path, **SECRETS)
    args = ["-m", "optimizer=sgd,adam", "study=secrets", "dataset=spirals", "trainer.steps=20"]
    code, output = run_harness(tmp_path, args, env, "sweep")
    assert code == 0, output[-3000:]
    assert "View run" not in output  # MLflow's line with the tracking URI is turned off
    client = MlflowClient(store_uri(tmp_path))
    runs = runs_of(client, "secrets", role=None)
    assert len(runs) == 3
    logged = [output]
    for run in runs:
        logged += [*run.data.params.values(), *run.data.tags.values(), run.info.run_name]
        for artifact in ("config.yaml", "overrides.yaml"):
            if run.data.tags.get("optlab.role") == "job":
                folder = tmp_path / run.info.run_id
                path = client.download_artifacts(run.info.run_id, artifact, str(folder))
                logged.append(Path(path).read_text())
    assert "tracking:" in "".join(logged)  # the config artifacts were read
    for value in logged:
        assert "s3cr3t" not in value, value


# --- longer runs: make test-full ------------------------------------------------------------
@pytest.mark.full
def test_twelve_jobs_on_four_workers_checkpointing_often_lose_nothing(tmp_path):
    """The write load of a real study: every step logged, a checkpoint every 20 steps."""
    args = [
        *PARALLEL,
        "optimizer=sgd,momentum,nesterov,adagrad,rmsprop,adam",
        "seed=0,1",
        "study=stress",
        "trainer.steps=1000",
        "trainer.eval_every=50",
        "trainer.checkpoint_every=20",
        "tracking.metric_every=1",
    ]
    code, output = run_harness(tmp_path, args, user_env(tmp_path), "sweep")
    assert_clean_output(code, output, "12 finished, 0 skipped, 0 failed")
    client = MlflowClient(store_uri(tmp_path))
    assert_sweep_kept_everything(client, "stress", jobs=12, steps=1000, every=1)


@pytest.mark.full
def test_a_job_stopped_by_sigterm_ends_killed_and_resumes_its_run(tmp_path, template):
    """Slurm's preemption: SIGTERM ends the run KILLED and keeps the checkpoint to go on from."""
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    checkpoints = tmp_path / "store" / "checkpoints"
    args = [*SINGLE, "study=preempted", "trainer.checkpoint_every=50"]

    job = start_harness(tmp_path, args, env, "first")
    wait_until(lambda: list(checkpoints.glob("*.npz")) or job.poll() is not None, "a checkpoint")
    os.killpg(job.pid, signal.SIGTERM)
    assert job.wait(timeout=120) != 0
    (stopped,) = runs_of(client, "preempted")
    assert stopped.info.status == "KILLED"
    (saved,) = map(load_checkpoint, checkpoints.glob("*.npz"))
    assert saved.run_id == stopped.info.run_id

    code, output = run_harness(tmp_path, args, env, "second")
    assert code == 0, output[-3000:]
    (resumed,) = runs_of(client, "preempted")
    assert resumed.info.run_id == stopped.info.run_id and resumed.info.status == "FINISHED"
    assert_full_curves(client, resumed, steps=2500, every=20)


def test_a_job_is_alive_only_while_a_process_holds_its_lock(tmp_path, monkeypatch):
    import fcntl

    from harness.tracking.checkpoint import checkpoint_path
    from harness.tracking.sweep import job_is_alive

    monkeypatch.setenv("OPTLAB_CHECKPOINT_DIR", str(tmp_path))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert not job_is_alive(uri, "1", "abc")  # no lock file: nobody runs it
    path = checkpoint_path(uri, "1", "abc")
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert job_is_alive(uri, "1", "abc")
        fcntl.flock(held, fcntl.LOCK_UN)
    assert not job_is_alive(uri, "1", "abc")  # a lock file left by a dead job


@pytest.mark.full  # make test-long and CI: 19 s, kept out of make test
def test_relaunching_a_running_sweep_leaves_its_live_run_alone(tmp_path, template):
    """The second launch of a sweep that still runs reuses its parent, skips or waits for the
    live job, and must not mark that job's run KILLED ('sweep was killed; rerun')."""
    copy_store(template, tmp_path)
    env = user_env(tmp_path)
    args = ["-m", "seed=0", "study=again", "dataset=spirals", "trainer.steps=20000"]
    args += ["hydra.sweep.dir=sweep"]
    first = start_harness(tmp_path, args, env, "first")
    client = MlflowClient(store_uri(tmp_path))

    def running() -> bool:
        jobs = [r for r in runs_of(client, "again") if r.info.status == "RUNNING"]
        return bool(jobs) or first.poll() is not None

    wait_until(running, "the first launch's job to start")
    assert first.poll() is None, "the first launch ended before the second started"
    second = start_harness(tmp_path, args, env, "second")
    codes = first.wait(timeout=300), second.wait(timeout=300)
    outputs = (tmp_path / "first").read_text() + (tmp_path / "second").read_text()
    assert codes == (0, 0), outputs[-3000:]
    runs = runs_of(client, "again")
    assert statuses(runs) == {"FINISHED": 1}, outputs[-3000:]
    assert "optlab.error" not in runs[0].data.tags


# --- a parallel sweep stopped: its workers end their runs and leave -------------------------
STOPPED_SWEEP = [
    "-m",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "optimizer=sgd,adam",
    "seed=0,1",
    "study=stopped",
    "dataset=spirals",
    "trainer.steps=200000",  # minutes: every job is still training when the signal comes
    "trainer.eval_every=1000",
]
#: How each way of stopping reaches the sweep, and the exit code it ends with.
STOPS = {
    "ctrl-c": (signal.SIGINT, "group", 130),
    "sigterm": (signal.SIGTERM, "group", 143),
    "sweep-process-killed": (signal.SIGKILL, "parent", -9),
}


def two_jobs_training(client):
    return lambda: statuses(runs_of(client, "stopped"))["RUNNING"] >= 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop",
    [
        "ctrl-c",
        pytest.param("sigterm", marks=pytest.mark.full),
        pytest.param("sweep-process-killed", marks=pytest.mark.full),
    ],
)
def test_a_stopped_parallel_sweep_ends_its_jobs_runs_killed_and_leaves_no_process(
    tmp_path, template, stop
):
    """Ctrl-C or SIGTERM (to the whole group, as a terminal or a scheduler sends them), or the
    sweep's own process killed with -9: every running job's run ends KILLED, no job starts
    after, and no worker is left behind (hydra_plugins/optlab_launcher/parallel.py)."""
    copy_store(template, tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    sweep = start_harness(tmp_path, STOPPED_SWEEP, user_env(tmp_path), "sweep")
    wait_until(lambda: two_jobs_training(client)() or sweep.poll() is not None, "two jobs")
    assert sweep.poll() is None, (tmp_path / "sweep").read_text()[-3000:]
    signum, to, code = STOPS[stop]
    if to == "group":
        os.killpg(sweep.pid, signum)
    else:
        os.kill(sweep.pid, signum)
    assert sweep.wait(timeout=120) == code
    wait_until(lambda: not group_alive(sweep.pid), "every worker to exit", timeout=60)
    runs = runs_of(client, "stopped")
    assert statuses(runs) == {"KILLED": 2}, (tmp_path / "sweep").read_text()[-3000:]
    parent_status = "RUNNING" if signum == signal.SIGKILL else "KILLED"
    assert [p.info.status for p in runs_of(client, "stopped", role="sweep")] == [parent_status]
    if to == "group":
        output = (tmp_path / "sweep").read_text()
        assert f"interrupted by {signal.Signals(signum).name}" in output
        assert "Traceback" not in output


@pytest.mark.full
@pytest.mark.slow
def test_a_parallel_sweep_whose_worker_dies_stops_in_one_line(tmp_path, template):
    copy_store(template, tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    sweep = start_harness(tmp_path, STOPPED_SWEEP, user_env(tmp_path), "sweep")
    wait_until(lambda: two_jobs_training(client)() or sweep.poll() is not None, "two jobs")
    workers = [
        int(pid) for pid in Path(f"/proc/{sweep.pid}/task/{sweep.pid}/children").read_text().split()
    ]
    os.kill(workers[0], signal.SIGKILL)
    assert sweep.wait(timeout=120) == 1
    wait_until(lambda: not group_alive(sweep.pid), "every worker to exit", timeout=60)
    output = (tmp_path / "sweep").read_text()
    assert "error: a worker process ended before its job did" in output
    runs = runs_of(client, "stopped")  # the killed worker's run is closed when run again
    assert statuses(runs) == {"KILLED": 1, "RUNNING": 1}
    assert [p.info.status for p in runs_of(client, "stopped", role="sweep")] == ["KILLED"]
