"""P5 — ``make demo`` from a fresh clone: install time and the demo's own time, separately.

``git clone <project> <tmp>/clone``, then ``make venv`` (the venv and ``pip install -e
'.[dev]'``, which ``make demo`` would do first anyway) and ``make demo``, each timed once. The
clone holds what is committed (HEAD), not the work tree's uncommitted changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.results import Section
from benchmarks.timing import time_call
from harness.tracking.store import PROJECT_ROOT


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    folder = workdir / "P5"
    clone = folder / "clone"
    env = {
        "OPTLAB_STORE_DIR": str(folder / "store"),
        "OPTLAB_CHECKPOINT_DIR": str(folder / "checkpoints"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    commit = _git("rev-parse", "HEAD").strip()
    dirty = bool(_git("status", "--porcelain").strip())
    steps = {
        "clone": ["git", "clone", "-q", str(PROJECT_ROOT), str(clone)],
        "install (make venv)": ["make", "venv"],
        "demo (make demo, venv ready)": ["make", "demo"],
    }
    seconds, failure = {}, ""
    for name, command in steps.items():
        cwd = folder if name == "clone" else clone
        folder.mkdir(parents=True, exist_ok=True)
        code, log = 0, ""

        def call(command=command, cwd=cwd):
            nonlocal code, log
            done = subprocess.run(
                command, cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=7200
            )
            code, log = done.returncode, done.stdout + done.stderr

        seconds[name] = time_call(call)
        if code != 0:
            failure = f"`{' '.join(command)}` exited with {code}: " + _tail(log)
            break
    return Section(
        key="P5",
        title="make demo from a fresh clone",
        commands=[
            "git clone . <folder> && cd <folder>   # this checkout, committed state",
            "make venv   # timed as the install",
            "make demo   # timed as the demo",
        ],
        notes=_notes(seconds, failure, commit, dirty),
    )


def _notes(seconds: dict, failure: str, commit: str, dirty: bool) -> list[str]:
    notes = [f"{name}: {value:.0f} s ({value / 60:.1f} min)" for name, value in seconds.items()]
    if not failure:
        total = sum(seconds.values())
        notes.append(f"from clone to report: {total:.0f} s ({total / 60:.1f} min)")
    else:
        notes.append(f"FAILED: {failure}")
    state = "; the work tree had uncommitted changes, which the clone lacks" if dirty else ""
    notes.append(f"Cloned commit {commit[:12]}{state}. Measured once.")
    return notes


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, **extra}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def _tail(log: str, lines: int = 8) -> str:
    return " / ".join(line.strip() for line in log.strip().splitlines()[-lines:])
