"""``make ui``'s links land where they say, in a real browser on a first visit.

MLflow 3 opens its GenAI view unless the URL carries ``workflowType=machine_learning`` or the
browser remembers the "Model training" choice; a first visit remembers nothing. So: a small sweep
with its report in a temporary store (``browser.ui_store``), ``python -m harness.tracking.ui`` (what
``make ui`` runs) on a free loopback port, and the links it printed opened in headless Chromium,
in a fresh browser context.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from browser import REPORT_TITLE, STUDY, save_screenshot, ui_store
from mlflow import MlflowClient
from tracking_checks import free_port, serving, user_env

GENAI_NAVIGATION = ("Sessions", "Judges", "Evaluation runs")  # only the GenAI view's sidebar
ML_NAVIGATION = "Model registry"  # only the model-training view's sidebar
LOAD_TIMEOUT_MS = 60_000  # the first load of MLflow's UI, on a busy 2-core machine


def printed_links(log: Path, study: str) -> dict[str, str]:
    """The links ``make ui`` printed for ``study``: ``{"runs": …, "report": …}``."""
    links = {}
    for line in log.read_text().splitlines():
        name, _, link = line.strip().partition(": http")
        if name in (study, f"{study} report"):
            links["report" if name.endswith(" report") else "runs"] = "http" + link
    return links


def assert_model_training_view(shown_page) -> None:
    """The page around the content is the model-training view's, not the GenAI view's."""
    locate = shown_page.get_by_text
    shown = [entry for entry in GENAI_NAVIGATION if locate(entry, exact=True).count()]
    assert not shown, f"the GenAI view's sidebar is shown: {shown}"
    assert locate(ML_NAVIGATION, exact=True).count() == 1, "no model-training sidebar"


@pytest.mark.browser
@pytest.mark.slow
def test_the_printed_links_open_the_runs_table_and_the_report(page, tmp_path):
    from playwright.sync_api import expect

    store, sweep = ui_store(tmp_path)
    parent = MlflowClient(f"sqlite:///{store / 'mlflow.db'}").get_run(sweep.parent_run_id)
    port = free_port()
    log = tmp_path / "ui.log"
    command = [sys.executable, "-m", "harness.tracking.ui", "--port", str(port)]
    env = {**user_env(tmp_path), "OPTLAB_STORE_DIR": str(store)}
    with serving(command, f"http://127.0.0.1:{port}", log, 180, cwd=tmp_path, env=env):
        links = printed_links(log, STUDY)
        assert all("workflowType=machine_learning" in link for link in links.values()), links
        page.goto(links["runs"])
        try:
            sweep_run = page.get_by_text(parent.info.run_name, exact=True)
            expect(sweep_run).to_be_visible(timeout=LOAD_TIMEOUT_MS)  # the runs table is there
            expect(page.get_by_text("3 matching runs")).to_be_visible()  # the parent, 2 jobs
            titles = page.get_by_role("heading").all_inner_texts()
            assert "Runs" in titles, f"not the model-training view: headings {titles}"
            assert_model_training_view(page)
        finally:
            save_screenshot(page, tmp_path, "ui-study-link")
        page.goto(links["report"])
        try:
            report = page.frame_locator("iframe").get_by_text(REPORT_TITLE)
            expect(report).to_be_visible(timeout=LOAD_TIMEOUT_MS)
            assert_model_training_view(page)
        finally:
            save_screenshot(page, tmp_path, "ui-report-link")
