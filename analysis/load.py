"""Load an MLflow study (one experiment, or one sweep of it) into tidy pandas tables.

The runs table has one row per job run: ``run_id``, ``run_name``, ``status``, the derived columns
``optimizer``, ``label``, ``group``, ``seed``, ``diverged`` (bool) and ``problem``, then every
param under its dotted key (numeric where numeric), every metric's last value, and every tag.
The long curves table (see :mod:`analysis.curves`) has ``run_id, step, metric, value``.

Runs come from the store's tables read with SQL for a SQLite store (:mod:`analysis.sqlite_runs`),
else from ``MlflowClient.search_runs``, page by page; curves from the ``curves.parquet``
artifacts. What it costs a run is measured by ``python -m benchmarks --only P4``.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Experiment, Run, ViewType

from analysis import contract as c
from analysis.contract import default_tracking_uri
from analysis.curves import load_curves
from analysis.sqlite_runs import search_rows, to_sqlite_path

__all__ = [
    "AnalysisError",
    "Study",
    "check_store",
    "default_tracking_uri",
    "iter_runs",
    "load_curves",
    "load_experiment",
    "load_runs",
    "load_study",
    "load_sweep_run",
    "search_runs",
    "param_columns",
    "to_numeric_params",
    "to_runs_table",
]

MISSING_TOKENS = frozenset({"", "None", "none", "null", "nan", "NaN"})
PAGE_SIZE = 1000


class AnalysisError(Exception):
    """Bad input for an analysis: unknown experiment or sweep, or no runs to analyse."""


@dataclass
class Study:
    """What one analysis works on: the experiment, its sweep's parent run (if any) and tables."""

    experiment: Experiment
    parent: Run | None
    runs: pd.DataFrame
    curves: pd.DataFrame
    tracking_uri: str


def iter_runs(client: MlflowClient, experiment_id: str, filter_string: str = "") -> Iterator[Run]:
    """Yield every active run of an experiment matching ``filter_string``, page by page."""
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=PAGE_SIZE,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def load_experiment(client: MlflowClient, name: str) -> Experiment:
    """The experiment called ``name``; :class:`AnalysisError` when there is none."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise AnalysisError(f"no experiment named {name!r}")
    return experiment


def load_sweep_run(client: MlflowClient, experiment: Experiment, sweep: str) -> Run | None:
    """The parent run of a sweep: by run id, or ``"latest"`` (None if the experiment has none)."""
    if sweep != "latest":
        try:
            run = client.get_run(sweep)
        except mlflow.MlflowException as error:
            raise AnalysisError(f"no sweep run {sweep!r}: {error.message}") from None
        if run.info.experiment_id != experiment.experiment_id:
            raise AnalysisError(f"run {sweep!r} is not in experiment {experiment.name!r}")
        return run
    page = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{c.ROLE_TAG}` = '{c.SWEEP_ROLE}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    return page[0] if page else None


def load_runs(
    client: MlflowClient, experiment: Experiment, parent: Run | None = None
) -> pd.DataFrame:
    """The runs table of one sweep's children, or of every job run when ``parent`` is None."""
    experiment_id = experiment.experiment_id
    if parent is not None:
        parent_id = parent.info.run_id
        sweep_id = parent.data.tags.get(c.SWEEP_ID_TAG, "")
        children = search_runs(client, experiment_id, (c.PARENT_TAG, parent_id))
        # the jobs the sweep skipped: FINISHED elsewhere (harness.tracking.job.join_sweep)
        joined = search_runs(client, experiment_id, (f"{c.IN_SWEEP_TAG}{parent_id}", sweep_id))
        unique = {row["info"]["run_id"]: row for row in (*children, *joined)}
        rows = sorted(unique.values(), key=lambda row: row["info"]["start_time"])
    else:
        rows = [
            row
            for row in search_runs(client, experiment_id)
            if row["tags"].get(c.ROLE_TAG) != c.SWEEP_ROLE
        ]
    return _to_table(rows)


def search_runs(
    client: MlflowClient, experiment_id: str, tag: tuple[str, str] | None = None
) -> list[dict]:
    """The active runs of an experiment (those whose tag ``tag[0]`` is ``tag[1]``, when given)
    as dicts of ``info``, ``params``, ``metrics`` and ``tags``, in ``start_time`` order.

    A SQLite store is read with SQL (:mod:`analysis.sqlite_runs`: the ORM objects MLflow builds
    cost more than the rest of a load); any other through ``MlflowClient.search_runs``.
    """
    path = to_sqlite_path(client.tracking_uri)
    if path is not None:
        return search_rows(path, experiment_id, tag)
    filter_string = f"tags.`{tag[0]}` = '{tag[1]}'" if tag else ""
    return [_as_row(run) for run in iter_runs(client, experiment_id, filter_string)]


