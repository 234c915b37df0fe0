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
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlsplit, urlunsplit

from harness.core.config import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Experiment tag that makes the MLflow UI open the experiment in its model-training view.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def quiet_mlflow() -> None:
    """Offline defaults for a research lab: no usage telemetry unless the user asks for it."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # MLflow prints "View run at <tracking URI>" on every run's end: noise in a sweep, and the
    # URI may carry a password
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # It logs every database error with its SQL before raising it; the job reports the error
    # in one line, so a store lost mid-sweep is not hundreds of lines of SQL
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


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


def redact(uri: str | None) -> str:
    """A URI without its password, fit for a param or a log line.

    >>> redact("http://alice:s3cr3t@127.0.0.1:5000"), redact("sqlite:///store/mlflow.db")
    ('http://alice:***@127.0.0.1:5000', 'sqlite:///store/mlflow.db')
    """
    if not uri or "@" not in uri:
        return str(uri)
    parts = urlsplit(uri)
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when a tracking server does not answer (its password unshown)."""
    import urllib.error  # here, not at the top: every start of the command line imports this module
    import urllib.request

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    health = urlunsplit(parts._replace(netloc=netloc)).rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ConfigError(
            "tracking.uri",
            redact(uri),
            f"cannot reach the tracking server ({reason}); start it "
            "(make server) or choose another store",
        ) from None


#: Stores MLflow can track to (a database URL may name its driver: ``postgresql+psycopg2``).
#: Not file://: MLflow 3 keeps its file store in maintenance mode and refuses new runs in it.
STORE_SCHEMES = {"sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks"}


def check_scheme(uri: str) -> None:
    """Fail in one line on a URI MLflow cannot track to, or an SQLite store with no file."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in STORE_SCHEMES:
        raise ConfigError(
            "tracking.uri",
            redact(uri),
            "unsupported store; use sqlite:///path/to/mlflow.db, http://host:port "
            "or a database URL (" + ", ".join(sorted(STORE_SCHEMES)) + ")",
        )
    if scheme == "sqlite" and uri.removeprefix("sqlite:///").removeprefix("sqlite://") in (
        "",
        ":memory:",
    ):
        raise ConfigError(
            "tracking.uri", uri, "needs a database file (sqlite:///path/to/mlflow.db)"
        )


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


#: MLflow's SQL stores: each keeps one engine, a pool of open connections, per database.
SQL_STORE_MODULES = (
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
)


def release_connections() -> None:
    """Close the database connections MLflow keeps open in this process, before it forks.

    Two processes must never share one (SQLite's and SQLAlchemy's advice: dispose of the engine
    before a fork); forked workers open their own on their first call, and so does this process.
    """
    for name in SQL_STORE_MODULES:
        module = sys.modules.get(name)  # not imported: this process opened nothing with it
        if module is not None:
            for engine in list(module.SqlAlchemyStore._engine_map.values()):
                engine.dispose()


#: (uri, experiment name) → experiment id, found once per process: a sweep's jobs in one
#: process ask the store once, not once a job (MLflow, too, keeps one store per URI a process).
_EXPERIMENT_IDS: dict[tuple[str, str], str] = {}


def prepare_store(uri: str | None, experiment: str) -> tuple[str, str]:
    """Check, create and migrate the store and the experiment; return (uri, experiment_id)."""
    quiet_mlflow()
    uri = resolve_uri(uri)
    check_scheme(uri)
    check_reachable(uri)
    check_writable(uri)
    key = (uri, experiment)
    if key not in _EXPERIMENT_IDS:
        _EXPERIMENT_IDS[key] = _find_or_create_experiment(uri, experiment)
    return uri, _EXPERIMENT_IDS[key]


def _find_or_create_experiment(uri: str, experiment: str) -> str:
    from mlflow.tracking import MlflowClient

    if sqlite_path(uri) is not None:  # its long import outside the lock that parallel jobs share
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401

    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(
            experiment, artifact_location=artifact_location(uri), tags=EXPERIMENT_KIND
        )
