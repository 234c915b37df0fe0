"""The loader returns exactly what the fixture logged to a real SQLite MLflow store."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import (
    MAIN_EXPERIMENT,
    PLANAR_EXPERIMENT,
    START_MS,
    JobSpec,
    log_sweep,
    shared_store,
)
from mlflow import MlflowClient

import analysis.load as load
from analysis.contract import IN_SWEEP_TAG
from analysis.curves import to_long_table, to_series
from analysis.load import AnalysisError, load_study, to_numeric_params


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def main(store):
    return load_study(MAIN_EXPERIMENT, tracking_uri=store.tracking_uri)


def test_latest_sweep_is_the_main_sweep_with_every_child(store, main):
    assert main.parent.info.run_id == store.main.parent_run_id
    assert set(main.runs["run_id"]) == set(store.main.specs)
    assert len(main.runs) == 24


def test_sweep_by_id_and_whole_experiment(store):
    older = load_study(MAIN_EXPERIMENT, store.older.parent_run_id, store.tracking_uri)
    assert set(older.runs["run_id"]) == set(store.older.specs)
    everything = load_study(MAIN_EXPERIMENT, None, store.tracking_uri)
    expected = {*store.main.specs, *store.older.specs, *store.single.specs}
    assert set(everything.runs["run_id"]) == expected  # parents are not jobs
    assert everything.parent is None


def test_runs_table_derived_columns_match_the_specs(store, main):
    runs = main.runs.set_index("run_id")
    for run_id, spec in store.main.specs.items():
        row = runs.loc[run_id]
        assert (row["optimizer"], row["label"], row["seed"]) == (
            spec.optimizer,
            spec.label,
            spec.seed,
        )
        assert row["diverged"] == (spec.diverge_at is not None)
        assert row["status"] == spec.status
        assert row["optimizer.lr"] == spec.lr
    assert runs["group"].nunique() == 8
    assert runs.groupby("group")["seed"].nunique().eq(3).all()
    assert runs["diverged"].dtype == bool
    assert runs.loc[runs["diverged"], "diverged_step"].tolist() == [90.0]


def test_params_become_numbers_where_numeric(main):
    runs = main.runs
    assert runs["optimizer.lr"].dtype == "float64"
    assert runs["seed"].dtype == "int64"
    assert runs["trainer.steps"].dtype == "int64"
    assert runs["dataset.shift_step"].tolist() == [120] * 24
    assert runs["optimizer.decay_rate"].dropna().isin([0.9, 0.99]).all()
    assert runs["model.name"].eq("mlp").all()


def test_summary_metrics_are_columns(store, main):
    runs = main.runs.set_index("run_id")
    for run_id, wide in store.main.curves.items():
        assert runs.loc[run_id, "final_val_loss"] == pytest.approx(
            wide["val_loss"].dropna().iloc[-1]
        )


def test_curves_hold_exactly_the_logged_points(store, main):
    curves = main.curves
    for run_id, wide in store.main.curves.items():
        spec = store.main.specs[run_id]
        got = curves[curves["run_id"] == run_id]
        for metric in wide.columns.drop("step"):
            logged = wide[["step", metric]].dropna()
            if not spec.write_parquet:  # the metric-history fallback keeps finite values only
                logged = logged[np.isfinite(logged[metric])]
            part = got[got["metric"] == metric]
            assert part["step"].tolist() == logged["step"].tolist(), (run_id, metric)
            assert part["value"].tolist() == logged[metric].tolist(), (run_id, metric)


def test_curves_of_fallback_and_diverged_runs(store, main):
    curves = main.curves
    by_name = {(s.status, s.write_parquet, s.diverge_at): r for r, s in store.main.specs.items()}
    failed = curves[(curves["run_id"] == by_name[("FAILED", False, None)])]
    assert failed.loc[failed["metric"] == "train_loss", "step"].max() == 100  # stopped halfway
    diverged = curves[curves["run_id"] == by_name[("FINISHED", True, 90)]]
    loss = diverged.loc[diverged["metric"] == "train_loss", "value"]
    assert len(loss) == 90 and math.isinf(loss.iloc[-1])


def test_curves_dtypes_are_compact(main):
    dtypes = main.curves.dtypes.astype(str).to_dict()
    assert dtypes == {
        "run_id": "category",
        "step": "int32",
        "metric": "category",
        "value": "float64",
    }
    assert "accumulator_mean" in main.curves["metric"].cat.categories


def test_planar_runs_have_xy_from_the_start(store):
    planar = load_study(PLANAR_EXPERIMENT, tracking_uri=store.tracking_uri)
    assert len(planar.runs) == 10
    x = planar.curves[planar.curves["metric"] == "x"]
    assert x.groupby("run_id", observed=True)["step"].min().eq(0).all()
    assert x.groupby("run_id", observed=True).size().eq(101).all()
    assert set(planar.runs["problem"]) == {"quadratic2d", "rosenbrock"}  # dataset "none"


def test_search_is_paginated(store, monkeypatch):
    monkeypatch.setattr(load, "to_sqlite_path", lambda uri: None)  # MLflow's search, as remote
    monkeypatch.setattr(load, "PAGE_SIZE", 5)
    study = load_study(MAIN_EXPERIMENT, tracking_uri=store.tracking_uri)
    assert len(study.runs) == 24 and study.runs["run_id"].is_unique


def _through_mlflow(monkeypatch, *args) -> load.Study:
    """``load_study`` with MLflow's ``search_runs`` instead of the SQL reader, as for a server."""
    with monkeypatch.context() as patch:
        patch.setattr(load, "to_sqlite_path", lambda uri: None)
        return load_study(*args)


