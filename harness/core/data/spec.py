"""A data set's options, defaults and checks, written once: in its loader's signature.

A loader takes the ``Split`` every data set shares (seed and fractions, declared once in
``harness.core.data.prepare``), then its own keyword-only options, each with a default and a type
(``bool``, ``int`` or ``float``), a number's allowed range beside it:
``n_classes: Annotated[int, Range(2)] = 4``.
``@loader(task=...)`` reads that signature into ``Option``s and checks every call against them
before the body runs, so a loader's body never checks an argument. The config class and the
Hydra schema of a data set (``harness.core.config.dataset_config``) are made from the same
``Option``s: the command line, a config built in code and a direct call accept the same values
and refuse the rest with the same ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

from harness.core.data.checks import Range, check_bool, check_number
from harness.core.data.dataset import TASKS, Dataset
from harness.core.data.prepare import Split
from harness.core.errors import ConfigError

KINDS = (bool, int, float)


@dataclass(frozen=True)
class Option:
    """One keyword of a loader: its type, default and allowed range.

    >>> Option("noise", float, 0.2, Range(0)).check(-1.0)
    Traceback (most recent call last):
    ...
    harness.core.errors.ConfigError: dataset.noise=-1.0: must be a finite number >= 0
    """

    name: str
    kind: type
    default: object
    range: Range = Range()

    def check(self, value: object) -> object:
        """``value`` as this option's type, or a ``ConfigError`` naming ``dataset.<name>``."""
        key = f"dataset.{self.name}"
        if self.kind is bool:
            return check_bool(key, value)
        return check_number(key, value, self.kind, self.range)


@dataclass(frozen=True)
class Rule:
    """A check across options: unless ``holds(options)``, ``dataset.<key>`` is refused with
    ``allowed`` (formatted with the options)."""

    key: str
    holds: Callable[[Mapping[str, object]], bool]
    allowed: str


def read_options(function: Callable[..., Dataset]) -> tuple[Option, ...]:
    """The ``Option``s of a loader: ``Split``'s, then its own keywords (each with a type and a
    default: anything else is a bug, refused when the loader is declared).

    >>> def load_toy(split: Split, *, n: Annotated[int, Range(1)] = 3, flip: bool = False): ...
    >>> [(o.name, o.kind.__name__, o.default) for o in read_options(load_toy)]
    [('seed', 'int', 0), ('val_fraction', 'float', 0.2), ('test_fraction', 'float', 0.2), ('n', 'int', 3), ('flip', 'bool', False)]
    """  # noqa: E501
    first, *own = inspect.signature(function, eval_str=True).parameters.values()
    if first.name != "split" or first.kind is first.KEYWORD_ONLY:
        raise TypeError(f"{function.__name__}: the first argument must be `split: Split`")
    hints = typing.get_type_hints(Split, include_extras=True)
    options = [_option(f.name, hints[f.name], f.default) for f in dataclasses.fields(Split)]
    for parameter in own:
        if parameter.kind is not parameter.KEYWORD_ONLY or parameter.default is parameter.empty:
            raise TypeError(f"{function.__name__}: {parameter.name} needs `*, name: type = value`")
        options.append(_option(parameter.name, parameter.annotation, parameter.default))
    return tuple(options)


def _option(name: str, annotation: object, default: object) -> Option:
    kind, allowed = annotation, Range()
    if typing.get_origin(kind) is Annotated:
        kind, allowed = typing.get_args(kind)[:2]
    if kind not in KINDS:
        raise TypeError(f"option {name} must be a bool, int or float, not {kind}")
    return Option(name, kind, default, allowed)


#: The options ``Split`` holds; a loader's own options come after them.
SPLIT_KEYS = tuple(field.name for field in dataclasses.fields(Split))


class Loader:
    """A data-set loader with what its signature declares: ``options`` (``Split``'s and its own),
    and the ``task`` its data sets pose (one of ``TASKS``). Calling it with keywords checks them
    all, then loads: ``load_spirals(seed=1, noise=0.3)``."""

    def __init__(self, function: Callable[..., Dataset], task: str, rules: Iterable[Rule] = ()):
        functools.update_wrapper(self, function)
        if task not in TASKS:
            raise ValueError(f"task={task!r} is not one of: {', '.join(TASKS)}")
        self.function, self.task, self.rules = function, task, tuple(rules)
        self.options = read_options(function)
        self.check(self.defaults())  # a default its own range refuses is a bug: fail at import

    def __call__(self, **values: object) -> Dataset:
        own = self.check(values)
        split = Split(**{key: own.pop(key) for key in SPLIT_KEYS})
        return self.function(split, **own)

    def __reduce__(self) -> str:
        return self.__qualname__  # pickled by name, like the function it wraps

    def defaults(self) -> dict[str, object]:
        """Every option with its default."""
        return {option.name: option.default for option in self.options}

    def check(self, values: Mapping[str, object]) -> dict[str, object]:
        """Every option, from ``values`` or its default, checked; ``ConfigError`` names the key."""
        known = {option.name: option for option in self.options}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"dataset.{key}", value, "unknown option; allowed: " + ", ".join(known)
                )
        checked = {
            name: option.check(values.get(name, option.default)) for name, option in known.items()
        }
        for rule in self.rules:
            if not rule.holds(checked):
                raise ConfigError(
                    f"dataset.{rule.key}", checked[rule.key], rule.allowed.format(**checked)
                )
        return checked


def loader(*, task: str, rules: Iterable[Rule] = ()) -> Callable[[Callable[..., Dataset]], Loader]:
    """Declare a function a data-set loader of ``task``: ``@loader(task="classification")``."""
    return lambda function: Loader(function, task, rules)
