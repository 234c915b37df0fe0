"""P5 — ``make demo`` from a fresh clone: install time and the demo's own time, separately.

``git clone <project> <tmp>/clone``, then ``make venv`` (the venv and ``pip install -e
'.[dev]'``, which ``make demo`` would do first anyway) and ``make demo``, each timed once. The
clone holds what is committed (HEAD), not the work tree's uncommitted changes.
"""

from __future__ import annotations

import re
import subprocess
import time
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
    seconds, failure, timed_lines = {}, "", []
    for name, command in steps.items():
        cwd = folder if name == "clone" else clone
        folder.mkdir(parents=True, exist_ok=True)
        code, log = 0, ""

        def call(command=command, cwd=cwd):
            nonlocal code, log
            code, stamped = _run_stamped(command, cwd, _env(env))
            log = "".join(line for _, line in stamped)
            timed_lines.extend(stamped)

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
        notes=_notes(seconds, failure, commit, dirty) + eta_notes(timed_lines),
    )


def _run_stamped(command, cwd, env) -> tuple[int, list[tuple[float, str]]]:
    """Run ``command``, keeping each output line with the time it arrived."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stamped = [(time.monotonic(), line) for line in process.stdout]
    return process.wait(timeout=7200), stamped


PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] .*\| ETA (?:(\d+)m)?(\d+)s")


def eta_notes(stamped: list[tuple[float, str]], within: float = 0.2) -> list[str]:
    """How soon each sweep's ETA came within ``within`` of its real end, as a share of its jobs.

    An ETA line says, when it is printed, how long is left; the sweep's real end is its last
    line. A line is on time when its predicted end is within ``within`` × the sweep's length of
    the real one; the ETA has converged at the first line from which every later one is on time.

    >>> lines = [(10.0, "[1/4] a | ETA 90s"), (20.0, "[2/4] b | ETA 20s"),
    ...          (30.0, "[3/4] c | ETA 10s"), (40.0, "[4/4] d | ETA 0s")]
    >>> eta_notes(lines)
    ['4-job sweep, 40 s: ETA within 20% of the end from job 2 on (50%); first ETA 90 s, 30 s left']
    """
    sweeps, current = [], []
    for at, line in stamped:
        match = PROGRESS.match(line.strip())
        if not match:
            continue
        done, total = int(match[1]), int(match[2])
        if done == 1 and current:
            sweeps.append(current)
            current = []
        eta = 60 * int(match[3] or 0) + int(match[4])
        current.append((at, done, total, eta))
    if current:
        sweeps.append(current)
    notes = []
    for sweep in sweeps:
        end, total = sweep[-1][0], sweep[-1][2]
        start = sweep[0][0] - (sweep[1][0] - sweep[0][0] if len(sweep) > 1 else 0.0)
        length = max(end - start, 1e-9)
        on_time = [abs(at + eta - end) <= within * length for at, _, _, eta in sweep]
        late = [i for i, ok in enumerate(on_time) if not ok]
        first_ok = late[-1] + 1 if late else 0
        converged = sweep[first_ok][1] if first_ok < len(sweep) else total
        first_at, _, _, first_eta = sweep[0]
        notes.append(
            f"{total}-job sweep, {length:.0f} s: ETA within {within:.0%} of the end from job "
            f"{converged} on ({converged / total:.0%}); first ETA {first_eta} s, "
            f"{end - first_at:.0f} s left"
        )
    return notes


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
