"""Where runs go: the embedded SQLite store, a tracking server, and getting either ready once.

The embedded default lives in ``<project>/store/`` (``mlflow.db`` and ``artifacts/``) whatever
the working directory; ``OPTLAB_STORE_DIR`` moves it. ``prepare_store`` creates and migrates a
SQLite store under a file lock and creates the experiment once, before a sweep fans out: MLflow's
schema migration races when several processes create one store, and concurrent
``set_experiment`` calls can put runs into "Default".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from harness.config import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Experiment tag that makes the MLflow UI open the experiment in its model-training view.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def quiet_mlflow() -> None:
    """Offline defaults for a research lab: no usage telemetry unless the user asks for it."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def default_store_dir() -> Path:
    return Path(os.environ.get("OPTLAB_STORE_DIR", PROJECT_ROOT / "store")).resolve()


def resolve_uri(uri: str | None) -> str:
    """``None`` → the embedded SQLite store; anything else unchanged."""
    if uri:
        return uri
    return f"sqlite:///{default_store_dir() / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for other stores."""
    if not uri.startswith("sqlite:"):
        return None
    return Path(uri.removeprefix("sqlite:///").removeprefix("sqlite://")).resolve()


def artifact_location(uri: str) -> str | None:
    """Artifacts sit beside a SQLite database; a server decides for itself (None)."""
    db = sqlite_path(uri)
    return (db.parent / "artifacts").as_uri() if db else None


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when a tracking server does not answer."""
    if urlparse(uri).scheme not in ("http", "https"):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConfigError(
            "tracking.uri",
            uri,
            f"cannot reach the tracking server ({reason}); start it "
            "(make server) or choose another store",
        ) from None


def check_writable(uri: str) -> None:
    db = sqlite_path(uri)
    if db is None:
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        probe = db.parent / f".write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            "tracking.uri", uri, f"cannot write the store's folder {db.parent} ({error.strerror})"
        ) from None


@contextlib.contextmanager
def store_lock(uri: str):
    """An exclusive lock beside a SQLite store (no-op for servers), held across processes."""
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    with open(db.parent / ".mlflow.db.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_store(uri: str | None, experiment: str) -> tuple[str, str]:
    """Check, create and migrate the store and the experiment; return (uri, experiment_id)."""
    quiet_mlflow()
    uri = resolve_uri(uri)
    check_reachable(uri)
    check_writable(uri)
    from mlflow.tracking import MlflowClient

    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            return uri, found.experiment_id
        experiment_id = client.create_experiment(
            experiment, artifact_location=artifact_location(uri), tags=EXPERIMENT_KIND
        )
    return uri, experiment_id
