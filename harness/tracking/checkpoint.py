"""Checkpoints: a killed job continues its own MLflow run from its last saved step.

With ``trainer.checkpoint_every=K`` the loop hands a ``TrainState`` to the sink every K steps;
``CheckpointSink`` first sends the pending metrics, then writes the state atomically (temp file
+ ``os.replace``) to ``<folder>/<config hash>-<store key>.npz`` with the run's id. The file is
an ``.npz`` of plain arrays plus one JSON string, read back with ``allow_pickle=False``: loading
a checkpoint can never run code. The folder is ``<store dir>/checkpoints`` beside an embedded
SQLite store and the embedded store's folder for a tracking server (``<project>/store/`` or
``OPTLAB_STORE_DIR``); ``OPTLAB_CHECKPOINT_DIR`` moves it (a node-local disk on a cluster, say).

Each job also holds an exclusive lock, ``<same name>.lock``, while it runs: the kernel releases
it when the process dies, even by ``kill -9``, so a job that gets the lock knows that no live
process on this machine runs it, and that a RUNNING run it finds from this machine is stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from harness.core.curves import Curves
from harness.core.train import TrainState
from harness.tracking.sink import MlflowSink
from harness.tracking.store import default_store_dir, sqlite_path

FORMAT_VERSION = 1
#: The parts of an optimizer's ``state_dict`` that are arrays, ``{name: {parameter: array}}``,
#: and the prefix of their ``.npz`` entries: its state buffers and its last Δp (a checkpoint
#: written before ``last_update`` existed reads as one without it).
ARRAY_GROUPS = {"state": "opt.", "last_update": "opt.last_update."}


@dataclass
class Checkpoint:
    """A saved ``TrainState`` and the run it belongs to."""

    run_id: str
    config_hash: str
    state: TrainState


def checkpoint_dir(uri: str) -> Path:
    """``OPTLAB_CHECKPOINT_DIR``, else beside a SQLite store, else in the embedded store's folder
    (``<project>/store/``, or ``OPTLAB_STORE_DIR``)."""
    if os.environ.get("OPTLAB_CHECKPOINT_DIR"):
        return Path(os.environ["OPTLAB_CHECKPOINT_DIR"]).resolve()
    db = sqlite_path(uri)
    return (db.parent if db else default_store_dir()) / "checkpoints"


def checkpoint_path(uri: str, experiment_id: str, digest: str) -> Path:
    """Where the job with config hash ``digest`` keeps its checkpoint for this store/experiment.

    >>> checkpoint_path("http://u:pw@h:5000", "3", "abc").name == checkpoint_path(
    ...     "http://h:5000", "3", "abc").name
    True
    """
    parts = urlsplit(uri)
    store = parts._replace(netloc=f"{parts.hostname or ''}:{parts.port or ''}").geturl()
    scope = hashlib.sha256(f"{store}|{experiment_id}".encode()).hexdigest()[:8]
    return checkpoint_dir(uri) / f"{digest}-{scope}.npz"


# --- the file -------------------------------------------------------------------------------
def save_checkpoint(path: Path, run_id: str, digest: str, state: TrainState) -> None:
    """Write ``state`` to ``path`` atomically: a reader sees the old file or the new, whole."""
    arrays = {"curves": state.curves.data}
    params = list(state.params)
    arrays.update({f"param{i}": np.asarray(state.params[k]) for i, k in enumerate(params)})
    optimizer = dict(state.optimizer)
    for group, prefix in ARRAY_GROUPS.items():  # the arrays as .npz entries, names in the JSON
        buffers = optimizer.pop(group, None)
        optimizer[group] = None
        if buffers is not None:
            optimizer[group] = {name: list(arrays_) for name, arrays_ in buffers.items()}
            for name, arrays_ in buffers.items():
                for i, value in enumerate(arrays_.values()):
                    arrays[f"{prefix}{name}{i}"] = np.asarray(value)
    meta = {
        "version": FORMAT_VERSION,
        "run_id": run_id,
        "config_hash": digest,
        "step": state.step,
        "initial_loss": state.initial_loss,
        "columns": list(state.curves.columns),
        "params": params,
        "optimizer": optimizer,
        "rng": state.rng,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class DamagedCheckpoint(Exception):  # noqa: N818 - it names the file's state, not a failure
    """A checkpoint that cannot be read; it has been moved to ``<name>.damaged``."""


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, or None when there is none.

    A file that cannot be read (truncated, empty, another format) is moved aside to
    ``<name>.damaged``, kept for inspection, and ``DamagedCheckpoint`` says why: the job then
    starts over instead of failing on the same file at every rerun.
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            if meta["version"] != FORMAT_VERSION:
                raise ValueError(f"format version {meta['version']}, expected {FORMAT_VERSION}")
            return Checkpoint(meta["run_id"], meta["config_hash"], _to_state(meta, saved))
    except Exception as error:  # zipfile.BadZipFile, EOFError, ValueError, KeyError, …
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        raise DamagedCheckpoint(f"unreadable checkpoint ({reason}), moved to {aside}") from error


def _to_state(meta: dict, saved) -> TrainState:
    optimizer = dict(meta["optimizer"])
    for group, prefix in ARRAY_GROUPS.items():
        names = optimizer.pop(group, None)
        optimizer[group] = None
        if names is not None:
            optimizer[group] = {
                name: {key: saved[f"{prefix}{name}{i}"] for i, key in enumerate(keys)}
                for name, keys in names.items()
            }
    curves = Curves(tuple(meta["columns"]), 0)
    curves.data = saved["curves"]
    return TrainState(
        step=int(meta["step"]),
        params={key: saved[f"param{i}"] for i, key in enumerate(meta["params"])},
        optimizer=optimizer,
        rng=meta["rng"],
        curves=curves,
        initial_loss=meta["initial_loss"],
    )


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in a checkpoint")


def discard_checkpoint(path: Path) -> None:
    """Remove a finished job's checkpoint (call it while holding the job's lock)."""
    for leftover in (path, path.with_name(path.name + ".tmp")):
        leftover.unlink(missing_ok=True)


# --- one live process per job ---------------------------------------------------------------
@contextlib.contextmanager
def job_lock(path: Path, name: str):
    """Hold ``<path>.lock`` exclusively; if another process holds it, say so and wait.

    Yields whether the lock file was there before this process locked it: every way out of a
    job removes its lock file (``release_lock_file``), so one left behind is a dead process's
    (``kill -9``, a lost node), whose run may still be RUNNING.
    """
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle, left_behind = _open_lock_file(lock_path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[optlab] {name} is running in another process; waiting", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        if _same_file(handle, lock_path):
            break
        handle.close()  # the holder finished and removed the file: lock the new one
    try:
        yield left_behind
    finally:
        handle.close()


def _open_lock_file(lock_path: Path):
    """The lock file opened for appending, and whether it existed (False: this call made it)."""
    try:
        descriptor = os.open(lock_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return open(lock_path, "a"), True  # noqa: SIM115 - held until the job ends
    return os.fdopen(descriptor, "a"), False


def release_lock_file(path: Path) -> None:
    """Remove a job's lock file as the job ends, however it ends (while holding it: waiters
    then retry on a new file)."""
    path.with_name(path.name + ".lock").unlink(missing_ok=True)


def _same_file(handle, lock_path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino
    except FileNotFoundError:
        return False


# --- the sink -------------------------------------------------------------------------------
class CheckpointSink(MlflowSink):
    """An ``MlflowSink`` that saves checkpoints and, resumed, logs only steps the store lacks.

    Each ``log_batch`` call carries whole steps, so a kill never leaves a step half logged:
    the last step in the store (``last_logged_step``) is complete, and a resumed job logs from
    the step after it.
    """

    def __init__(self, client, run_id, stride, path=None, digest="", resume=None, params=None):
        super().__init__(client, run_id, stride, params)
        self.path, self.digest = path, digest
        self.resume_step, self.logged_upto = resume if resume is not None else (None, None)

    def on_start(self, curves: Curves) -> None:
        if self.resume_step is None:
            return super().on_start(curves)
        self.attach(curves)
        after = -1 if self.logged_upto is None else self.logged_upto
        self.flushed_upto = max(after, 0)
        if after < 0:
            self.add(0)
        for step in range(max(after + 1, 1), self.resume_step + 1):
            super().on_step(step, curves)  # steps the checkpoint has and the store lacks

    def on_step(self, step: int, curves: Curves) -> None:
        if step > self.flushed_upto:
            super().on_step(step, curves)

    def on_checkpoint(self, state: TrainState) -> None:
        self.flush()  # first the metrics up to this step, then the state that follows them
        if self.path is not None:
            save_checkpoint(self.path, self.run_id, self.digest, state)


def last_logged_step(client, run_id: str) -> int | None:
    """The last step whose metrics the store holds (None: not even step 0's evaluation).

    Every step logs ``train_loss`` (strided steps) or ``val_loss`` (evaluations), and batches
    hold whole steps, so the later of the two histories' last steps is the last step logged.
    """
    steps = [
        metric.step
        for name in ("train_loss", "val_loss")
        for metric in client.get_metric_history(run_id, name)
    ]
    return max(steps, default=None)
