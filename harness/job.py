"""One job: skip it if it already finished, else train it inside an MLflow run that always ends.

A finished job ends FINISHED (a diverged one too, tagged ``optlab.diverged=true``); a job that
raises ends FAILED with the error as a tag and an artifact; Ctrl-C or SIGTERM flushes what was
buffered and ends the run KILLED.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from harness.config import Config
from harness.progress import ProgressSink
from harness.store import prepare_store
from harness.tracking import (
    MlflowSink,
    config_hash,
    flatten,
    log_run_end,
    metric_stride,
    run_name,
    run_tags,
)
from harness.train import TrainResult, train


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the run can end KILLED."""


@dataclass
class JobOutcome:
    status: str  # FINISHED, SKIPPED, FAILED or KILLED
    name: str
    run_id: str | None = None
    result: TrainResult | None = None
    seconds: float = 0.0


@dataclass
class SweepInfo:
    """What the sweep callback tells each job (``harness.sweep``)."""

    parent_run_id: str
    sweep_id: str


def redact(uri: str | None) -> str:
    """A URI without its password, fit for a param or a log line."""
    if not uri or "@" not in uri:
        return str(uri)
    parts = urlsplit(uri)
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def job_params(cfg: Config) -> dict[str, str]:
    params = flatten(asdict(cfg))
    params["tracking.uri"] = redact(cfg.tracking.uri)
    return params


def find_finished(client, experiment_id: str, digest: str) -> str | None:
    """The id of a FINISHED run with this config hash, if the store has one."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`optlab.config_hash` = '{digest}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


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
    name = run_name(cfg)
    progress = ProgressSink(cfg.trainer.steps, name, enabled=cfg.trainer.progress)
    if not cfg.tracking.enabled:
        result = train(cfg, progress)
        return JobOutcome("FINISHED", name, None, result, time.perf_counter() - started)
    from mlflow.tracking import MlflowClient

    uri, experiment_id = prepare_store(cfg.tracking.uri, cfg.tracking.experiment)
    client = MlflowClient(tracking_uri=uri)
    if not cfg.tracking.force:
        existing = find_finished(client, experiment_id, config_hash(cfg))
        if existing:
            return JobOutcome("SKIPPED", name, existing, None, time.perf_counter() - started)
    tags = run_tags(cfg)
    if sweep is not None:
        tags.update({"mlflow.parentRunId": sweep.parent_run_id, "optlab.sweep_id": sweep.sweep_id})
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    run_id = run.info.run_id
    outcome = _train_in_run(cfg, client, run_id, files or {}, progress)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _train_in_run(cfg, client, run_id, files, progress) -> JobOutcome:
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in job_params(cfg).items()]
    client.log_batch(run_id, params=params)
    sink = MlflowSink(client, run_id, metric_stride(cfg.tracking.metric_every, cfg.trainer.steps))
    try:
        with sigterm_raises():
            result = train(cfg, _Both(sink, progress))
            log_run_end(client, run_id, result, files)
    except (KeyboardInterrupt, Terminated):
        _close_broken_run(client, run_id, sink, files, "KILLED", "interrupted")
        raise
    except Exception as error:
        _close_broken_run(client, run_id, sink, files, "FAILED", error)
        raise
    client.set_terminated(run_id, "FINISHED")
    return JobOutcome("FINISHED", run_name(cfg), run_id, result)


def _close_broken_run(client, run_id, sink, files, status, error) -> None:
    """Keep what was logged, say why, and end the run: never leave it RUNNING."""
    with contextlib.suppress(Exception):
        sink.flush()
    with contextlib.suppress(Exception):
        message = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
        client.set_tag(run_id, "optlab.error", str(message)[:5000])
        if isinstance(error, Exception):
            text = "".join(traceback.format_exception(error))
            client.log_text(run_id, text, "error.txt")
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
