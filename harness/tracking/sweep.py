"""A sweep's bookkeeping in the store and its folder, with no Hydra: the parent run that every
job files under, the files jobs read (``sweep.json``) and append to (``progress``), and the
summary the sweep ends with. :class:`harness.cli.sweep.SweepCallback` calls these around a
multirun; jobs (``harness.tracking.job``) and the launcher plugin read the same files.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from pathlib import Path

SWEEP_FILE = ".optlab/sweep.json"
PROGRESS_FILE = ".optlab/progress"
FIRST_END_FILE = ".optlab/first_end"  # when the sweep's first job ended (the ETA's clock)
STATUSES = ("FINISHED", "SKIPPED", "FAILED")


def load_sweep_info(folder: Path) -> dict | None:
    path = folder / SWEEP_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write_sweep_info(folder: Path, info: dict) -> None:
    (folder / ".optlab").mkdir(parents=True, exist_ok=True)
    (folder / SWEEP_FILE).write_text(json.dumps(info))


def forget_sweep_files(folder: Path) -> None:
    """A relaunch into the same folder counts afresh."""
    for stale in (SWEEP_FILE, PROGRESS_FILE, FIRST_END_FILE):
        (folder / stale).unlink(missing_ok=True)


def eta_seconds(
    folder: Path, started: float, done: int, total: int, now: float, mark: bool = True
) -> float:
    """Seconds left, at the pace jobs have ended since the first end recorded.

    The first job's time holds what every sweep pays once (imports, the store, a data set's
    first load, workers starting), so a pace counted from the sweep's start overestimates the
    rest: under load, a first ETA of 55 minutes for a 12-minute demo. The first job to end
    (``mark``) records its time and count in ``FIRST_END_FILE``; later ends are paced from
    that record: the time since it over the ends since it. Two jobs ending together may both
    count 2 ends: whichever records first holds the clock. ``python -m benchmarks --only P5``
    checks the ETA against the sweep's real end.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> eta_seconds(folder, started=0.0, done=2, total=12, now=30.0)  # no pace yet: from start
    150.0
    >>> eta_seconds(folder, started=0.0, done=7, total=12, now=40.0)  # 5 ends in 10 s
    10.0
    """
    marker = folder / FIRST_END_FILE
    left = max(total - done, 0)
    try:
        at, count = (float(x) for x in marker.read_text().split())
    except (OSError, ValueError):  # no record yet (or one being written): pace from the start
        if mark:
            _record_first_end(marker, now, done)
        return (now - started) / max(done, 1) * left
    if done <= count:
        return (now - started) / max(done, 1) * left
    return (now - at) / (done - count) * left


def _record_first_end(marker: Path, now: float, done: int) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    partial = marker.with_name(f"{marker.name}.{uuid.uuid4().hex}")
    partial.write_text(f"{now!r} {done}")
    try:
        os.link(partial, marker)  # atomic, and fails if another job recorded first
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


def job_is_alive(uri: str, experiment_id: str, digest: str) -> bool:
    """Whether a live process holds the lock of the job with config hash ``digest`` (the kernel
    drops a dead process's lock, even after ``kill -9``)."""
    from harness.tracking.checkpoint import checkpoint_path

    path = checkpoint_path(uri, experiment_id, digest)
    lock = path.with_name(path.name + ".lock")
    if not lock.exists():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def open_parent(client, experiment_id: str, key: str, study: str) -> str:
    """The parent run of the sweep keyed ``key``: found and reopened, or created."""
    found = client.search_runs(
        [experiment_id],
        f"tags.`optlab.sweep_id` = '{key}' and tags.`optlab.role` = 'sweep'",
        max_results=1,
    )
    if not found:
        tags = {"optlab.role": "sweep", "optlab.sweep_id": key, "optlab.study": study}
        return client.create_run(
            experiment_id, run_name=f"sweep-{study}-{key[:6]}", tags=tags
        ).info.run_id
    parent_id = found[0].info.run_id
    client.update_run(parent_id, status="RUNNING")
    close_orphans(client, experiment_id, parent_id)
    return parent_id


def close_orphans(client, experiment_id: str, parent_id: str) -> None:
    """Children left RUNNING by a killed earlier launch of this sweep end KILLED; a child whose
    job still holds its lock (the same sweep still running elsewhere) is left alone."""
    orphans = client.search_runs(
        [experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent_id}' and attributes.status = 'RUNNING'",
    )
    for run in orphans:
        digest = run.data.tags.get("optlab.config_hash")
        if digest and job_is_alive(client.tracking_uri, experiment_id, digest):
            continue
        client.set_tag(run.info.run_id, "optlab.error", "sweep was killed; rerun")
        client.set_terminated(run.info.run_id, "KILLED")


def progress_lines(folder: Path) -> list[str]:
    """The ``[done/total] STATUS name`` lines jobs have appended so far."""
    path = folder / PROGRESS_FILE
    return path.read_text().splitlines() if path.exists() else []


def summarize(lines: list[str], total: int | None) -> tuple[str, list[str]]:
    """The sweep's one-line count of job ends, and what went wrong (empty when nothing did)."""
    counts = {s: sum(f" {s} " in line for line in lines) for s in STATUSES}
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
    problems = []
    failed = [line for line in lines if " FAILED " in line]
    if failed:
        names = "; ".join(line.split(maxsplit=2)[-1] for line in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        problems.append(f"{len(failed)} job(s) failed: {names}{more}")
    if total and len(lines) < total:
        problems.append(f"{total - len(lines)} job(s) never reported an end")
    return summary, problems
