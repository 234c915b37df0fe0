"""Read the curves of many runs into one long table: ``run_id, step, metric, value``.

Each job run stores its full-resolution curves as a wide parquet artifact
(``curves/curves.parquet``: a ``step`` column and one column per metric). A local artifact
store is read in place, run after run; any other (``mlflow-artifacts:``, ``s3:``, ...) is
downloaded with :func:`mlflow.artifacts.download_artifacts`, runs in parallel threads. The
files are read with pyarrow, not pandas (a DataFrame per run cost more than the read), and the
long table is built with numpy. A run without the artifact falls back to its MLflow metric
history. Only recorded points are kept (NaN cells of the wide table are dropped); ``inf`` from
a diverging run is kept.

Dtypes are compact: ``run_id`` and ``metric`` are categoricals, ``step`` is int32 (int64 past
2**31); ``value`` stays float64 so values round-trip exactly.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow import MlflowClient

from analysis import contract as c

Series = dict[str, tuple[np.ndarray, np.ndarray]]

__all__ = [
    "load_curves",
    "load_metric_history",
    "load_wide_curves",
    "read_wide_curves",
    "to_local_path",
    "to_long_table",
    "to_series",
]


def load_curves(
    runs: pd.DataFrame,
    tracking_uri: str | None = None,
    max_workers: int = 8,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The long curves table of the runs in a runs table (columns ``run_id``, ``artifact_uri``)."""
    tracking_uri = tracking_uri or c.default_tracking_uri()
    client = MlflowClient(tracking_uri=tracking_uri)
    run_ids, artifact_uris = list(runs["run_id"]), list(runs["artifact_uri"])
    folders = [to_local_path(artifact_uri) for artifact_uri in artifact_uris]
    if all(folder is not None for folder in folders):  # threads would only contend for the GIL
        series = [
            _local_series(client, run_id, folder)
            for run_id, folder in zip(run_ids, folders, strict=True)
        ]
    else:
        with tempfile.TemporaryDirectory(prefix="analysis-curves-") as tmp, _quiet_downloads():

            def load_one(run_id: str, artifact_uri: str) -> Series:
                wide = load_wide_curves(artifact_uri, tracking_uri, Path(tmp) / run_id)
                return load_metric_history(client, run_id) if wide is None else to_series(wide)

            with ThreadPoolExecutor(max_workers=max_workers) as pool:
                series = list(pool.map(load_one, run_ids, artifact_uris))
    if metrics is not None:
        series = [{key: s[key] for key in metrics if key in s} for s in series]
    return to_long_table(run_ids, series)


def _local_series(client: MlflowClient, run_id: str, folder: Path) -> Series:
    path = folder / c.CURVES_ARTIFACT
    if not path.is_file():
        return load_metric_history(client, run_id)
    return to_series(read_wide_curves(path))


def to_local_path(artifact_uri: str) -> Path | None:
    """The local folder of a ``file:`` URI or plain path; None for a remote artifact URI.

    >>> to_local_path("file:///tmp/a%20b/artifacts").as_posix()
    '/tmp/a b/artifacts'
    >>> to_local_path("/tmp/x").as_posix(), to_local_path("mlflow-artifacts:/1/r/artifacts")
    ('/tmp/x', None)
    """
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain path, or a Windows drive
        return Path(artifact_uri)
    return None


def load_wide_curves(
    artifact_uri: str, tracking_uri: str | None = None, dst: Path | None = None
) -> pa.Table | None:
    """A run's wide ``curves.parquet`` (read in place when local, else downloaded), or None."""
    local = to_local_path(artifact_uri)
    if local is not None:
        path = local / c.CURVES_ARTIFACT
        return read_wide_curves(path) if path.is_file() else None
    try:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{artifact_uri.rstrip('/')}/{c.CURVES_ARTIFACT}",
            dst_path=str(dst) if dst else None,
            tracking_uri=tracking_uri,
        )
    except mlflow.MlflowException:
        return None
    wide = read_wide_curves(path)
    Path(path).unlink(missing_ok=True)
    return wide


