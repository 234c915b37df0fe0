"""Sweeps on a cluster: Hydra's submitit launchers, reporting in the launching terminal.

``hydra/launcher=slurm`` (``conf/hydra/launcher/slurm.yaml``) submits a sweep as one Slurm job
array exactly as Hydra's ``submitit_slurm`` does; ``hydra/launcher=submitit`` runs the same
pickled jobs as local processes. The jobs' stderr goes to submitit's log files, so while the
launcher waits it prints what a local launcher's terminal would have shown: a line per job as it
ends, ``[done/total] STATUS name``, read from the sweep's progress file
(``harness.tracking.sweep``), and the scheduler's states whenever they change
(``slurm: 2 RUNNING, 2 PENDING``).

A job that ends without a result (``scancel``, a time limit with no requeue left, out of memory,
a lost node) is reported with the scheduler's state and its log file and counted as FAILED, and
the launcher still waits for the others; the sweep then ends as under a local launcher (summary,
parent run FAILED, exit code 1), and running the same command again reruns only what did not
finish. Ctrl-C cancels the sweep's jobs that are still queued or running.

Hydra accepts launchers only from the ``hydra_plugins`` package, hence this folder; Hydra imports
it at every start while it looks for plugins, so it imports nothing heavy at the top.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from harness.tracking.progress import count_done, format_eta
from harness.tracking.sweep import PROGRESS_FILE, eta_seconds, load_sweep_info

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
#: How often to ask the scheduler (``sacct`` for Slurm) for its states while waiting.
STATE_SECONDS = 10.0
#: How long, in all, to wait for result files still on their way after every job ended.
RESULT_SECONDS = 15.0


class _Reporting:
    """The plugin's ``launch``, with its silent wait replaced by one that reports."""

    _EXECUTOR: str
    params: dict[str, Any]
    config: Any

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        folder = Path(str(self.config.hydra.sweep.dir))
        watch = SweepWatch(folder, self._EXECUTOR)
        jobs = self._submit(job_overrides, initial_job_idx, folder)
        try:
            watch.wait(jobs)
        except KeyboardInterrupt:
            watch.cancel(jobs)
            raise
        return [watch.collect(job, list(o)) for job, o in zip(jobs, job_overrides, strict=True)]

    def _submit(self, job_overrides, initial_job_idx: int, folder: Path) -> list:
        """Submit every job as one array: the plugin's own code, minus its silent wait."""
        import submitit

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        common = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in common else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        folder.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(folder, mode=int(str(self.config.hydra.sweep.mode), 8))
        arguments = []
        for number, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")  # as Hydra's own
            state = Singleton.get_state()
            arguments.append((list(overrides), "hydra.sweep.dir", number, f"job_{number}", state))
        jobs = executor.map_array(self, *zip(*arguments, strict=True))
        _say_submitted(jobs, self._EXECUTOR)
        return jobs


def _pending_reasons(jobs: list) -> str:
    """Why Slurm keeps jobs of the array waiting, as squeue says: `` (Resources)``."""
    array = jobs[0].job_id.split("_")[0]
    command = ["squeue", "-h", "-r", "-t", "PENDING", "-j", array, "-o", "%r"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    reasons = sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})
    return f" ({', '.join(reasons)})" if reasons else ""


def _exception_line(traceback: str) -> str:
    """The ``Type: message`` line of a traceback (its first line, for a long message).

    >>> _exception_line('Traceback:\\n  File "a.py"\\n    f()\\nKeyError: x\\n    more')
    'KeyError: x'
    """
    lines = traceback.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    after = lines[frames[-1] + 1 :] if frames else lines
    return next((line for line in after if line and not line[0].isspace()), lines[-1])


def _say_submitted(jobs: list, scheduler: str) -> None:
    if not jobs:
        return
    what = "local processes"
    if scheduler == "slurm":
        what = f"slurm job {jobs[0].job_id.split('_')[0]}"  # an array: <id>_0, <id>_1, ...
    logs = jobs[0].paths.folder.parent  # one folder per job, named by its id
    print(
        f"[optlab] submitted {len(jobs)} jobs as {what}; logs in {logs}/<job id>/",
        file=sys.stderr,
        flush=True,
    )


class SlurmLauncher(_Reporting, plugin.SlurmLauncher):
    """Hydra's ``submitit_slurm`` launcher that reports progress and Slurm's word on each job."""