@pytest.mark.parametrize(
    ("experiment", "sweep"),
    [(MAIN_EXPERIMENT, "latest"), (MAIN_EXPERIMENT, "older"), (MAIN_EXPERIMENT, None)]
    + [(PLANAR_EXPERIMENT, "latest")],
)
def test_sql_reader_returns_what_mlflow_search_returns(store, monkeypatch, experiment, sweep):
    sweep = store.older.parent_run_id if sweep == "older" else sweep
    ours = load_study(experiment, sweep, store.tracking_uri)
    mlflows = _through_mlflow(monkeypatch, experiment, sweep, store.tracking_uri)
    pd.testing.assert_frame_equal(ours.runs, mlflows.runs)
    pd.testing.assert_frame_equal(ours.curves, mlflows.curves)


def test_sql_reader_on_joined_deleted_and_unnamed_runs(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    specs = [JobSpec("adagrad", 0.1, seed, steps=20, eval_every=10) for seed in range(3)]
    first = log_sweep(client, "joins", specs, "sweep-a", START_MS, tmp_path)
    second = log_sweep(client, "joins", specs[:2], "sweep-b", START_MS + 60_000, tmp_path)
    joined, deleted, unnamed = [*first.specs][0], [*second.specs][0], [*second.specs][1]
    client.set_tag(joined, f"{IN_SWEEP_TAG}{second.parent_run_id}", "sweep-b")
    client.delete_run(deleted)
    with closing(sqlite3.connect(tmp_path / "mlflow.db")) as db, db:  # a store of MLflow 1.x
        db.execute("UPDATE runs SET name = '' WHERE run_uuid = ?", (unnamed,))
    ours = load_study("joins", second.parent_run_id, uri)
    assert set(ours.runs["run_id"]) == {joined, unnamed}
    assert ours.runs.set_index("run_id").loc[unnamed, "run_name"]  # from mlflow.runName
    mlflows = _through_mlflow(monkeypatch, "joins", second.parent_run_id, uri)
    pd.testing.assert_frame_equal(ours.runs, mlflows.runs)
    everything = load_study("joins", None, uri)
    assert len(everything.runs) == 4
    pd.testing.assert_frame_equal(
        everything.runs, _through_mlflow(monkeypatch, "joins", None, uri).runs
    )


def test_bad_input_raises_analysis_error(store):
    with pytest.raises(AnalysisError, match="no experiment named"):
        load_study("no-such-study", tracking_uri=store.tracking_uri)
    with pytest.raises(AnalysisError, match="not in experiment"):
        load_study(MAIN_EXPERIMENT, store.planar.parent_run_id, store.tracking_uri)
    MlflowClient(store.tracking_uri).create_experiment(
        "empty-study", artifact_location=(store.root / "empty").as_uri()
    )
    with pytest.raises(AnalysisError, match="no runs"):
        load_study("empty-study", tracking_uri=store.tracking_uri)


def test_numeric_conversion_keeps_text_and_missing():
    params = pd.DataFrame({"a": ["1e-3", "None"], "b": ["x", "None"], "c": ["None", "None"]})
    out = to_numeric_params(params)
    assert out["a"].tolist()[0] == 0.001 and math.isnan(out["a"].tolist()[1])
    assert out["b"].tolist() == ["x", "None"]
    assert out["c"].isna().all()


def _reference_to_numeric(column: pd.Series) -> pd.Series:
    """The rule with pandas' vectorized string methods, one pass over every value."""
    text = column.astype("string")
    present = text.notna() & ~text.isin(load.MISSING_TOKENS)
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    if not present.any() or numbers[present].isna().any():
        return column if present.any() else numbers.astype("float64")
    if text[present].str.contains(r"[.eEnN]", regex=True).any():
        return numbers.astype("float64")
    return numbers.astype("int64" if present.all() else "Int64")


def test_numeric_conversion_matches_the_vectorized_rule():
    columns = {
        "seed": ["3", "1", "3", "12345678901234567"],
        "lr": ["0.1", "1e-3", "0.1", "-inf"],
        "shift": ["None", "50", None, "50"],
        "decay": [np.nan, "0.9", "", "null"],
        "name": ["adam", "1", "adam", "sgd"],
        "absent": ["None", None, "nan", np.nan],
        "steps": [" 20", "20", "7", "-3"],
    }
    params = pd.DataFrame(columns, index=[5, 6, 7, 9], dtype=object)
    ours = to_numeric_params(params)
    for key in columns:
        reference = _reference_to_numeric(params[key])
        pd.testing.assert_series_equal(ours[key], reference, check_names=False, obj=key)


def test_long_table_round_trips_a_wide_table():
    wide = pd.DataFrame(
        {"step": [0, 1, 2], "train_loss": [np.nan, 2.0, np.inf], "val_loss": [3.0, np.nan, 1.0]}
    )
    long = to_long_table(["r"], [to_series(wide)])
    back = long.pivot_table(index="step", columns="metric", values="value", observed=True)
    assert back.loc[2, "train_loss"] == np.inf and back.loc[0, "val_loss"] == 3.0
    assert len(long) == 4


def test_missing_store_is_an_error_not_a_new_empty_store(tmp_path):
    with pytest.raises(AnalysisError, match="no MLflow store"):
        load_study("x", tracking_uri=f"sqlite:///{tmp_path / 'absent.db'}")
    assert list(tmp_path.iterdir()) == []
