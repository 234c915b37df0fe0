"""P3 — one 24-job sweep with Hydra's basic launcher against ``hydra/launcher=joblib``.

Two settings, interleaved: a **warm store** (created once before timing; every sweep runs with
``tracking.force=true`` so no job is skipped) — the goal's measure, what re-running sweeps
costs — and a **fresh store** per sweep (its own ``OPTLAB_STORE_DIR``), where both launchers
also pay the store's creation and migration, serially. Wall time; the CPU time of the sweep
and its workers, the jobs' own times and the **serial start** (from the command's start to the
sweep's ``started`` time in its ``.optlab/sweep.json``, written as the launcher takes over:
interpreter, imports, composing, checking every job, the store and the parent run) are kept to
explain it, with the bound they set: however
well the launched part splits over the cores, the joblib side takes at least its serial start
plus the basic side's launched part divided by the cores (Amdahl).
"""

from __future__ import annotations

import os
import re
import time
from itertools import count
from pathlib import Path

from benchmarks.jobs import harness_command, run_counting_cpu, shown
from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave, median
from harness.tracking.sweep import load_sweep_info

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
    seen: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
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
            "hydra/launcher=joblib forks its workers from the sweep's process "
            "(hydra_plugins/optlab_launcher/parallel.py): no worker imports Hydra, the lab or "
            "MLflow again, as Hydra's loky workers did. What stays serial is the serial start "
            "below, the same for both launchers (interpreter and imports, composing, checking "
            "every job, MLflow's import, the store and the parent run); the basic side's CPU "
            "exceeds its wall time because numpy's BLAS runs 2 threads in its one process, "
            "where each forked worker runs 1.",
            *[_describe(name, times[name], seen[name]) for name in sides],
            *[_bound(store, times, seen) for store in STORES],
        ],
    )


def _warm_store(folder: Path) -> Path:
    """A store created and migrated once, with the sweeps' experiment, before any timing."""
    from harness.tracking.store import prepare_store

    prepare_store(f"sqlite:///{folder / 'mlflow.db'}", "adhoc")
    return folder


def _describe(name: str, wall: list[float], seen: list[tuple[float, float, float]]) -> str:
    cpu, jobs, serial = (median([s[i] for s in seen]) for i in range(3))
    return (
        f"{name}: median wall {median(wall):.1f} s, serial start {serial:.1f} s, "
        f"CPU (sweep + workers, user + system) {cpu:.1f} s, "
        f"sum of the {JOBS} jobs' own times {jobs:.1f} s."
    )


def _bound(store: str, times: dict[str, list[float]], seen: dict[str, list]) -> str:
    """Amdahl's bound on basic ÷ joblib from this run's medians."""
    basic, joblib = f"basic, {store}", f"joblib, {store}"
    basic_wall, basic_serial = median(times[basic]), median([s[2] for s in seen[basic]])
    joblib_serial = median([s[2] for s in seen[joblib]])
    cores = os.cpu_count() or 1
    best = joblib_serial + (basic_wall - basic_serial) / cores
    return (
        f"{store}: the basic side launches jobs for {basic_wall - basic_serial:.1f} s after a "
        f"{basic_serial:.1f} s serial start; split perfectly over {cores} cores after the joblib "
        f"side's {joblib_serial:.1f} s serial start, it would take {best:.1f} s: basic ÷ joblib "
        f"≤ {basic_wall / best:.2f}× (medians: {basic_wall / median(times[joblib]):.2f}×)."
    )


def _sweep_side(command: list[str], folder: Path, store: Path | None, fresh, seen: list):
    def side():
        n = next(fresh)
        env = {
            "OPTLAB_STORE_DIR": str(store or folder / f"store-{n}"),
            "OPTLAB_CHECKPOINT_DIR": str(folder / f"checkpoints-{n}"),
        }
        sweep_dir = folder / "multirun" / str(n)
        started = time.time()
        stderr, cpu = run_counting_cpu([*command, f"hydra.sweep.dir={sweep_dir}"], folder, env)
        job_seconds = [float(s) for s in JOB_LINE.findall(stderr)]
        if len(job_seconds) != JOBS:
            raise RuntimeError(f"P3: expected {JOBS} finished jobs:\n{stderr[-2000:]}")
        launched = load_sweep_info(sweep_dir)["started"]
        seen.append((cpu, sum(job_seconds), launched - started))

    return side