def read_wide_curves(path: str | Path) -> pa.Table:
    """A wide curves file as a pyarrow Table, without the DataFrame index pandas may have stored."""
    table = pq.ParquetFile(path).read(use_threads=False)  # a small file: threads cost more
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    return table.drop_columns([name for name in index if isinstance(name, str)])


def to_series(wide: pd.DataFrame | pa.Table) -> Series:
    """Split a wide curves table into ``{metric: (steps, values)}``, dropping unrecorded (NaN).

    >>> wide = pd.DataFrame({"step": [0, 1, 2], "train_loss": [np.nan, 2.0, 1.0]})
    >>> steps, values = to_series(wide)["train_loss"]
    >>> steps.tolist(), values.tolist()
    ([1, 2], [2.0, 1.0])
    """
    if isinstance(wide, pd.DataFrame):
        wide = pa.Table.from_pandas(wide, preserve_index=False)
    steps = wide.column("step").to_numpy().astype(np.int64, copy=False)
    series = {}
    for column in wide.column_names:
        if column == "step":
            continue
        values = wide.column(column).to_numpy().astype(np.float64, copy=False)  # null → NaN
        recorded = ~np.isnan(values)
        series[column] = (steps[recorded], values[recorded])
    return series


def load_metric_history(client: MlflowClient, run_id: str) -> Series:
    """Every curve metric of a run from MLflow's metric history (the slow path)."""
    keys = [k for k in client.get_run(run_id).data.metrics if k not in c.SUMMARY_METRICS]
    series = {}
    for key in keys:
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: m.timestamp)
        by_step = {m.step: m.value for m in history}  # a re-logged step keeps its last value
        steps = np.array(sorted(by_step), dtype=np.int64)
        series[key] = (steps, np.array([by_step[s] for s in steps], dtype=np.float64))
    return series


def to_long_table(run_ids: Sequence[str], series: Sequence[Series]) -> pd.DataFrame:
    """Stack per-run ``{metric: (steps, values)}`` into the long table, ordered run, metric, step.

    >>> long = to_long_table(["a"], [{"val_loss": (np.array([0, 10]), np.array([2.0, 1.0]))}])
    >>> long.to_dict("list")
    {'run_id': ['a', 'a'], 'step': [0, 10], 'metric': ['val_loss', 'val_loss'], 'value': [2.0, 1.0]}
    """
    metrics = _metric_order({key for s in series for key in s})
    parts = [
        (run_code, metric_code, *run_series[metric])
        for run_code, run_series in enumerate(series)
        for metric_code, metric in enumerate(metrics)
        if metric in run_series
    ]
    sizes = [part[2].size for part in parts]
    run_codes = np.repeat(np.array([part[0] for part in parts], dtype=np.int32), sizes)
    metric_codes = np.repeat(np.array([part[1] for part in parts], dtype=np.int16), sizes)
    steps, values = (
        np.concatenate([part[i] for part in parts]).astype(dt, copy=False)
        if parts
        else np.array([], dtype=dt)
        for i, dt in ((2, np.int64), (3, np.float64))
    )
    step_dtype = np.int32 if steps.size == 0 or steps.max() < 2**31 else np.int64
    return pd.DataFrame(
        {
            "run_id": pd.Categorical.from_codes(run_codes, categories=list(run_ids)),
            "step": steps.astype(step_dtype),
            "metric": pd.Categorical.from_codes(metric_codes, categories=metrics),
            "value": values,
        },
        copy=False,
    )


def _metric_order(keys: set[str]) -> list[str]:
    known = [key for key in (*c.CURVE_METRICS, *c.TRAJECTORY_COLUMNS) if key in keys]
    return known + sorted(keys - set(known))


@contextmanager
def _quiet_downloads() -> Iterator[None]:
    """Silence MLflow's per-file progress bar unless the user set it explicitly."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    was_set = name in os.environ
    os.environ.setdefault(name, "false")
    try:
        yield
    finally:
        if not was_set:
            os.environ.pop(name, None)
