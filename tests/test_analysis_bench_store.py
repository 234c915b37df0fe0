"""P4's large store (benchmarks.analysis_load.build_large_store) holds what its jobs would log."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from analysis.load import load_study
from benchmarks import analysis_load as p4
from harness.tracking.job import job_params
from harness.tracking.sink import run_name

# the harness's sink writes 20 template jobs (~10 s): make test-long and CI
pytestmark = [pytest.mark.slow, pytest.mark.full]


def test_copied_jobs_carry_their_own_config_and_their_template_curves(tmp_path, monkeypatch):
    monkeypatch.setattr(p4, "STEPS", 60)
    p4.build_store(tmp_path / "small", 20)  # one job per optimizer and lr, seed 0
    uri, parent = p4.build_large_store(tmp_path / "large", 40, tmp_path / "small")
    configs = list(p4._configs(40))
    with closing(sqlite3.connect(tmp_path / "large" / "mlflow.db")) as db:
        ids = dict(db.execute("SELECT name, run_uuid FROM runs"))
        for cfg in configs:
            run_id = ids[run_name(cfg)]
            params = dict(db.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,)))
            tags = dict(db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)))
            assert params == {key: str(value) for key, value in job_params(cfg).items()}
            assert tags.items() >= p4._job_tags(cfg, parent).items()
            assert tags["mlflow.runName"] == run_name(cfg)
    large = load_study(p4.EXPERIMENT, sweep=parent, tracking_uri=uri)
    small_uri = f"sqlite:///{tmp_path / 'small' / 'mlflow.db'}"
    small = load_study(p4.EXPERIMENT, sweep="latest", tracking_uri=small_uri)
    assert sorted(large.runs["seed"]) == sorted(cfg.seed for cfg in configs)
    assert large.runs["run_id"].is_unique and len(large.curves) == 2 * len(small.curves)
    folders = [Path(uri.removeprefix("file://")) for uri in large.runs["artifact_uri"]]
    assert all(str(tmp_path / "large") in str(folder) for folder in folders)
    names = {(folder / "config.yaml").read_text() for folder in folders}
    assert names == {f"# {run_name(cfg)}\n" for cfg in configs}
    by_name = large.runs.set_index("run_name")["run_id"]
    for cfg in configs[20:]:  # a copy's curves are its template's (same optimizer and lr)
        template = next(c for c in configs[:20] if c.optimizer == cfg.optimizer)
        curves = [
            large.curves[large.curves["run_id"] == by_name[run_name(c)]][
                ["step", "metric", "value"]
            ]
            for c in (cfg, template)
        ]
        assert curves[0].reset_index(drop=True).equals(curves[1].reset_index(drop=True))
