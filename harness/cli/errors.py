"""One-line messages for bad configs and overrides, whichever layer caught them."""

from __future__ import annotations

from hydra.errors import MissingConfigException, OverrideParseException
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


def one_line(error: BaseException) -> str:
    """The clearest single line for ``error``: key, bad value, what is allowed."""
    for cause in _chain(error):
        if isinstance(cause, ConfigError):
            return str(cause)
        if isinstance(cause, MissingConfigException):
            return _missing_line(cause)
        if isinstance(cause, OmegaConfBaseException) and cause.full_key:
            return _omegaconf_line(cause)
        if isinstance(cause, OverrideParseException):
            return f"{cause.override}: bad override ({_first_line(cause.message)})"
    return _first_line(f"{type(error).__name__}: {error}")
