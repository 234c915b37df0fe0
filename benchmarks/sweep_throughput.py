"""P3 — one 24-job sweep with Hydra's basic launcher against ``hydra/launcher=joblib``.

Two settings, interleaved: a **warm store** (created once before timing; every sweep runs with
``tracking.force=true`` so no job is skipped) — the goal's measure, what re-running sweeps
costs — and a **fresh store** per sweep (its own ``OPTLAB_STORE_DIR``), where both launchers
also pay the store's creation and migration, serially. Wall time; the CPU time of the sweep
and its workers and the jobs' own times are kept to explain it.
"""

from __future__ import annotations

import os
import re
from itertools import count
from pathlib import Path

from benchmarks.jobs import harness_command, run_counting_cpu, shown
from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave, median

GOAL = 1.8
JOBS = 24
SWEEP = (
    "-m",
    "optimizer=adagrad,rmsprop_a0.9,rmsprop_a0.99,adam",
    "lr_scale=0.3,1,3",
    "seed=0,1",
    "trainer.steps=1000",
)
LAUNCHERS = {"basic": (), "joblib": ("hydra/launcher=joblib",)}
STORES = ("warm store", "fresh store")
JOB_LINE = re.compile(r"\] FINISHED \S+ \(([\d.]+)s\)")


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    folder = workdir / "P3"
    folder.mkdir(parents=True, exist_ok=True)
    warm = _warm_store(folder / "store-warm")
    fresh = count()
    commands, sides = {}, {}
    for store in STORES:
        for launcher, extra in LAUNCHERS.items():
            force = ("tracking.force=true",) if store == "warm store" else ()
            name = f"{launcher}, {store}"
            commands[name] = harness_command(*SWEEP, *force, *extra)
            sides[name] = (commands[name], warm if store == "warm store" else None)
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    runners = {n: _sweep_side(c, folder, store, fresh, seen[n]) for n, (c, store) in sides.items()}
    times = interleave(runners, repeats)
    comparisons = [
        Comparison(
            f"basic ÷ joblib, wall time of the {JOBS}-job sweep, {store}",
            Ratio.of(times[f"basic, {store}"], times[f"joblib, {store}"]),
            GOAL if store == "warm store" else None,
        )
        for store in STORES
    ]
    return Section(
        key="P3",
        title="sweep throughput: basic launcher vs joblib on 2 cores",
        commands=[shown(c) for c in commands.values()],
        comparisons=comparisons,
        notes=[
            f"{os.cpu_count()} cores; joblib's default n_jobs=-1 (one worker per core); "
            "SQLite store; every job is checked FINISHED. The goal is judged on the warm store.",
            *[_describe(name, times[name], seen[name]) for name in sides],
        ],
    )


def _warm_store(folder: Path) -> Path:
    """A store created and migrated once, with the sweeps' experiment, before any timing."""
    from harness.tracking.store import prepare_store

    prepare_store(f"sqlite:///{folder / 'mlflow.db'}", "adhoc")
    return folder


def _describe(name: str, wall: list[float], seen: list[tuple[float, float]]) -> str:
    cpu = median([c for c, _ in seen])
    jobs = median([j for _, j in seen])
    return (
        f"{name}: median wall {median(wall):.1f} s, CPU (sweep + workers, user + system) "
        f"{cpu:.1f} s, sum of the {JOBS} jobs' own times {jobs:.1f} s."
    )


def _sweep_side(command: list[str], folder: Path, store: Path | None, fresh, seen: list):
    def side():
        n = next(fresh)
        env = {
            "OPTLAB_STORE_DIR": str(store or folder / f"store-{n}"),
            "OPTLAB_CHECKPOINT_DIR": str(folder / f"checkpoints-{n}"),
        }
        sweep_dir = f"hydra.sweep.dir={folder / 'multirun' / str(n)}"
        stderr, cpu = run_counting_cpu([*command, sweep_dir], folder, env)
        job_seconds = [float(s) for s in JOB_LINE.findall(stderr)]
        if len(job_seconds) != JOBS:
            raise RuntimeError(f"P3: expected {JOBS} finished jobs:\n{stderr[-2000:]}")
        seen.append((cpu, sum(job_seconds)))

    return side
