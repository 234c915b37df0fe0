"""The demo's summary folder: the findings table with its required columns, the sentences,
when and from which sweeps it was made; rewritten whole by each run."""

from __future__ import annotations

import pytest
from analysis_fixtures import MAIN_EXPERIMENT, shared_store

from analysis.findings import COLUMNS, read_findings
from experiments.demo import write_summary

REQUIRED = [
    "study", "claim", "arm", "effect", "ci_low", "ci_high", "n", "split", "test", "p_adj",
    "verdict", "seeds_needed",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


def test_the_summary_has_the_required_columns_and_says_where_it_came_from(store, tmp_path):
    out = write_summary(tmp_path / "demo", store.tracking_uri, (MAIN_EXPERIMENT,))
    findings = read_findings(out / "findings.csv")
    assert list(findings.columns[: len(REQUIRED)]) == REQUIRED and list(findings.columns) == COLUMNS
    markdown = (out / "findings.md").read_text(encoding="utf-8")
    assert "rewritten by every demo run" in markdown
    assert f"sweep parent run `{store.main.parent_run_id}`" in markdown
    assert f"## {MAIN_EXPERIMENT}" in markdown and "## The rule" in markdown


def test_a_second_summary_replaces_the_first_whole(store, tmp_path):
    out = write_summary(tmp_path / "demo", store.tracking_uri, (MAIN_EXPERIMENT,))
    (out / "stale.txt").write_text("from an earlier demo")
    write_summary(out, store.tracking_uri, (MAIN_EXPERIMENT,))
    assert not (out / "stale.txt").exists() and (out / "findings.csv").is_file()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".demo.")] == []
