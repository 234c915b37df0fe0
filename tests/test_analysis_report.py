"""The report command writes every section, links its files and logs itself to the sweep."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest
from analysis_fixtures import MAIN_EXPERIMENT, PLANAR_EXPERIMENT, shared_store
from mlflow import MlflowClient

from analysis.load import load_study
from analysis.render import to_markdown
from analysis.report import main
from analysis.sections import to_analysis, to_sections

SECTIONS = [
    "Findings",
    "Study",
    "Configuration",
    "End of training",
    "Time to target",
    "Effective learning-rate decay",
    "Stalls",
    "Recovery after a distribution shift",
    "Figures",
    "Diverged and failed runs",
    "Methods",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def report(store, tmp_path_factory):
    """Run the command line once on the main sweep; its output folder and printed lines."""
    out = tmp_path_factory.mktemp("reports") / "main"
    capture = pytest.MonkeyPatch()
    lines = []
    capture.setattr("builtins.print", lambda *a, **k: lines.append(" ".join(map(str, a))))
    try:
        code = main(
            [
                "--experiment",
                MAIN_EXPERIMENT,
                "--tracking-uri",
                store.tracking_uri,
                "--out",
                str(out),
            ]
        )
    finally:
        capture.undo()
    assert code == 0
    return out, lines


def test_report_has_every_section_in_markdown_and_html(report):
    out, _ = report
    markdown = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", markdown, flags=re.M) == SECTIONS
    assert re.findall(r"<h2>(.+?)</h2>", html) == [s.replace("&", "&amp;") for s in SECTIONS]
    assert "<table" in html and "Student-t" in markdown


def test_report_states_commit_counts_and_problem_runs(store, report):
    markdown = (report[0] / "report.md").read_text(encoding="utf-8")
    assert "0123456789abcdef0123456789abcdef01234567" in markdown
    assert "Runs: 24 (23 FINISHED, 1 FAILED); diverged: 1" in markdown
    assert "seeds per configuration: 3" in markdown
    failed = [r for r, s in store.main.specs.items() if s.status == "FAILED" or s.diverge_at]
    problems = markdown.split("## Diverged and failed runs")[1].split("## Methods")[0]
    assert all(run_id in problems for run_id in failed) and len(failed) == 2


def test_report_links_figures_that_exist_relatively(report):
    out, _ = report
    markdown = (out / "report.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert "figures/loss.png" in images and len(set(images)) == 6  # findings cite some twice
    for image in images:
        assert (out / image).stat().st_size > 1000
        assert (out / image).with_suffix(".pdf").read_bytes().startswith(b"%PDF")
        assert (out / image).with_suffix(".svg").read_text().lstrip().startswith("<?xml")


def test_report_writes_csv_tables(report):
    tables = report[0] / "tables"
    assert len(pd.read_csv(tables / "runs.csv")) == 24
    end = pd.read_csv(tables / "end_of_training.csv")
    assert len(end) == 8 and "final_val_loss_ci" in end
    assert len(pd.read_csv(tables / "recovery_runs.csv")) == 24


def test_report_is_logged_to_the_parent_run(store, report):
    _, lines = report
    client = MlflowClient(store.tracking_uri)
    logged = {f.path for f in client.list_artifacts(store.main.parent_run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/figures", "report/tables"} <= logged
    assert any(store.main.parent_run_id in line for line in lines)
    assert lines[0].startswith("report: ") and lines[0].endswith("report.html")


def test_the_parent_run_tells_the_sweeps_story(store, report):
    """Description with the swept values, counts and where the report is; swept params and
    counts the experiment's table can compare sweeps by."""
    run = MlflowClient(store.tracking_uri).get_run(store.main.parent_run_id)
    note = run.data.tags["mlflow.note.content"]
    assert "- `optimizer.lr`: 0.01, 0.1" in note and "- `seed`: 0, 1, 2" in note
    assert "**Runs:** 24 runs, 22 finished, 1 diverged, 1 failed, 0 killed" in note
    assert "`report/report.html`" in note
    assert run.data.params["swept.optimizer.lr"] == "0.01, 0.1"
    assert run.data.metrics["sweep_diverged"] == 1 and run.data.metrics["sweep_runs"] == 24


