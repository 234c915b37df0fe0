"""What a command line may override: the lab's own config and a short list of Hydra's keys.

An allowlist, not a blocklist: Hydra's surface (``hydra.job.env_set``, logging configs with
``ext://`` streams, ``hydra.output_subdir``, ``hydra.searchpath``, callbacks, package
overrides ``group@pkg``, ``--experimental-rerun``'s pickle …) is too large to list what is
dangerous, so only what a user of the lab needs is let through, everything else is refused in
one line. The same rules apply to each job of a sweep after Hydra has expanded its
``hydra.sweeper.params`` (``harness.cli.sweep``).

Allowed, besides the lab's keys and groups (``optimizer``, ``model``, ``dataset``, ``trainer``,
``tracking``, ``seed``, ``lr_scale``, ``study``, ``experiment``):

- ``hydra/launcher``, ``hydra/job_logging``, ``hydra/hydra_logging``: a preset, by name;
- ``hydra.launcher.<key>`` for the launcher keys the README documents; ``setup`` lines and
  ``additional_parameters`` reach the Slurm job script: the one documented way an override runs
  a command, on the user's own cluster;
- ``hydra.run.dir``, ``hydra.sweep.dir`` anywhere but inside the project's ``conf/``;
- ``hydra.verbose`` (which loggers print debug lines);
- ``hydra.sweeper.params.<lab key>`` (or a dict of them): a sweep written as config.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.core.config import ConfigError

LAB_KEYS = (
    "optimizer",
    "model",
    "dataset",
    "trainer",
    "tracking",
    "seed",
    "lr_scale",
    "study",
    "experiment",
)
LAB_GROUPS = ("optimizer", "model", "dataset", "trainer", "tracking", "experiment")
HYDRA_GROUPS = ("hydra/launcher", "hydra/job_logging", "hydra/hydra_logging")
LAUNCHER_KEYS = (
    "n_jobs",
    "backend",
    "partition",
    "timeout_min",
    "cpus_per_task",
    "mem_gb",
    "array_parallelism",
    "max_num_timeout",
    "setup",
    "additional_parameters",
)
#: ``hydra/launcher=joblib``'s workers: forked (the default), or Hydra's own loky launcher.
LAUNCHER_BACKENDS = ("multiprocessing", "loky")
OUTPUT_DIRS = ("hydra.run.dir", "hydra.sweep.dir")
SWEEPER_PARAMS = "hydra.sweeper.params"
#: Hydra's flags a user may give; the others load configs or pickles from elsewhere.
FLAGS = (
    "help",
    "hydra_help",
    "cfg",
    "resolve",
    "package",
    "run",
    "multirun",
    "shell_completion",
    "info",
)
FLAGS_ALLOWED = (
    "configs come from this project's conf/ only (add a preset under conf/experiment/); "
    "allowed flags: -m, --cfg, --resolve, --package, --info, --help, --hydra-help, -sc"
)
IMPORT_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")
#: A study, an experiment, a config-group option: a name, never a path.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
NAMES = "a name: letters, digits, '-', '_', '.', at most 100 characters"
ALLOWED = (
    "the lab's keys ("
    + ", ".join(LAB_KEYS)
    + "), "
    + ", ".join(f"{g}=<preset>" for g in HYDRA_GROUPS)
    + ", hydra.launcher.{"
    + ",".join(LAUNCHER_KEYS)
    + "}, hydra.run.dir, hydra.sweep.dir, hydra.verbose, hydra.sweeper.params.<lab key>"
)


def check_arguments(arguments: list[str]) -> None:
    """Refuse a command line that uses anything outside the allowlist (``ConfigError``).

    >>> check_arguments(["-m", "optimizer=adagrad,rmsprop", "hydra/launcher=joblib"])
    >>> try:
    ...     check_arguments(["hydra.job.env_set.X=1"])
    ... except ConfigError as error:
    ...     print(error.key)
    hydra.job.env_set.X
    """
    from hydra._internal.utils import get_args_parser

    parsed, _ = get_args_parser().parse_known_args(arguments)
    for flag, value in vars(parsed).items():
        if flag not in (*FLAGS, "overrides") and value not in (None, False):
            option = "--" + flag.replace("_", "-")
            raise ConfigError(option, value, FLAGS_ALLOWED)
    if not parsed.shell_completion:  # -sc reads its own words (install=bash), runs no job
        check_overrides(parsed.overrides)


def check_overrides(arguments: list[str]) -> None:
    """Each override parsed as Hydra parses it, then checked by ``check_override``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for argument in arguments:
        try:
            (override,) = parser.parse_overrides([argument])
        except OverrideParseException:
            continue  # Hydra refuses it in one line when it parses the overrides itself
        check_override(override)


