"""``python -m harness`` (or ``optlab``): a thin Hydra entry point over ``harness.app``.

Hydra composes ``conf/``; every error in a config or an override is printed as one line
naming the key, the bad value and what is allowed, with exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness import schemas  # noqa: F401  (registers the typed schemas and the lr resolver)
from harness.app import run_from_hydra, to_config
from harness.config import ConfigError
from harness.errors import one_line
from harness.job import Terminated
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
    except Exception as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the launcher records the failed job and the sweep goes on
        # One line, not Hydra's "Error executing job" banner too; a run holds the traceback.
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2 if _is_input_error(error) else 1)
    return None if outcome is None else outcome.status


FORBIDDEN_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")


LOGGING_CONFIGS = ("hydra.job_logging", "hydra.hydra_logging")
LOGGING_CLASS_KEYS = ("class", "()")  # what logging.config.dictConfig imports and calls


def check_no_import_strings(arguments: list[str]) -> None:
    """Refuse overrides that would make Hydra import and call code named on the command line.

    Both the key (``optimizer._target_=os.system``) and a dict value
    (``+hydra.callbacks={x:{_target_:os.makedirs,name:/tmp/x}}``) are checked. In the logging
    configs, ``class`` and ``()`` may name only the standard library's own logging classes.
    """
    for argument in arguments:
        key, _, value = argument.lstrip("+~").partition("=")
        if key.startswith(LOGGING_CONFIGS):
            check_logging_classes(argument, key)
        if key == "hydra.searchpath" or key.startswith("hydra.searchpath."):
            raise ConfigError(
                key,
                value,
                "extra config folders are not allowed: a config from "
                "outside conf/ could name code for Hydra to import",
            )
        if any(part in FORBIDDEN_KEYS for part in key.split(".")) or _value_keys(argument) & set(
            FORBIDDEN_KEYS
        ):
            raise ConfigError(
                key,
                value,
                "import strings are not allowed: configs name things "
                "and the harness's registries map names to code",
            )


def check_logging_classes(argument: str, key: str) -> None:
    """Each ``class``/``()`` a logging override names must be a handler, formatter or filter
    class of ``logging`` or ``logging.handlers`` (looked up there, never imported by name)."""
    import logging.handlers

    for name, named in _values_under(argument, key, LOGGING_CLASS_KEYS):
        module, _, attribute = str(named).rpartition(".")
        found = {"logging": logging, "logging.handlers": logging.handlers}.get(module)
        kind = getattr(found, attribute, None) if found else None
        if not (
            isinstance(kind, type)
            and issubclass(kind, logging.Handler | logging.Formatter | logging.Filter)
        ):
            raise ConfigError(
                name,
                named,
                "logging configs may name only logging's own handler, formatter and filter "
                "classes (logging.* or logging.handlers.*); choose a hydra/job_logging preset "
                "for others",
            )


def _values_under(argument: str, key: str, wanted: tuple[str, ...]) -> list[tuple[str, object]]:
    """(dotted key, value) of every ``wanted`` key in the override, in its key or its value."""
    if key.split(".")[-1] in wanted:
        return [(key, _parsed_value(argument))]  # as Hydra reads it: quotes removed
    return [(f"{path}.{k}", v) for path, k, v in _dict_entries(argument, key) if k in wanted]


def _dict_entries(argument: str, key: str) -> Iterator[tuple[str, str, object]]:
    """(dotted path, key, value) of every dict entry inside the override's value, sweeps
    included (none if the value does not parse)."""
    pending = [(key, _parsed_value(argument))]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for child, inner in value.items():
                yield path, str(child), inner
                pending.append((f"{path}.{child}", inner))
        elif isinstance(value, list | tuple):
            pending.extend((path, inner) for inner in value)
        elif isinstance(getattr(value, "list", None), list):  # a choice sweep: a,b or choice(a,b)
            pending.extend((path, inner) for inner in value.list)


def _parsed_value(argument: str):
    """The override's value as Hydra parses it (``None`` if it does not parse)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        (override,) = OverridesParser.create().parse_overrides([argument])
    except OverrideParseException:
        return None  # Hydra reports it, in one line, when it parses the overrides itself
    return override.value()


CONFIG_FOLDER_FLAGS = ("-cd", "--config-dir", "-cp", "--config-path")


def check_no_outside_configs(arguments: list[str]) -> None:
    """Refuse Hydra's flags that load configs from outside ``conf/`` (they could name code)."""
    for argument in arguments:
        flag, _, value = argument.partition("=")
        if flag in CONFIG_FOLDER_FLAGS:
            raise ConfigError(
                flag,
                value or "…",
                "configs come from this project's conf/ only; "
                "add a preset under conf/experiment/ instead",
            )


def _value_keys(argument: str) -> set[str]:
    """Every dict key inside an override's value, sweeps included (none if it does not parse)."""
    return {k for _, k, _ in _dict_entries(argument, "")}


def main() -> None:
    quiet_mlflow()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors reach us whole; we print them in one line
    try:
        check_no_outside_configs(sys.argv[1:])
        check_no_import_strings([a for a in sys.argv[1:] if not a.startswith("-")])
        hydra_main()
    except SweepAbort as abort:
        print(f"error: {abort}", file=sys.stderr)
        sys.exit(abort.code)
    except (KeyboardInterrupt, Terminated) as stop:  # the run already ended KILLED
        signum = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
        name = signal.Signals(signum).name
        print(f"interrupted by {name}: a run in progress ends KILLED", file=sys.stderr)
        sys.exit(128 + signum)
    except SystemExit:
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