def check_store(tracking_uri: str, timeout: float = 20.0) -> None:
    """Fail in one line on a SQLite file that does not exist (MLflow would create an empty
    store there) or a tracking server that does not answer (MLflow would retry for minutes)."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        path = Path(tracking_uri.removeprefix("sqlite:///").removeprefix("sqlite://"))
        if str(path) not in ("", ":memory:") and not path.is_file():
            raise AnalysisError(f"no MLflow store at {path}")
    elif parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout):
                pass
        except OSError as error:
            reason = getattr(error, "reason", error)
            message = f"cannot reach the tracking server {tracking_uri}: {reason}"
            raise AnalysisError(message) from None


def load_study(
    experiment: str,
    sweep: str | None = "latest",
    tracking_uri: str | None = None,
    max_workers: int = 8,
) -> Study:
    """Load the runs and curves of a sweep (``"latest"``, a parent run id) or a whole experiment.

    ``sweep="latest"`` takes the most recently started sweep, and every job of the experiment
    when it has no sweep; ``sweep=None`` takes every job run. ``tracking_uri`` defaults to the
    harness's embedded store (:func:`default_tracking_uri`). Raises :class:`AnalysisError` for
    a missing store, an unknown experiment or sweep, and when there are no runs.
    """
    tracking_uri = tracking_uri or default_tracking_uri()
    check_store(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    found = load_experiment(client, experiment)
    parent = load_sweep_run(client, found, sweep) if sweep else None
    runs = load_runs(client, found, parent)
    if runs.empty:
        where = f"sweep {parent.info.run_id}" if parent else f"experiment {experiment!r}"
        raise AnalysisError(f"no runs in {where}")
    curves = load_curves(runs, tracking_uri=tracking_uri, max_workers=max_workers)
    return Study(found, parent, runs, curves, tracking_uri)


def to_runs_table(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run: info, derived columns, params (numeric where numeric), metrics, tags."""
    return _to_table([_as_row(run) for run in runs])


def _to_table(found: list[dict]) -> pd.DataFrame:
    rows = [_to_row(row) for row in found]
    if not rows:
        return pd.DataFrame(columns=[*_INFO_COLUMNS, *_DERIVED_COLUMNS])
    table = pd.DataFrame.from_records(rows)
    for column in ("start_time", "end_time"):  # one conversion, not one per run
        table[column] = pd.to_datetime(table[column], unit="ms")
    param_keys = sorted({key for row in found for key in row["params"]})
    table[param_keys] = to_numeric_params(table[param_keys])
    table = _with_derived(table, param_keys)
    first = [*_INFO_COLUMNS, *_DERIVED_COLUMNS]
    rest = [col for col in table.columns if col not in first]
    return table[first + rest].reset_index(drop=True)


_INFO_COLUMNS = ["run_id", "run_name", "status", "start_time", "end_time", "artifact_uri"]
_DERIVED_COLUMNS = [
    "optimizer",
    "label",
    "group",
    "seed",
    "diverged",
    "diverged_step",
    "problem",
    "sweep_id",
    "parent_run_id",
]


def _as_row(run: Run) -> dict:
    info = {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status}
    info |= {"start_time": run.info.start_time, "end_time": run.info.end_time}
    info["artifact_uri"] = run.info.artifact_uri
    data = run.data
    return {"info": info, "params": data.params, "metrics": data.metrics, "tags": data.tags}


def _to_row(found: dict) -> dict:
    info = found["info"]
    row = {**info, "end_time": info["end_time"] or None}
    row.update(found["params"])
    row.update({f"metric.{key}": value for key, value in found["metrics"].items()})
    row.update({f"tag.{key}": value for key, value in found["tags"].items()})
    return row


def param_columns(runs: pd.DataFrame) -> list[str]:
    """The config params of a runs table: ``seed`` and dotted keys outside tag namespaces.

    >>> param_columns(pd.DataFrame(columns=["run_id", "seed", "optimizer.lr", "optlab.label"]))
    ['seed', 'optimizer.lr']
    """
    tag_prefixes = ("optlab.", "mlflow.", "metric.", "tag.")
    return [
        col
        for col in runs.columns
        if col == "seed" or ("." in col and not col.startswith(tag_prefixes))
    ]


