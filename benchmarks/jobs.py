"""Running harness jobs the two ways a benchmark times them: as a command, and in-process.

In-process means ``harness.tracking.job.run_job(cfg)`` with everything already imported, so the time
is the job's own (data, model, training, tracking) without interpreter start-up and imports.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from itertools import count
from pathlib import Path

from harness.tracking.store import PROJECT_ROOT

_runs = count()


def harness_command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "harness", *overrides]


def shown(command: list[str]) -> str:
    """A command as the report prints it: ``python -m …`` without the tmp-folder overrides."""
    words = ["python" if word == sys.executable else word for word in command]
    return " ".join(w for w in words if not w.startswith(("hydra.run.dir=", "hydra.sweep.dir=")))


def run_command(command: list[str], folder: Path, env: dict[str, str] | None = None) -> str:
    """Run ``command`` in ``folder`` (Hydra's outputs land there); its stderr, or raise."""
    return run_counting_cpu(command, folder, env)[0]


def run_counting_cpu(
    command: list[str], folder: Path, env: dict[str, str] | None = None
) -> tuple[str, float]:
    """``run_command``, also returning the CPU seconds (user + system) it and its children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command,
        cwd=folder,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise RuntimeError(f"{shown(command)} exited with {done.returncode}:\n{tail}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return done.stderr, cpu


def run_dir(folder: Path) -> str:
    """A fresh ``hydra.run.dir`` override under ``folder`` (keeps outputs/ out of the project)."""
    return f"hydra.run.dir={folder / 'outputs' / str(next(_runs))}"


def compose(*overrides: str):
    """The validated ``Config`` and the files a job logs, composed as the command line does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from harness.cli import schemas  # noqa: F401  (registers the schemas and the lr resolver)
    from harness.cli.app import to_config

    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        raw = hydra_compose("config", overrides=list(overrides))
    files = {
        "config.yaml": OmegaConf.to_yaml(raw, resolve=True),
        "overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(list(overrides))),
    }
    return to_config(raw), files


def job_runner(*overrides: str):
    """A function that runs the composed job in this process and returns its ``JobOutcome``."""
    from harness.tracking.job import run_job

    cfg, files = compose(*overrides)

    def run():
        outcome = run_job(cfg, files)
        if outcome.status != "FINISHED":
            raise RuntimeError(f"{overrides}: job ended {outcome.status}")
        return outcome

    return run
