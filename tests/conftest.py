"""Shared fixtures: run ``python -m harness`` as a user would, inside a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# The browser fixtures, defined once for the session: imported into each test module instead,
# each module got its own session-wide Chromium, and a second Playwright started while the
# first lived fails ("Sync API inside the asyncio loop") when xdist puts both on one worker.
from browser import chromium, page  # noqa: F401, E402
from tracking_checks import PROJECT, TOOL_ENTRIES

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

project_entries = pytest.StashKey[set]()
stray_entries = pytest.StashKey[list]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[project_entries] = {path.name for path in PROJECT.iterdir()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left a new entry in the project's top level: tests work in
    temporary folders, and an entry that appears there (a ``store/`` from a forgotten
    ``OPTLAB_STORE_DIR``, say) also breaks the override fuzz test running beside it."""
    if hasattr(session.config, "workerinput"):  # xdist: the controller checks once
        return
    before = session.config.stash.get(project_entries, None)
    if before is None:
        return
    new = sorted({path.name for path in PROJECT.iterdir()} - before - TOOL_ENTRIES)
    session.config.stash[stray_entries] = new
    if new:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    new = config.stash.get(stray_entries, [])
    if new:
        terminalreporter.write_line(f"FAILED: the tests left new entries in the project: {new}")


EMBEDDED_STORE = "embedded-store"  # OPTLAB_STORE_DIR of a subprocess, under its folder


@pytest.fixture(scope="session")
def harness_env() -> Callable[[Path], dict[str, str]]:
    """``env(folder)``: the environment for a harness subprocess working in ``folder``.

    Telemetry is off and the embedded store is moved to ``folder/embedded-store``, so nothing
    lands in the project's ``store/`` even when a test forgets ``tracking.uri``.
    """

    def env(folder: Path) -> dict[str, str]:
        return {
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "OPTLAB_STORE_DIR": str(folder / EMBEDDED_STORE),
            "OPTLAB_CHECKPOINT_DIR": str(folder / "checkpoints"),
        }

    return env


@pytest.fixture(scope="session")
def run_harness(harness_env) -> Callable[..., subprocess.CompletedProcess]:
    """``run(folder, *args)``: ``python -m harness *args`` in ``folder``, output captured."""

    def run(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "harness", *args],
            cwd=folder,
            env=harness_env(folder),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