def check_override(override) -> None:
    """One parsed override against the allowlist; its values against the lab's rules."""
    key, line = override.key_or_group, override.input_line
    value = line.partition("=")[2]
    if override.package is not None:
        raise ConfigError(line.partition("=")[0], value, "a config goes to its own place only")
    if key.startswith(SWEEPER_PARAMS):
        _check_sweeper_params(key, override.value())
    elif not _allowed(key):
        raise ConfigError(key, value, "not an override the lab allows; allowed: " + ALLOWED)
    if _import_keys(key, override.value()):
        raise ConfigError(
            key,
            value,
            "import strings are not allowed: configs name things "
            "and the harness's registries map names to code",
        )
    if key in LAB_GROUPS + HYDRA_GROUPS:
        if isinstance(override.value(), list):  # Hydra would merge the options into one
            raise ConfigError(key, value, "one option per group (a sweep: -m a,b)")
        for element in _elements(override.value()):
            if not isinstance(element, str) and not (element is None and override.is_delete()):
                # null or a number: Hydra itself would fail with a ValueError
                raise ConfigError(key, element, f"must name an option of the {key} group")
    for element in _elements(override.value()):
        _check_value(key, element)


def _allowed(key: str) -> bool:
    head, _, rest = key.partition(".")
    if head in LAB_KEYS:
        return True
    if key in HYDRA_GROUPS or key in OUTPUT_DIRS or key == "hydra.verbose":
        return True
    launcher, _, option = key.partition("hydra.launcher.")
    return (
        not launcher
        and option.split(".")[0] in LAUNCHER_KEYS
        and (option.startswith("additional_parameters") or "." not in option)
    )


def _check_sweeper_params(key: str, value) -> None:
    inner = key.removeprefix(SWEEPER_PARAMS).lstrip(".")
    keys = [inner] if inner else list(value) if isinstance(value, dict) else [None]
    for name in keys:
        if name is None or not _allowed(str(name).lstrip("+~")):
            allowed = "sweeper params may name only the lab's keys (" + ", ".join(LAB_KEYS) + ")"
            raise ConfigError(f"{SWEEPER_PARAMS}.{name}" if name else key, value, allowed)


def _check_value(key: str, value) -> None:
    """Names stay names, output folders stay out of ``conf/``, passwords off the command line."""
    names_a_thing = key in ("study", "tracking.experiment") or key in LAB_GROUPS + HYDRA_GROUPS
    if names_a_thing and value is not None and not _is_name(str(value)):
        raise ConfigError(key, value, "must be " + NAMES)
    if key in OUTPUT_DIRS and isinstance(value, str):
        check_output_folder(key, value)
    if key == "hydra.launcher.backend" and value not in LAUNCHER_BACKENDS:
        raise ConfigError(
            key, value, "must be multiprocessing (forked workers, the default) or loky"
        )
    if key == "tracking.uri" and isinstance(value, str) and _has_password(value):
        raise ConfigError(
            key,
            _without_password(value),
            "no password in the URI: it would be printed and saved with the command line; "
            + _where_passwords_go(value),
        )


def check_output_folder(key: str, folder: str) -> None:
    """``hydra.run.dir`` or ``hydra.sweep.dir`` anywhere but inside the project's ``conf/``:
    checked on the command line, and once more resolved (``${hydra:runtime.cwd}/conf``)."""
    if _inside_conf(folder):
        raise ConfigError(key, folder, "outputs go anywhere but the project's conf/")


def _is_name(value: str) -> bool:
    return bool(NAME.fullmatch(value)) and ".." not in value


def _inside_conf(folder: str) -> bool:
    from harness.tracking.store import PROJECT_ROOT

    conf = (PROJECT_ROOT / "conf").resolve()
    where = Path(folder.split("${", 1)[0] or ".").resolve()
    return where == conf or conf in where.parents


def _has_password(uri: str) -> bool:
    """Whether ``uri`` has ``user:password@`` (read by hand: a ``/`` in it defeats urlsplit).

    >>> _has_password("http://bo:pa/ss@h:5000"), _has_password("sqlite:////tmp/a:b@c.db")
    (True, False)
    """
    after = uri.partition("//")[2]
    userinfo = after.rpartition("@")[0]
    return ":" in userinfo and not after.startswith("/")


def _without_password(uri: str) -> str:
    head, _, tail = uri.rpartition("@")
    scheme, slashes, user = head.partition("//")
    return f"{scheme}{slashes}{user.partition(':')[0]}:***@{tail}"


def _where_passwords_go(uri: str) -> str:
    if uri.startswith(("http://", "https://")):
        return "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead"
    return "put it in PGPASSWORD or ~/.pgpass, or read the URI with ${oc.env:VARIABLE}"


def _elements(value) -> list:
    """The plain values of an override: a sweep's choices one by one, a dict's values."""
    pending, found = [value], []
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(getattr(item, "list", None), list):  # a choice sweep: a,b or choice(a,b)
            pending.extend(item.list)
        else:
            found.append(item)
    return found


def _import_keys(key: str, value) -> bool:
    """Whether the key, or a dict key anywhere inside the value, is one Hydra would import."""
    if any(part in IMPORT_KEYS for part in key.split(".")):
        return True
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if set(map(str, item)) & set(IMPORT_KEYS):
                return True
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(getattr(item, "list", None), list):
            pending.extend(item.list)
    return False
