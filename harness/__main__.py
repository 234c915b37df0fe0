"""``python -m harness`` (or ``optlab``): a thin Hydra entry point over ``harness.app``.

Hydra composes ``conf/``; every error in a config or an override is printed as one line
naming the key, the bad value and what is allowed, with exit code 2.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from harness import schemas  # noqa: F401  (registers the typed schemas and the lr resolver)
from harness.app import run_from_hydra, to_config
from harness.config import ConfigError
from harness.errors import one_line
from harness.store import PROJECT_ROOT, quiet_mlflow
from harness.sweep import SweepAbort

__all__ = ["main", "to_config"]


@hydra.main(version_base="1.3", config_path=str(PROJECT_ROOT / "conf"), config_name="config")
def hydra_main(cfg: DictConfig) -> str | None:
    try:
        outcome = run_from_hydra(cfg)
    except ConfigError as error:  # before any run exists: one line, no Hydra banner
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    return None if outcome is None else outcome.status


FORBIDDEN_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")


def check_no_import_strings(arguments: list[str]) -> None:
    """Refuse overrides that would make Hydra import and call code named on the command line."""
    for argument in arguments:
        key, _, value = argument.lstrip("+~").partition("=")
        if any(part in FORBIDDEN_KEYS for part in key.split(".")):
            raise ConfigError(
                key,
                value,
                "import strings are not allowed: configs name things "
                "and the harness's registries map names to code",
            )


def main() -> None:
    quiet_mlflow()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors reach us whole; we print them in one line
    try:
        check_no_import_strings([a for a in sys.argv[1:] if not a.startswith("-")])
        hydra_main()
    except SweepAbort as abort:
        print(f"error: {abort}", file=sys.stderr)
        sys.exit(abort.code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2 if _is_input_error(error) else 1)


def _is_input_error(error: BaseException) -> bool:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    while error is not None:
        if isinstance(error, ConfigError | HydraException | OmegaConfBaseException):
            return True
        error = error.__cause__ or error.__context__
    return False


if __name__ == "__main__":
    main()
