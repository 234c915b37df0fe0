"""Search the runs of a SQLite MLflow store with plain SQL: the rows of the runs table at once.

``MlflowClient.search_runs`` on a SQLite store builds an ORM object for every tag, param and
metric of every run (about fifty a job run), and that costs more than everything else a sweep's
load does. This module reads the same tables (``runs``, ``tags``, ``params``,
``latest_metrics``) with one query each, read-only, and returns what :func:`analysis.load`
turns into the runs table, in MLflow's order (``start_time``, then ``run_uuid``; each run's
keys in the order they were written). The MLflow client still opens the store first, so a
store whose schema MLflow would refuse is refused before any SQL here runs.

Only the searches :func:`analysis.load.load_runs` needs: every active run of an experiment, or
those with one tag equal to a value.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["search_rows", "to_sqlite_path"]


def to_sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:`` tracking URI; None for any other store.

    >>> to_sqlite_path("sqlite:////tmp/store/mlflow.db").as_posix()
    '/tmp/store/mlflow.db'
    >>> to_sqlite_path("sqlite:///store/mlflow.db").as_posix(), to_sqlite_path("http://h:5000")
    ('store/mlflow.db', None)
    >>> to_sqlite_path("sqlite:///:memory:")
    """
    if urlparse(tracking_uri).scheme != "sqlite":
        return None
    path = tracking_uri.removeprefix("sqlite:///").removeprefix("sqlite://").split("?")[0]
    return Path(path) if path not in ("", ":memory:") else None


def search_rows(path: Path, experiment_id: str, tag: tuple[str, str] | None = None) -> list[dict]:
    """One dict a run (``info``, ``params``, ``metrics``, ``tags``) for the active runs of an
    experiment, those whose tag ``tag[0]`` equals ``tag[1]`` when ``tag`` is given."""
    where = "experiment_id = ? AND lifecycle_stage = 'active'"
    args: list = [int(experiment_id)]
    if tag is not None:
        where += ' AND run_uuid IN (SELECT run_uuid FROM tags WHERE "key" = ? AND value = ?)'
        args += list(tag)
    selected = f"SELECT run_uuid FROM runs WHERE {where}"
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        runs = db.execute(
            "SELECT run_uuid, name, status, start_time, end_time, artifact_uri FROM runs"
            f" WHERE {where} ORDER BY start_time IS NULL, start_time, run_uuid",
            args,
        ).fetchall()
        rows = {run[0]: _info(run) for run in runs}
        for table, kind in (("params", "params"), ("tags", "tags")):
            for run_id, key, value in db.execute(
                f'SELECT run_uuid, "key", value FROM {table} WHERE run_uuid IN ({selected})'
                " ORDER BY run_uuid, rowid",
                args,
            ):
                rows[run_id][kind][key] = value
        for run_id, key, value, is_nan in db.execute(
            'SELECT run_uuid, "key", value, is_nan FROM latest_metrics'
            f" WHERE run_uuid IN ({selected}) ORDER BY run_uuid, rowid",
            args,
        ):
            rows[run_id]["metrics"][key] = float("nan") if is_nan else float(value)
    for row in rows.values():  # as MLflow names a run without a name
        if not row["info"]["run_name"] and row["tags"].get("mlflow.runName"):
            row["info"]["run_name"] = row["tags"]["mlflow.runName"]
    return list(rows.values())


def _info(run: tuple) -> dict:
    run_id, name, status, start_time, end_time, artifact_uri = run
    info = {"run_id": run_id, "run_name": name, "status": status, "start_time": start_time}
    info |= {"end_time": end_time, "artifact_uri": artifact_uri}
    return {"info": info, "params": {}, "metrics": {}, "tags": {}}
