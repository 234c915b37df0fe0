"""One-line messages for bad configs and overrides, whichever layer caught them."""

from __future__ import annotations

from pathlib import Path

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

from harness.core.config import ConfigError


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def _omegaconf_line(error: OmegaConfBaseException) -> str:
    key = error.full_key or getattr(error, "key", None) or "?"
    message = _first_line(getattr(error, "msg", "") or str(error))
    if "not in struct" in message or "Key '" in message and "not in" in message:
        parent = key.rsplit(".", 1)[0] if "." in key else "the config"
        return f"{key}: unknown key in {parent} ({message})"
    value = getattr(error, "value", None)
    shown = f"={value!r}" if value is not None else ""
    return f"{key}{shown}: {message}"


def _missing_line(error: MissingConfigException) -> str:
    options = ", ".join(o for o in error.options or [] if not o.endswith("_schema"))
    missing = error.missing_cfg_file or "?"
    group, _, option = missing.rpartition("/")
    if group and options:
        return f"{group}={option}: no such option; allowed: {options}"
    return _first_line(str(error))


def _shown_path(name: str) -> Path:
    """A config file's path, relative to the project when it is inside it."""
    from harness.tracking.store import PROJECT_ROOT

    where = Path(name)
    if where.is_absolute() and where.is_relative_to(PROJECT_ROOT):
        where = where.relative_to(PROJECT_ROOT)
    return where


def undecodable_config(error: BaseException) -> str | None:
    """The config file Hydra was reading when ``error``, a ``UnicodeDecodeError``, was raised
    (the one local Hydra's file source names it by), or None for any other error."""
    if not isinstance(error, UnicodeDecodeError):
        return None
    trace = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_name == "load_config" and "full_path" in frame.f_locals:
            return str(frame.f_locals["full_path"])
        trace = trace.tb_next
    return None


def _yaml_line(error) -> str:
    """``conf/<group>/<file>.yaml line N: what is wrong`` from PyYAML's marked error."""
    mark = error.problem_mark or error.context_mark
    where = _shown_path(mark.name)
    what = error.problem or error.context
    if error.problem and error.context:
        started = error.context_mark
        since = f" from line {started.line + 1}" if started and started.line != mark.line else ""
        what += f" ({error.context}{since})"
    return f"{where} line {mark.line + 1}: {_first_line(what)}"


def is_yaml_error(error: BaseException) -> bool:
    """Whether ``error`` is PyYAML's, with the place it happened (a config file that does not
    parse)."""
    from yaml import MarkedYAMLError

    return isinstance(error, MarkedYAMLError) and bool(error.problem_mark or error.context_mark)


def one_line(error: BaseException) -> str:
    r"""The clearest single line for ``error``: key, bad value, what is allowed.

    >>> from hydra.errors import OverrideParseException
    >>> one_line(OverrideParseException("study=a\nb", "no viable alternative"))
    'study=a\\nb: bad override (no viable alternative)'
    """
    line = _clearest(error)
    return line.replace("\r", "\\r").replace("\n", "\\n")  # a value's own line breaks


def _clearest(error: BaseException) -> str:
    for cause in _chain(error):
        if isinstance(cause, ConfigError):
            return str(cause)
        if isinstance(cause, MissingConfigException):
            return _missing_line(cause)
        if isinstance(cause, OmegaConfBaseException) and cause.full_key:
            return _omegaconf_line(cause)
        if is_yaml_error(cause):
            return _yaml_line(cause)
        if (name := undecodable_config(cause)) is not None:
            bad = cause.object[cause.start : cause.start + 1].hex()
            where = f"byte 0x{bad} at offset {cause.start}"
            return f"{_shown_path(name)}: not UTF-8 ({where}); save it as UTF-8"
        if isinstance(cause, OverrideParseException):
            return f"{cause.override}: bad override ({_first_line(cause.message)})"
    return _first_line(f"{type(error).__name__}: {error}")


def is_input_error(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is a bad config or override: exit code 2, not 1."""
    while error is not None:
        if isinstance(error, ConfigError | HydraException | OmegaConfBaseException):
            return True
        if is_yaml_error(error) or undecodable_config(error):  # a config file that does not parse
            return True
        error = error.__cause__ or error.__context__
    return False