class LocalLauncher(_Reporting, plugin.LocalLauncher):
    """Hydra's ``submitit_local`` launcher that reports progress as the Slurm one does."""


class SweepWatch:
    """Follow a submitted sweep: progress lines, scheduler states, and jobs that left no result."""

    def __init__(self, folder: Path, scheduler: str):
        self.folder = folder
        self.progress_file = folder / PROGRESS_FILE
        self.scheduler = scheduler
        info = load_sweep_info(folder) or {}
        self.total = info.get("total")
        self.started = info.get("started") or time.time()
        self.lines_shown = len(self._lines())  # an earlier batch of this sweep showed those
        self.states_shown: str | None = None
        self.asked_at = self.ended = 0.0

    def _lines(self) -> list[str]:
        return self.progress_file.read_text().splitlines() if self.progress_file.exists() else []

    def wait(self, jobs: list) -> None:
        """Print as jobs end, until every job has a result or the scheduler says it ended."""
        self.total = self.total or len(jobs)
        while True:
            self.show_progress()
            if all(job.done() for job in jobs):
                break
            self.show_states(jobs)
            time.sleep(POLL_SECONDS)
        self.ended = time.monotonic()
        self.show_progress()

    def show_progress(self) -> None:
        lines = self._lines()
        for done, line in enumerate(lines[self.lines_shown :], start=self.lines_shown + 1):
            seconds, status, name = (line.split(maxsplit=2) + ["", "", ""])[:3]
            eta = eta_seconds(self.folder, self.started, done, self.total, time.time(), mark=False)
            print(
                f"[{done}/{self.total}] {status} {name} ({float(seconds or 0):.1f}s) "
                f"| ETA {format_eta(eta)}",
                file=sys.stderr,
                flush=True,
            )
        self.lines_shown = len(lines)

    def show_states(self, jobs: list) -> None:
        """One line whenever the scheduler's count of states changes (e.g. PENDING → RUNNING)."""
        now = time.monotonic()
        if now - self.asked_at < STATE_SECONDS:
            return
        self.asked_at = now
        if self.scheduler == "slurm":
            type(jobs[0]).watcher.update()  # one sacct call for the whole array
        counts = Counter(job.state for job in jobs)
        why = {"PENDING": _pending_reasons(jobs)} if self.scheduler == "slurm" else {}
        text = ", ".join(f"{n} {state}{why.get(state, '')}" for state, n in sorted(counts.items()))
        if set(counts) != {"UNKNOWN"} and text != self.states_shown:  # UNKNOWN: not in sacct yet
            print(f"[optlab] {self.scheduler}: {text}", file=sys.stderr, flush=True)
            self.states_shown = text

    def collect(self, job, overrides: list[str]) -> JobReturn:
        """The job's own result, or a FAILED line in the progress file saying why it has none."""
        from submitit.core.utils import FailedJobError, UncompletedJobError

        # submitit gives a result file 15 s to show up on a slow shared filesystem; all jobs have
        # ended by now, so the sweep as a whole waits that long at most, not each failed job.
        job._results_timeout_s = max(0.0, self.ended + RESULT_SECONDS - time.monotonic())
        try:
            return job.results()[0]
        except (UncompletedJobError, FailedJobError) as error:
            if isinstance(error, FailedJobError):  # it raised: the traceback says what
                reason = f"raised {_exception_line(str(error))}"
            else:
                reason = f"ended {job.state} with no result"
            why = f"{self.scheduler} job {job.job_id} {reason}; log: {job.paths.stderr}"
            done = count_done(self.progress_file, f"0.00 FAILED {' '.join(overrides)} ({why})")
            print(
                f"[{done}/{self.total}] FAILED {' '.join(overrides)}: {why}",
                file=sys.stderr,
                flush=True,
            )
            return JobReturn(
                overrides=overrides, status=JobStatus.COMPLETED, _return_value="FAILED"
            )

    def cancel(self, jobs: list) -> None:
        """Ctrl-C: cancel what is queued or running; the jobs' runs end KILLED."""
        if self.scheduler == "slurm":
            subprocess.call(["scancel", jobs[0].job_id.split("_")[0]])  # the whole array
        else:
            for job in jobs:
                job.cancel(check=False)
        print(f"\n[optlab] cancelled the sweep's {self.scheduler} jobs", file=sys.stderr)
