"""The lab's one error for a bad config value, shared by every layer that checks one."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad config value: ``key=value: what is allowed`` in one line.

    >>> str(ConfigError("dataset.n_classes", 1, "must be an integer >= 2"))
    'dataset.n_classes=1: must be an integer >= 2'
    """

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: {allowed}")
