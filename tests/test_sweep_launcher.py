"""``hydra/launcher=joblib``: the lab's launcher, its workers forked from the sweep's process.

Run in this process with Hydra's compose API (no ``python -m harness`` start-up): the config
node the command line registers, the workers a launch forks (children of this process that hold
what it imported, their BLAS limited to their share of the cores), and the pooled database
connections the parent closes before forking. What a stopped sweep leaves behind is checked with
real sweeps and real signals in ``tests/test_reliability.py``.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import types
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.types import HydraContext
from mlflow import MlflowClient

from harness.cli.main import _register_launchers
from harness.tracking.store import (
    PROJECT_ROOT,
    SQL_STORE_MODULES,
    prepare_store,
    release_connections,
)
from hydra_plugins.optlab_launcher import parallel

#: A module only this process has: a worker that has it was forked, not started afresh.
MARKER = "optlab_test_marker_made_before_the_launch"


def single_threaded(test):
    """Run ``test`` in a fresh pytest process when this one runs other threads: the launcher
    forks only from a single-threaded process, and a session's other tests may have left
    threads (a browser fixture's, say) in this one. The assertions are the same either way."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if threading.active_count() == 1 or os.environ.get("OPTLAB_SINGLE_THREADED"):
            return test(*args, **kwargs)
        tmp_path = kwargs["tmp_path"]  # every wrapped test asks for it
        inner = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"]
            + ["--basetemp", str(tmp_path / "fresh"), f"{__file__}::{test.__name__}"],
            env={**os.environ, "OPTLAB_SINGLE_THREADED": "1"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
        assert "1 passed" in inner.stdout, inner.stdout[-2000:]

    return wrapper


def launched_config(tmp_path: Path, overrides: list[str]):
    _register_launchers()
    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
        cfg = compose(
            "config",
            ["hydra/launcher=joblib", f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides],
            return_hydra_config=True,
        )
        loader = GlobalHydra.instance().config_loader()
    return cfg, loader


def test_the_joblib_preset_is_the_forking_launcher_with_hydras_keys(tmp_path):
    cfg, _ = launched_config(tmp_path, ["hydra.launcher.n_jobs=2"])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.optlab_launcher.parallel.JoblibLauncher"
    assert launcher.n_jobs == 2 and launcher.backend is None
    hydras = {"n_jobs", "backend", "prefer", "require", "verbose", "timeout", "pre_dispatch"}
    assert hydras <= set(launcher)  # a loky worker composes jobs with Hydra's own node


def report_where(cfg) -> dict:
    """The task: where it ran, what that process holds, its BLAS threads, its job's seed."""
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "marker": MARKER in sys.modules,
        "blas": blas,
        "seed": cfg.seed,
    }


@single_threaded
def test_a_launch_runs_each_job_in_a_worker_forked_from_the_sweep(tmp_path, monkeypatch):
    cfg, loader = launched_config(tmp_path, [])
    monkeypatch.setitem(sys.modules, MARKER, types.ModuleType(MARKER))
    options = {key: value for key, value in cfg.hydra.launcher.items() if key != "_target_"}
    launcher = parallel.JoblibLauncher(**options)
    launcher.setup(
        hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks()),
        task_function=report_where,
        config=cfg,
    )
    returns = launcher.launch([["seed=3"], ["seed=4"], ["seed=5"]], initial_job_idx=0)
    reports = [r.return_value for r in returns]
    assert [r["seed"] for r in reports] == [3, 4, 5]  # in the jobs' order
    assert {r["parent"] for r in reports} == {os.getpid()}
    assert os.getpid() not in {r["pid"] for r in reports}
    assert len({r["pid"] for r in reports}) <= os.cpu_count()
    assert all(r["marker"] for r in reports), "a worker did not start from this process"
    share = max(os.cpu_count() // min(os.cpu_count(), 3), 1)
    assert all(set(r["blas"]) <= {share} for r in reports), reports
    assert [p.name for p in sorted((tmp_path / "sweep").iterdir()) if p.is_dir()] == ["0", "1", "2"]


def test_release_connections_leaves_no_pooled_connection_to_cross_a_fork(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _, experiment_id = prepare_store(uri, "forked")
    client = MlflowClient(uri)
    client.search_runs([experiment_id])
    engines = [
        engine
        for name in SQL_STORE_MODULES
        if name in sys.modules
        for engine in sys.modules[name].SqlAlchemyStore._engine_map.values()
    ]
    assert any(engine.pool.checkedin() for engine in engines), "nothing pooled: nothing to test"
    release_connections()
    assert not any(engine.pool.checkedin() for engine in engines)
    assert client.search_runs([experiment_id]) == []  # the store opens a new one when asked


@single_threaded
def test_hydras_launcher_is_kept_for_loky_and_where_fork_is_unsafe(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        parallel.HydraJoblibLauncher, "launch", lambda self, *args: calls.append(args) or []
    )
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not parallel.fork_is_safe()
    parallel.JoblibLauncher(backend=None).launch([["seed=0"]], 0)
    monkeypatch.setattr(sys, "platform", "linux")
    parallel.JoblibLauncher(backend="loky").launch([["seed=1"]], 0)
    assert parallel.fork_is_safe()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not parallel.fork_is_safe()
        parallel.JoblibLauncher(backend=None).launch([["seed=2"]], 0)
    finally:
        stop.set()
        other.join()
    assert calls == [([["seed=0"]], 0), ([["seed=1"]], 0), ([["seed=2"]], 0)]
