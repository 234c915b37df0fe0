"""Headless Chromium for the browser tests (marked ``browser``), driven by Playwright.

Playwright drives the system's Chromium (``sudo bash .ci/setup-chromium`` installs it; Playwright's
own browser download is never used). When Chromium or Playwright is missing, a browser test is
skipped with one line under ``make test`` and fails under ``CI=true``, where both must be there.

The fixtures are registered once, in ``tests/conftest.py`` (a module importing them would get a
session-wide Chromium of its own, and a second Playwright fails while the first lives). Use::

    from browser import save_screenshot

    @pytest.mark.browser
    def test_something(page, tmp_path):
        page.goto(url)
        save_screenshot(page, tmp_path, "something")

Each test gets a fresh browser context: nothing remembered in localStorage, as on a first
visit. Screenshots are written to the test's ``tmp_path`` (pytest keeps its last three sessions'
folders) and its path is printed; ``OPTLAB_SCREENSHOTS=<folder>`` also copies them there, for a
person to look at. Tests write nothing into the project (``tests/conftest.py`` checks).
``ui_store`` writes a small store for ``make ui`` to show (``test_server`` uses it too).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from analysis_fixtures import JobSpec, LoggedSweep, log_sweep
from mlflow import MlflowClient

from harness.tracking.store import EXPERIMENT_KIND

VIEWPORT = {"width": 1400, "height": 900}
STUDY, PLAIN = "ui-study", "ui-plain"
REPORT_TITLE = "The ui-study report"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def unavailable(reason: str) -> None:
    """Skip the test in one line, or fail it in CI, where the browser must be there."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the session (a ``playwright.sync_api.Browser``)."""
    executable = shutil.which("chromium")
    if executable is None:
        unavailable("no chromium on PATH (install it: sudo bash .ci/setup-chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator[object]:
    """A page in a fresh browser context: no cookies and no localStorage from another test
    (a first visit, as a new user makes it)."""
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    """Save the page as ``<name>.png`` in ``tmp_path`` (and in ``$OPTLAB_SCREENSHOTS`` if set)
    and print where it is; returns the file."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=shot, full_page=True)
    if os.environ.get("OPTLAB_SCREENSHOTS"):
        folder = Path(os.environ["OPTLAB_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shot = Path(shutil.copy(shot, folder / shot.name))
    print(f"screenshot: {shot}")
    return shot


# --- a store for the UI to show ---------------------------------------------------------------
def ui_store(folder: Path) -> tuple[Path, LoggedSweep]:
    """A store in ``folder/store`` (for ``OPTLAB_STORE_DIR``): a two-job sweep of the study
    ``ui-study`` whose parent has its report logged, one run without a sweep in ``ui-plain``,
    and the empty Default experiment; experiments tagged as the harness tags them."""
    store = folder / "store"
    store.mkdir(parents=True)
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    specs = [JobSpec(optimizer, 0.1, 0, steps=20, eval_every=10) for optimizer in ("sgd", "adam")]
    sweep = log_sweep(client, STUDY, specs, "ui-sweep", artifact_root=store / "artifacts")
    log_sweep(client, PLAIN, specs[:1], "", artifact_root=store / "artifacts")
    for name in (STUDY, PLAIN):
        experiment_id = client.get_experiment_by_name(name).experiment_id
        for key, value in EXPERIMENT_KIND.items():
            client.set_experiment_tag(experiment_id, key, value)
    report = folder / "report"
    report.mkdir()
    (report / "report.html").write_text(f"<html><body><h1>{REPORT_TITLE}</h1></body></html>")
    client.log_artifacts(sweep.parent_run_id, str(report), "report")
    return store, sweep
