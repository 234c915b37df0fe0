"""One job: skip it if it already finished, else train it inside an MLflow run that always ends.

A finished job ends FINISHED (a diverged one too, tagged ``optlab.diverged=true``); a job that
raises ends FAILED with the error as a tag and an artifact; Ctrl-C or SIGTERM flushes what was
buffered and ends the run KILLED. A job killed harder (``kill -9``, a lost node) is picked up
when it runs again: from its checkpoint, in the same run (``harness.tracking.checkpoint``),
or, without one, in a new run after its stale RUNNING run from this machine is closed as
KILLED. Either way the store keeps one run per job.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.core.config import Config, ConfigError
from harness.core.train import TrainResult, job_dataset, train
from harness.tracking.checkpoint import (
    Checkpoint,
    CheckpointSink,
    DamagedCheckpoint,
    checkpoint_path,
    discard_checkpoint,
    job_lock,
    last_logged_step,
    load_checkpoint,
    release_lock_file,
)
from harness.tracking.progress import ProgressSink
from harness.tracking.sink import (
    config_hash,
    flatten,
    log_run_end,
    metric_stride,
    run_name,
    run_tags,
)
from harness.tracking.store import prepare_store, redact


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the run can end KILLED."""


@dataclass
class JobOutcome:
    status: str  # FINISHED, SKIPPED, FAILED or KILLED
    name: str
    run_id: str | None = None
    result: TrainResult | None = None
    seconds: float = 0.0


#: Prefix of the tag that files a skipped job's run under a later sweep (see ``join_sweep``).
IN_SWEEP_TAG = "optlab.in_sweep."


@dataclass
class SweepInfo:
    """What the sweep callback tells each job (``harness.tracking.sweep``)."""

    parent_run_id: str
    sweep_id: str


def job_params(cfg: Config) -> dict[str, str]:
    params = flatten(asdict(cfg))
    params["tracking.uri"] = redact(cfg.tracking.uri)
    return params


def without_password(text: str, uri: str | None) -> str:
    """``text`` with the tracking URI's password, if it has one, replaced by ``***``.

    >>> without_password("uri: http://bo:pw%21@h:5000", "http://bo:pw%21@h:5000")
    'uri: http://bo:***@h:5000'
    """
    password = urlsplit(uri).password if uri else None
    if not password:
        return text
    for form in {password, unquote(password)}:
        text = text.replace(form, "***")
    return text


