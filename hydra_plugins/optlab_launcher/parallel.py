"""``hydra/launcher=joblib``: a sweep's jobs in parallel, in workers forked from the sweep.

Hydra's joblib launcher runs jobs in joblib's loky workers: fresh interpreters that each import
Hydra, the lab and MLflow again before their first job, seconds of CPU per worker on top of the
same imports in the sweep's process: on a machine with few cores, most of what a sweep pays
outside its jobs (``python -m benchmarks --only P3``). This launcher forks its workers from the
sweep's process when the jobs start (a ``ProcessPoolExecutor`` with the ``fork`` start method):
they begin with its imports, its composed config and its plugins; each takes one job at a time
and composes and runs it as Hydra's launchers do (``hydra.core.utils.run_job``), with numpy's
BLAS limited to its share of the cores, as loky limits its own workers. ``n_jobs`` is the only
key it reads (``-1``: one worker per core).

When the sweep is stopped, nothing is left running: Ctrl-C ends each worker's run KILLED
(``harness.tracking.job``), and the worker then exits; a worker that was not sent the signal is
sent SIGTERM, which ends its run the same way; if the sweep's process dies, the kernel sends its
workers SIGTERM (Linux). A worker that dies (``kill -9``, out of memory) stops the sweep with one
line, and the same command run again skips what finished.

``hydra.launcher.backend=loky`` (and any platform without a safe ``fork``: macOS, Windows, or a
sweep process that runs a second thread when the jobs start) runs Hydra's launcher as it ships,
which ignores ``backend`` and always uses loky.

The config is Hydra's own ``hydra/launcher/joblib`` node with its ``_target_`` changed
(:class:`JoblibConf`), put in Hydra's ConfigStore by ``register``, which ``harness.cli.main``
calls once Hydra has found its plugins: not a ``conf/hydra/launcher/joblib.yaml``, which Hydra
would validate against the plugin's node of the same name, with a deprecation warning.
Hydra imports this module while it looks for plugins: nothing heavy at the top.
"""

# No ``from __future__ import annotations``: Hydra runs this module before it is in sys.modules,
# where a dataclass cannot resolve string annotations.
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import (
    JoblibLauncher as HydraJoblibLauncher,
)
from omegaconf import open_dict

log = logging.getLogger(__name__)

#: Backends that mean forked workers; ``loky`` means Hydra's launcher.
FORKED = (None, "multiprocessing")
#: Seconds workers have, once the sweep is interrupted, to end their runs before SIGTERM.
GRACE_SECONDS = 10.0

#: What the forked workers run: set before the fork, so each worker holds it, nothing pickled.
_LAUNCHING: dict[str, Any] = {}


@dataclass
class JoblibConf(JobLibLauncherConf):
    """Hydra's joblib launcher config, for :class:`JoblibLauncher`."""

    _target_: str = "hydra_plugins.optlab_launcher.parallel.JoblibLauncher"


def register() -> None:
    """Make ``hydra/launcher=joblib`` :class:`JoblibConf`. Call it after Hydra has found its
    plugins (``Plugins.instance()``): finding them runs each plugin's module again, the joblib
    plugin's registration of its own ``joblib`` too."""
    ConfigStore.instance().store(
        group="hydra/launcher", name="joblib", node=JoblibConf, provider="optlab"
    )


def fork_is_safe() -> bool:
    """Linux and the BSDs (macOS's system libraries are not safe to use in a forked child), in
    a process with one thread: a lock another thread holds at the fork stays locked for good
    in the child."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and sys.platform != "darwin"
        and threading.active_count() == 1
    )


class JoblibLauncher(HydraJoblibLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        if self.joblib.get("backend") not in FORKED or not fork_is_safe():
            return super().launch(job_overrides, initial_job_idx)
        from joblib import effective_n_jobs

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        workers = max(min(effective_n_jobs(self.joblib.get("n_jobs", -1)), len(job_overrides)), 1)
        log.info(f"Launching {len(job_overrides)} jobs on {workers} forked workers")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        numbered = list(enumerate(map(list, job_overrides), start=initial_job_idx))
        for number, overrides in numbered:
            log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
        threads = max((os.cpu_count() or 1) // workers, 1)
        _LAUNCHING.update(launcher=self)
        try:
            return _run_in_workers(numbered, workers, threads)
        finally:
            _LAUNCHING.clear()


def _run_in_workers(numbered: list[tuple[int, list[str]]], workers: int, threads: int) -> list:
    """Each job's ``JobReturn``, in order, from ``workers`` forked processes."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from harness.cli.sweep import SweepAbort
    from harness.tracking.job import sigterm_raises
    from harness.tracking.store import release_connections

    release_connections()  # a database connection must not cross the fork
    pool = ProcessPoolExecutor(
        workers, multiprocessing.get_context("fork"), _start_worker, (threads,)
    )
    try:
        with sigterm_raises():  # SIGTERM stops the sweep as Ctrl-C does
            futures = [pool.submit(_run_forked, n, overrides) for n, overrides in numbered]
            return [future.result() for future in futures]
    except BrokenProcessPool as broken:
        raise SweepAbort(
            "a worker process ended before its job did (a signal, or out of memory?); "
            "run the same command again: what finished is skipped",
            1,
        ) from broken
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool) -> None:
    """Start no other job, and send the workers SIGTERM: a job that is training ends its run
    KILLED (``harness.tracking.job``), one that is ending its run finishes that first, an idle
    worker exits. One still there after ``GRACE_SECONDS`` is killed."""
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in multiprocessing.active_children():
        worker.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for worker in multiprocessing.active_children():
        worker.join(max(deadline - time.monotonic(), 0))
        if worker.is_alive():
            worker.kill()
            worker.join()


#: A worker's state: whether it runs a job now.
_WORKER = {"in_job": False}


def _start_worker(threads: int) -> None:
    """A new worker: its BLAS threads limited; Ctrl-C reaches its jobs only; SIGTERM ends it
    between jobs, and when the sweep's process dies (Linux: the kernel sends it)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _on_sigterm(signum, frame) -> None:
    """Between jobs: exit. In a job: while it trains, its own handler turns SIGTERM into
    ``Terminated`` and ends the run KILLED; here, it is setting its run up or ending it, which
    a second SIGTERM (the executor's, or the kernel's when the sweep's process dies) must not
    cut short, so the worker exits once the job is over."""
    if not _WORKER["in_job"]:
        raise SystemExit(128 + signum)
    _WORKER["stop"] = signum


def _run_forked(number: int, overrides: list[str]) -> JobReturn:
    """One job in a worker, composed and run as Hydra's launchers do. An interrupted job's run
    has ended KILLED when it returns; its worker then exits instead of starting another."""
    launcher = _LAUNCHING["launcher"]
    _WORKER["in_job"] = True
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(
            launcher.config, overrides
        )
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{number}"
            sweep_config.hydra.job.num = number
        HydraConfig.instance().set_config(sweep_config)
        return run_job(
            hydra_context=launcher.hydra_context,
            task_function=launcher.task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except BaseException as stop:
        if not _is_interruption(stop):
            raise
        _WORKER["stop"] = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _WORKER["in_job"] = False
        if "stop" in _WORKER:
            sys.stderr.flush()
            os._exit(128 + _WORKER["stop"])


def _is_interruption(error: BaseException) -> bool:
    """Ctrl-C, or SIGTERM turned into ``harness.tracking.job.Terminated`` by a running job."""
    job = sys.modules.get("harness.tracking.job")
    return isinstance(error, KeyboardInterrupt) or (
        job is not None and isinstance(error, job.Terminated)
    )
