"""A sweep's report and its parent run, in a real browser (headless Chromium, ``browser.py``).

A small real sweep (Adagrad and RMSprop α=0.9, 0.99 on spirals, two seeds, run in-process as
``harness.tracking.job.run_job`` runs a sweep's jobs) in a temporary store, and its report written
and logged to the parent run by ``analysis.report``. Then:

- ``report.html`` opened from disk at 1280 px: every figure decodes, the page never scrolls
  sideways (wide tables scroll in their own ``.table-box``), "Findings" comes before any table;
- the MLflow UI, started as ``make ui`` starts it: the report logged to the parent run shows in
  the artifact view's sandboxed iframe with every figure decoded; the parent's page renders its
  description (the findings and the "Runs:" counts); grouped by ``optlab.group_label``, the
  runs table names each group of seeds in words, not a hash.

Screenshots go to each test's ``tmp_path`` (``OPTLAB_SCREENSHOTS`` copies them elsewhere).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import save_screenshot
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from tracking_checks import free_port, serving, user_env

from analysis.load import load_study
from analysis.report import write_report
from harness.cli import schemas  # noqa: F401  (registers the typed schemas before any compose)
from harness.cli.app import to_config
from harness.tracking.job import SweepInfo, run_job
from harness.tracking.store import EXPERIMENT_KIND, PROJECT_ROOT, artifact_location
from harness.tracking.ui import report_url

STUDY = "stall"  # analysis.parent asks this study's question, analysis.findings its claims
ARMS = ("adagrad", "rmsprop_a0.9", "rmsprop_a0.99")
SEEDS = (0, 1)
SMALL = ("dataset=spirals", "trainer.steps=40", "trainer.eval_every=10", "trainer.progress=false")
REPORT_WIDTH = {"width": 1280, "height": 900}
LOAD_TIMEOUT_MS = 60_000  # the first load of MLflow's UI, on a busy 2-core machine
GROUP_LABEL_TAG = "optlab.group_label"  # harness.tracking.sink.group_label: a group of seeds
READABLE_GROUP = re.compile(r"(Adagrad|RMSprop α=0\.99?) · lr [0-9.e-]+ · spirals/mlp")
HASH = re.compile(r"\b[0-9a-f]{8,}\b")

#: Every <img> of the document, once decoded (``decode()`` rejects for a broken image).
DECODED_WIDTHS = """() => Promise.all([...document.images].map(
    img => img.decode().then(() => img.naturalWidth, () => 0)))"""
#: Widths of the page and of anything that sticks out of it, and every table's scroll box.
LAYOUT = """() => {
    const root = document.documentElement;
    const tables = [...document.querySelectorAll('table')];
    return {
        scrollWidth: root.scrollWidth,
        clientWidth: root.clientWidth,
        tablesOutsideABox: tables.filter(t => !t.closest('.table-box')).length,
        boxesThatDoNotScroll: [...document.querySelectorAll('.table-box')].filter(
            box => !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)).length,
    };
}"""
#: Whether the "Findings" heading comes before the first table (in the document and on screen).
FINDINGS_FIRST = """() => {
    const heading = [...document.querySelectorAll('h2')].find(
        h => h.textContent.trim() === 'Findings');
    const table = document.querySelector('table');
    if (!heading || !table) return {heading: !!heading, table: !!table, first: false};
    const before = !!(heading.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
    const above = heading.getBoundingClientRect().top < table.getBoundingClientRect().top;
    return {heading: true, table: true, first: before && above};
}"""


@dataclass
class Reported:
    """The store with the sweep, the report folder and the ids to open."""

    folder: Path
    store: Path
    experiment_id: str
    parent_run_id: str
    report: Path
    group_labels: list[str]


def run_sweep(uri: str) -> tuple[str, str, list[str]]:
    """The sweep's jobs, each a child of one parent run as ``harness.cli.sweep`` makes it;
    returns the experiment id, the parent's id and the jobs' run ids."""
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(STUDY, artifact_location(uri))  # not ./mlruns
    for key, value in EXPERIMENT_KIND.items():
        client.set_experiment_tag(experiment_id, key, value)
    sweep_id = "browser-sweep"
    tags = {"optlab.role": "sweep", "optlab.sweep_id": sweep_id, "optlab.study": STUDY}
    parent = client.create_run(experiment_id, run_name=f"sweep-{STUDY}", tags=tags).info.run_id
    jobs = []
    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
        for arm in ARMS:
            for seed in SEEDS:
                overrides = [*SMALL, f"optimizer={arm}", f"seed={seed}", f"study={STUDY}"]
                overrides += [f"tracking.uri={uri}", f"tracking.parent_run_id={parent}"]
                cfg = to_config(compose(config_name="config", overrides=overrides))
                outcome = run_job(cfg, sweep=SweepInfo(parent, sweep_id))
                assert outcome.status == "FINISHED", outcome
                jobs.append(outcome.run_id)
    client.set_terminated(parent)
    return experiment_id, parent, jobs


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Reported:
    folder = tmp_path_factory.mktemp("report-browser")
    store = folder / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTLAB_CHECKPOINT_DIR", str(folder / "checkpoints"))
        patch.setenv("OPTLAB_STORE_DIR", str(store))  # artifacts beside the store, as make ui
        experiment_id, parent, jobs = run_sweep(uri)
    study = load_study(STUDY, parent, uri)
    report = write_report(study, folder / "report").parent  # and logged to the parent run
    client = MlflowClient(uri)
    labels = sorted({client.get_run(job).data.tags[GROUP_LABEL_TAG] for job in jobs})
    return Reported(folder, store, experiment_id, parent, report, labels)


def decoded_widths(frame) -> list[int]:
    """``naturalWidth`` of every image of ``frame`` (a page or a frame), 0 for a broken one."""
    return frame.evaluate(DECODED_WIDTHS)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.full  # make test-long and CI (test_ui_browser stays in make test)
def test_the_report_decodes_fits_1280_px_and_opens_with_its_findings(
    chromium,
    reported,
    tmp_path,
):
    figures = len(re.findall(r"<img ", (reported.report / "report.html").read_text()))
    context = chromium.new_context(viewport=REPORT_WIDTH)
    try:
        shown = context.new_page()
        shown.goto((reported.report / "report.html").as_uri())
        try:
            widths = decoded_widths(shown)
            assert len(widths) == figures >= 4, widths
            assert all(width > 0 for width in widths), f"broken images: {widths}"
            layout = shown.evaluate(LAYOUT)
            assert layout["scrollWidth"] <= layout["clientWidth"], layout
            assert layout["tablesOutsideABox"] == layout["boxesThatDoNotScroll"] == 0, layout
            order = shown.evaluate(FINDINGS_FIRST)
            assert order == {"heading": True, "table": True, "first": True}, order
        finally:
            save_screenshot(shown, tmp_path, "report-1280")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.full  # make test-long and CI (test_ui_browser stays in make test)
def test_the_mlflow_ui_shows_the_report_the_sweep_story_and_a_group_label(
    page,
    reported,
    tmp_path,
):
    from playwright.sync_api import expect

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # what make ui runs
    command = [sys.executable, "-m", "harness.tracking.ui", "--port", str(port)]
    env = {**user_env(tmp_path), "OPTLAB_STORE_DIR": str(reported.store)}
    with serving(command, base, tmp_path / "ui.log", 180, cwd=tmp_path, env=env):
        page.goto(report_url(base, reported.experiment_id, reported.parent_run_id))
        frame = page.frame_locator("iframe[sandbox]")  # MLflow shows HTML artifacts sandboxed
        try:
            heading = frame.get_by_role("heading", name="Findings", exact=True)
            expect(heading).to_be_visible(timeout=LOAD_TIMEOUT_MS)
            widths = frame.locator("img").evaluate_all(
                "imgs => Promise.all(imgs.map("
                "img => img.decode().then(() => img.naturalWidth, () => 0)))"
            )
            assert widths and all(width > 0 for width in widths), f"broken images: {widths}"
        finally:
            save_screenshot(page, tmp_path, "mlflow-report-artifact")

        runs = f"{base}/#/experiments/{reported.experiment_id}/runs"
        page.goto(f"{runs}/{reported.parent_run_id}?workflowType=machine_learning")
        try:
            counts = page.get_by_text(re.compile(r"^Runs: 6 runs, 6 finished, 0 diverged"))
            expect(counts).to_be_visible(timeout=LOAD_TIMEOUT_MS)  # rendered: no "**Runs:**"
            expect(page.locator("strong", has_text="Findings")).to_be_visible()
            expect(
                page.get_by_role("heading", name=re.compile(f"^{STUDY}: Does Adagrad"))
            ).to_be_visible()
            expand = page.get_by_role("button", name="Expand description")
            if expand.count():  # MLflow folds a long description; unfold it for the screenshot
                expand.click()
            counts.scroll_into_view_if_needed()
        finally:
            save_screenshot(page, tmp_path, "mlflow-sweep-description")

        page.goto(f"{runs}?workflowType=machine_learning")
        try:
            group_by = page.get_by_role("button", name="Group by")
            expect(group_by).to_be_visible(timeout=LOAD_TIMEOUT_MS)
            group_by.click()
            page.get_by_role("menu").get_by_text(GROUP_LABEL_TAG, exact=True).click()
            page.keyboard.press("Escape")
            groups = page.get_by_text(re.compile("^Group: "))
            expect(groups).to_have_count(len(ARMS), timeout=LOAD_TIMEOUT_MS)
            shown = sorted(text.removeprefix("Group: ") for text in groups.all_inner_texts())
            assert shown == sorted(reported.group_labels), shown
            assert not any(HASH.search(text) for text in shown), shown
            assert all(READABLE_GROUP.fullmatch(text) for text in shown), shown
        finally:
            save_screenshot(page, tmp_path, "mlflow-runs-by-group-label")
