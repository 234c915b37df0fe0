"""``python -m harness`` (or ``optlab``): a thin Hydra entry point over ``harness.cli.app``.

Hydra composes ``conf/``; every error in a config or an override is printed as one line
naming the key, the bad value and what is allowed, with exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.cli import schemas  # noqa: F401  (registers the typed schemas and the lr resolver)
from harness.cli.app import run_from_hydra, to_config
from harness.cli.errors import is_input_error, one_line
from harness.cli.overrides import check_arguments
from harness.cli.sweep import SweepAbort
from harness.core.config import ConfigError
from harness.tracking.store import PROJECT_ROOT, quiet_mlflow

__all__ = ["main", "to_config"]


@hydra.main(version_base="1.3", config_path=str(PROJECT_ROOT / "conf"), config_name="config")
def hydra_main(cfg: DictConfig) -> str | None:
    try:
        outcome = run_from_hydra(cfg)
    except ConfigError as error:  # before any run exists: one line, no Hydra banner
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the launcher records the failed job and the sweep goes on
        # One line, not Hydra's "Error executing job" banner too; a run holds the traceback.
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2 if is_input_error(error) else 1)
    return None if outcome is None else outcome.status


def main() -> None:
    quiet_mlflow()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors reach us whole; we print them in one line
    try:
        check_arguments(sys.argv[1:])
        _register_launchers()
        hydra_main()
    except SweepAbort as abort:
        print(f"error: {abort}", file=sys.stderr)
        sys.exit(abort.code)
    except SystemExit:
        raise
    except Exception as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2 if is_input_error(error) else 1)
    except _stops() as stop:  # the run already ended KILLED
        signum = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
        name = signal.Signals(signum).name
        print(f"interrupted by {name}: a run in progress ends KILLED", file=sys.stderr)
        sys.exit(128 + signum)


def _register_launchers() -> None:
    """``hydra/launcher=joblib`` forks its workers (``hydra_plugins.optlab_launcher.parallel``).
    Registered once Hydra has found its plugins: finding them registers Hydra's own again."""
    from hydra.core.plugins import Plugins

    Plugins.instance()
    from hydra_plugins.optlab_launcher import parallel

    parallel.register()


def _stops() -> tuple[type[BaseException], ...]:
    """Ctrl-C, and SIGTERM once a job has set its handler (``harness.tracking.job`` raises
    ``Terminated``); nothing is imported here, so a second Ctrl-C cannot land in an import."""
    job = sys.modules.get("harness.tracking.job")
    return (KeyboardInterrupt,) if job is None else (KeyboardInterrupt, job.Terminated)


if __name__ == "__main__":
    main()
