"""The README's findings come from the lab: its block equals the one generated from the
committed ``docs/findings/findings.csv``, whose every row is a judged claim."""

from __future__ import annotations

import tempfile
from pathlib import Path

from analysis.findings import COLUMNS, read_findings
from analysis.verdicts import HELD, NOT_HELD, UNRESOLVED
from experiments.publish import DOCS_DIR, README, readme_block, to_readme_block
from harness.tracking.store import PROJECT_ROOT


def test_the_readme_findings_block_is_the_generated_one():
    findings = read_findings(DOCS_DIR / "findings.csv")
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block is not None, "README.md lost its findings markers"
    assert block == to_readme_block(findings), "run python -m experiments.publish"


def test_the_published_findings_answer_both_claims_with_intervals_and_n():
    findings = read_findings(DOCS_DIR / "findings.csv")
    assert list(findings.columns) == COLUMNS
    assert {"stall", "shift"} <= set(findings["study"])
    assert {"stall_costs", "recovers_faster"} <= set(findings["claim"])
    assert set(findings["verdict"]) <= {HELD, NOT_HELD, UNRESOLVED}
    assert (findings["n"] >= 5).all()
    losses = findings[findings["claim"].isin(["stall_costs", "alpha_matters", "alpha_works"])]
    assert (losses["split"] == "test").all()
    for figure in findings["figure"].dropna().unique():
        assert any(DOCS_DIR.joinpath("figures").glob(f"*-{figure}.png")), figure


def test_no_path_of_the_machine_that_made_them():
    """Paths in the published findings are relative: neither this checkout's folder, the
    user's home nor the temporary folder appears."""
    machine = {str(PROJECT_ROOT), str(Path.home()), tempfile.gettempdir()}
    for path in [*DOCS_DIR.rglob("*.md"), *DOCS_DIR.rglob("*.csv")]:
        text = path.read_text(encoding="utf-8")
        assert not [folder for folder in machine if folder in text], path.name