def test_unknown_experiment_is_one_line_exit_2_and_nothing_written(store, tmp_path, capsys):
    out = tmp_path / "nothing"
    code = main(
        ["--experiment", "no-such-study", "--tracking-uri", store.tracking_uri, "--out", str(out)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: no experiment named")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_experiment_without_runs_exits_2(store, tmp_path, capsys):
    MlflowClient(store.tracking_uri).create_experiment(
        "report-empty", artifact_location=(tmp_path / "art").as_uri()
    )
    code = main(
        [
            "--experiment",
            "report-empty",
            "--tracking-uri",
            store.tracking_uri,
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "no runs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_report_is_left_alone(store, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code = main(
        [
            "--experiment",
            MAIN_EXPERIMENT,
            "--tracking-uri",
            store.tracking_uri,
            "--out",
            str(tmp_path),
            "--no-log",
        ]
    )
    assert code == 2 and "not a report folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--experiment" in capsys.readouterr().out


def test_stationary_study_says_so(store):
    study = load_study(PLANAR_EXPERIMENT, tracking_uri=store.tracking_uri)
    markdown = to_markdown("t", to_sections(study, to_analysis(study), {}))
    assert "the study is stationary" in markdown
    assert "None: every run finished without diverging." in markdown


def test_report_html_is_self_contained(report):
    """It renders in MLflow's sandboxed artifact iframe and as a mail attachment."""
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'src="figures/' not in page and 'href="figures/' not in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(set(sources)) == 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {png.read_bytes() for png in (out / "figures").glob("*.png")}


def test_report_tables_scroll_in_their_own_box(report):
    page = (report[0] / "report.html").read_text(encoding="utf-8")
    assert page.count("<table") == page.count('<div class="table-box"><table') > 5
    assert re.search(r"\.table-box\{[^}]*overflow-x:auto", page)


@pytest.mark.full  # make test-long and CI: 22 s, kept out of make test
def test_a_second_report_on_the_same_sweep_keeps_the_first(store, tmp_path, capsys):
    out = tmp_path / "older"
    argv = ["--experiment", MAIN_EXPERIMENT, "--sweep", store.older.parent_run_id]
    argv += ["--tracking-uri", store.tracking_uri, "--out", str(out), "--no-log"]
    folders, errs = [], []  # a folder keeps its inode when renamed; its text may not differ
    for _ in range(3):
        assert main(argv) == 0
        folders.append(out.stat().st_ino)
        errs.append(capsys.readouterr().err)
    previous = out.parent / "older.previous"
    assert "loaded 2 runs" in errs[0] and "figure 1/8 loss" in errs[0] and "figure 8/8" in errs[0]
    assert "previous report" not in errs[0]
    assert f"previous report kept as {previous}" in errs[1] and "older one" not in errs[1]
    assert "(the older one there removed)" in errs[2]
    assert previous.stat().st_ino == folders[1] and out.stat().st_ino == folders[2]
    assert (previous / "report.html").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["older", "older.previous"]


def test_the_configuration_says_what_was_swept_and_leaves_out_how_the_lab_ran():
    from analysis.sections import _config_section

    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "seed": [0, 1, 0, 1],
            "optimizer": ["adam", "adam", "rmsprop", "rmsprop"],
            "optimizer.name": ["adam", "adam", "rmsprop", "rmsprop"],
            "optimizer.lr": [0.001, 0.003, 0.001, 0.001],
            "optimizer.eps": [1e-8, 1e-8, 1e-7, 1e-7],
            "dataset.name": "digits",
            "dataset.shift_kind": "scale_inputs",  # no shift_step: nothing shifts
            "tracking.metric_every": 0,
            "trainer.progress": True,
        }
    )
    blocks = _config_section(runs).blocks
    swept, per_optimizer, fixed = blocks[1], blocks[3], blocks[5]
    assert swept["param"].tolist() == ["optimizer.lr", "optimizer"]
    assert per_optimizer["param"].tolist() == ["optimizer.eps"]
    assert fixed["param"].tolist() == ["dataset.name"]


def test_the_findings_comparison_flags_a_selected_lr_at_the_edge_of_its_grid(report):
    """The fixture's grids are 0.01 and 0.1: any lr selected is at an edge, and says so."""
    findings = (report[0] / "report.md").read_text(encoding="utf-8").split("## Study")[0]
    rows = [line for line in findings.splitlines() if line.startswith("| blobs")]
    assert rows and all("(grid edge)" in row for row in rows)