def to_numeric_params(params: pd.DataFrame) -> pd.DataFrame:
    """Columns whose every value looks numeric become numbers ("None" and "" become missing).

    >>> df = to_numeric_params(pd.DataFrame({"lr": ["0.1", "1"], "seed": ["0", "1"],
    ...     "shift": ["None", "50"], "name": ["adam", "sgd"]}))
    >>> [str(t) for t in df.dtypes]
    ['float64', 'int64', 'Int64', 'str']
    """
    return pd.DataFrame({col: _to_numeric(params[col]) for col in params.columns}, params.index)


def _to_numeric(column: pd.Series) -> pd.Series:
    """One param column as numbers; each distinct text is parsed once (a sweep repeats few)."""
    texts = [None if _is_missing(value) else str(value) for value in column.tolist()]
    distinct = list(dict.fromkeys(text for text in texts if text is not None))
    if not distinct:
        return pd.Series(np.nan, index=column.index, dtype="float64", name=column.name)
    parsed = pd.to_numeric(pd.Series(distinct, dtype="string"), errors="coerce")
    if parsed.isna().any():
        return column
    number = dict(zip(distinct, parsed.tolist(), strict=True))
    looks_int = not any(char in text for text in distinct for char in ".eEnN")
    if looks_int and None not in texts:
        numbers = [int(number[text]) for text in texts]
        return pd.Series(numbers, index=column.index, dtype="int64", name=column.name)
    numbers = [np.nan if text is None else number[text] for text in texts]
    floats = pd.Series(numbers, index=column.index, dtype="float64", name=column.name)
    return floats.astype("Int64") if looks_int else floats


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value != value or str(value) in MISSING_TOKENS


def _with_derived(table: pd.DataFrame, param_keys: list[str]) -> pd.DataFrame:
    col = _column_or_missing
    table["optimizer"] = col(table, f"tag.{c.OPTIMIZER_TAG}").fillna(col(table, "optimizer.name"))
    table["label"] = col(table, f"tag.{c.LABEL_TAG}").fillna(table["optimizer"])
    table["group"] = _group(table, param_keys)
    table["seed"] = col(table, "seed")
    flag = col(table, f"tag.{c.DIVERGED_TAG}").astype("string").str.lower() == "true"
    metric = pd.to_numeric(col(table, "metric.diverged"), errors="coerce") == 1
    table["diverged"] = (flag.fillna(False) | metric.fillna(False)).astype(bool)
    table["problem"] = _problem(table)
    table["sweep_id"] = col(table, f"tag.{c.SWEEP_ID_TAG}")
    table["parent_run_id"] = col(table, f"tag.{c.PARENT_TAG}")
    step = pd.to_numeric(col(table, f"tag.{c.DIVERGED_STEP_TAG}"), errors="coerce")
    table["diverged_step"] = step.astype("float64")
    table = table.drop(columns=["metric.diverged"], errors="ignore")
    table.columns = [_short_name(col, table.columns) for col in table.columns]
    return table


def _column_or_missing(table: pd.DataFrame, column: str) -> pd.Series:
    if column in table.columns:
        return table[column]
    return pd.Series(pd.NA, index=table.index, dtype="object")


def _group(table: pd.DataFrame, param_keys: list[str]) -> pd.Series:
    """The group tag; a hash of the params but the seed only for runs without one (a slow apply)."""
    group = _column_or_missing(table, f"tag.{c.GROUP_TAG}")
    missing = group.isna()
    if not missing.any():
        return group
    params = table.loc[missing, [key for key in param_keys if key != "seed"]]
    return group.fillna(params.apply(_hash_row, axis=1))


def _hash_row(row: pd.Series) -> str:
    text = "|".join(f"{key}={value}" for key, value in row.items())
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _problem(table: pd.DataFrame) -> pd.Series:
    """``dataset/model``; a 2-D function without a dataset (``none``) is just the model."""
    parts = [
        _column_or_missing(table, key).astype("string").replace("none", "").fillna("")
        for key in ("dataset.name", "model.name")
    ]
    return (parts[0] + "/" + parts[1]).str.strip("/")


def _short_name(column: str, columns: pd.Index) -> str:
    """``metric.x`` and ``tag.x`` lose their prefix unless that would clash with a column."""
    for prefix in ("metric.", "tag."):
        if column.startswith(prefix):
            short = column.removeprefix(prefix)
            return column if short in columns else short
    return column