def find_finished(client, experiment_id: str, digest: str):
    """A FINISHED run with this config hash, if the store has one."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`optlab.config_hash` = '{digest}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return runs[0] if runs else None


def join_sweep(client, run, sweep: SweepInfo) -> None:
    """A job this sweep skips because it FINISHED in another sweep (or alone) is still one of
    this sweep's jobs: its run gets an ``optlab.in_sweep.<parent run id>`` tag, which the
    analysis of this sweep reads beside the runs that are its children."""
    if run.data.tags.get("mlflow.parentRunId") != sweep.parent_run_id:
        client.set_tag(run.info.run_id, IN_SWEEP_TAG + sweep.parent_run_id, sweep.sweep_id)


@contextlib.contextmanager
def sigterm_raises():
    """Turn SIGTERM into ``Terminated`` while a run is open (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_job(
    cfg: Config, files: dict[str, str] | None = None, sweep: SweepInfo | None = None
) -> JobOutcome:
    """Run ``cfg`` as one tracked job (or untracked when ``tracking.enabled`` is false)."""
    started = time.perf_counter()
    job_dataset(cfg)  # a batch larger than the data fails here, before any store or run
    name = run_name(cfg)
    progress = ProgressSink(cfg.trainer.steps, name, enabled=cfg.trainer.progress)
    if not cfg.tracking.enabled:
        result = train(cfg, progress)
        return JobOutcome("FINISHED", name, None, result, time.perf_counter() - started)
    from mlflow.tracking import MlflowClient

    uri, experiment_id = prepare_store(cfg.tracking.uri, cfg.tracking.experiment)
    job = _TrackedJob(cfg, MlflowClient(tracking_uri=uri), experiment_id, uri, name)
    with contextlib.ExitStack() as stack:
        _lock(job, stack)
        files = {k: without_password(v, uri) for k, v in (files or {}).items()}
        outcome = job.run(files, sweep, progress)
    outcome.seconds = time.perf_counter() - started
    return outcome


@dataclass
class _TrackedJob:
    """A job with a store to track it in; ``locked`` once it holds its job lock."""

    cfg: Config
    client: object
    experiment_id: str
    uri: str
    name: str
    locked: bool = False
    lock_left_behind: bool = False  # by a dead process: its run may be left RUNNING
    restarted_because: str | None = None  # why a checkpoint could not be resumed
    artifact_uri: str | None = None  # the new run's, as create_run returned it

    @cached_property
    def digest(self) -> str:
        return config_hash(self.cfg)

    @cached_property
    def path(self) -> Path:
        """The job's checkpoint file (and, beside it, its lock file)."""
        return checkpoint_path(self.uri, self.experiment_id, self.digest)

    def run(self, files: dict[str, str], sweep: SweepInfo | None, progress) -> JobOutcome:
        """Skip, resume or start the job; called while no other process on this host runs it."""
        client = self.client
        if not self.cfg.tracking.force:
            existing = find_finished(client, self.experiment_id, self.digest)
            if existing:
                if sweep is not None:
                    join_sweep(client, existing, sweep)
                self.tidy()
                return JobOutcome("SKIPPED", self.name, existing.info.run_id)
        saved = self.resumable()
        if self.locked and (self.lock_left_behind or saved or self.restarted_because):
            self.close_stale_runs(keep=saved.run_id if saved else None)
        if saved is not None:
            run_id = self.reopen(saved, sweep)  # its artifact URI is looked up at the end
        else:
            tags = {**run_tags(self.cfg), "optlab.host": socket.gethostname()}
            if self.restarted_because:
                tags["optlab.restarted"] = self.restarted_because
            if sweep is not None:
                tags.update(_sweep_tags(sweep))
            run = client.create_run(self.experiment_id, run_name=self.name, tags=tags)
            run_id, self.artifact_uri = run.info.run_id, run.info.artifact_uri
        return _train_in_run(self, run_id, files, progress, saved)

    def resumable(self) -> Checkpoint | None:
        """This job's checkpoint, if its run is still in this experiment and not FINISHED."""
        from mlflow.exceptions import MlflowException

        try:
            saved = load_checkpoint(self.path)
        except DamagedCheckpoint as damaged:
            self.restarted_because = str(damaged)
            print(f"[optlab] {self.name}: {damaged}; the job starts over", file=sys.stderr)
            return None
        if saved is None:
            return None
        try:
            info = self.client.get_run(saved.run_id).info
        except MlflowException:
            info = None
        if (
            info is None
            or info.experiment_id != self.experiment_id
            or info.lifecycle_stage != "active"
            or info.status == "FINISHED"
            or saved.config_hash != self.digest
        ):
            discard_checkpoint(self.path)
            return None
        return saved

    def reopen(self, saved: Checkpoint, sweep: SweepInfo | None) -> str:
        """Make the checkpoint's run RUNNING again: the job goes on in its own run."""
        from mlflow.entities import RunTag
        from mlflow.exceptions import MlflowException

        run_id, step = saved.run_id, saved.state.step
        self.client.update_run(run_id, status="RUNNING")
        tags = {"optlab.resumed_from_step": str(step), "optlab.host": socket.gethostname()}
        if sweep is not None:
            tags.update(_sweep_tags(sweep))
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        with contextlib.suppress(MlflowException):
            self.client.delete_tag(run_id, "optlab.error")
        print(f"[optlab] {self.name}: resuming run {run_id} from step {step}", file=sys.stderr)
        return run_id

    def close_stale_runs(self, keep: str | None) -> None:
        """RUNNING runs of this job from this host belong to dead processes: end them KILLED.

        Called when a dead process left a trace (its lock file or a checkpoint): a job whose
        process ended any other way ended its run and removed both.
        """
        stale = self.client.search_runs(
            [self.experiment_id],
            f"tags.`optlab.config_hash` = '{self.digest}' and attributes.status = 'RUNNING' "
            f"and tags.`optlab.host` = '{socket.gethostname()}'",
        )
        for run in stale:
            if run.info.run_id != keep:
                self.client.set_tag(
                    run.info.run_id, "optlab.error", "its process died; the job was run again"
                )
                self.client.set_terminated(run.info.run_id, "KILLED")

    def tidy(self) -> None:
        """The job is done: its checkpoint goes (its lock file goes as ``run_job`` returns)."""
        discard_checkpoint(self.path)


def _lock(job: _TrackedJob, stack: contextlib.ExitStack) -> None:
    """Hold the job's lock; without a writable checkpoint folder, run unlocked if we may."""
    try:
        left_behind = stack.enter_context(job_lock(job.path, job.name))
    except OSError as error:
        if job.cfg.trainer.checkpoint_every:
            raise ConfigError(
                "trainer.checkpoint_every",
                job.cfg.trainer.checkpoint_every,
                f"cannot write the checkpoint folder {job.path.parent} ({error.strerror}); "
                "set OPTLAB_CHECKPOINT_DIR or checkpoint_every=0",
            ) from None
        return
    job.locked, job.lock_left_behind = True, left_behind
    stack.callback(release_lock_file, job.path)  # on every way out, while still held


def _sweep_tags(sweep: SweepInfo) -> dict[str, str]:
    return {"mlflow.parentRunId": sweep.parent_run_id, "optlab.sweep_id": sweep.sweep_id}


def _train_in_run(job: _TrackedJob, run_id, files, progress, saved) -> JobOutcome:
    cfg, client = job.cfg, job.client
    params, resume = None, None
    if saved is None:
        params = job_params(cfg)  # sent with the first metrics, in one call
    else:
        resume = (saved.state.step, last_logged_step(client, run_id))
    stride = metric_stride(cfg.tracking.metric_every, cfg.trainer.steps)
    sink = CheckpointSink(client, run_id, stride, job.path, job.digest, resume, params)
    try:
        with sigterm_raises():
            result = train(cfg, _Both(sink, progress), resume=saved.state if saved else None)
            log_run_end(client, run_id, result, files, job.artifact_uri)
    except (KeyboardInterrupt, Terminated):
        _close_broken_run(job, run_id, sink, files, "KILLED", "interrupted")
        raise
    except Exception as error:
        _close_broken_run(job, run_id, sink, files, "FAILED", error)
        raise
    client.set_terminated(run_id, "FINISHED")
    job.tidy()
    return JobOutcome("FINISHED", job.name, run_id, result)


def _close_broken_run(job: _TrackedJob, run_id, sink, files, status, error) -> None:
    """Keep what was logged, say why, and end the run: never leave it RUNNING."""
    client = job.client
    with contextlib.suppress(Exception):
        sink.flush()
    with contextlib.suppress(Exception):
        message = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
        message = without_password(str(message), job.uri)
        client.set_tag(run_id, "optlab.error", message[:5000])
        if isinstance(error, Exception):
            text = "".join(traceback.format_exception(error))
            client.log_text(run_id, without_password(text, job.uri), "error.txt")
        for name, text in files.items():
            client.log_text(run_id, text, name)
    client.set_terminated(run_id, status)


class _Both:
    """Fan the loop's calls out to the tracking sink and the progress bar."""

    def __init__(self, *sinks):
        self.sinks = sinks

    def on_start(self, curves):
        for sink in self.sinks:
            sink.on_start(curves)

    def on_step(self, step, curves):
        for sink in self.sinks:
            sink.on_step(step, curves)

    def on_checkpoint(self, state):
        for sink in self.sinks:
            sink.on_checkpoint(state)

    def on_end(self, result):
        for sink in self.sinks:
            sink.on_end(result)
