"""Typed configuration: one dataclass per config-group option, validated on construction.

The same dataclasses are Hydra's schemas (registered in ``harness.cli.schemas``) and the plain
config object that ``harness.core.train.train`` takes, so a job built in a test and a job composed
from ``conf/`` are checked by the same code. Every range check raises ``ConfigError`` with one
line naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, make_dataclass

from harness.core.data import DATASETS, Loader
from harness.core.errors import ConfigError
from harness.core.models import FUNCTION_TASK, MODEL_TASKS
from harness.core.optim import OPTIMIZERS, Optimizer

__all__ = ["ConfigError"]  # re-exported: the lab's one error for a bad config value


def _check(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(key, value, allowed)


def _positive(group: str, name: str, value) -> None:
    _check(value > 0, f"{group}.{name}", value, "must be > 0")


def _one_of(key: str, value, allowed) -> None:
    _check(value in allowed, key, value, "must be one of: " + ", ".join(map(str, allowed)))


# --- optimizer ---------------------------------------------------------------------------
@dataclass
class OptimizerConfig:
    """An optimizer and its hyperparameters, checked against its class's spec.

    One subclass per registered optimizer, made from the class (``OPTIMIZER_CONFIGS``): its
    fields are the constructor's keyword arguments with their defaults, and each value must lie
    in its ``Hyperparameter``'s range (``harness.core.optim.spec``).
    """

    name: str = "sgd"
    lr: float = 0.01

    def __post_init__(self):
        _one_of("optimizer.name", self.name, list(OPTIMIZERS))
        spec = OPTIMIZERS[self.name].hyperparameters
        for key, value in self.hyperparams().items():
            _check(key in spec, f"optimizer.{key}", value, f"not a {self.name} hyperparameter")
            _check(spec[key].allows(value), f"optimizer.{key}", value, spec[key].allowed())

    def hyperparams(self) -> dict[str, float]:
        """Keyword arguments for the optimizer class."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


def _to_optimizer_config(name: str, cls: type[Optimizer]) -> type[OptimizerConfig]:
    """``<Class>Config``: ``name`` and the constructor's keyword arguments, with its defaults."""
    own = [(key, float, field(default=value)) for key, value in cls.defaults().items()]
    schema = make_dataclass(
        f"{cls.__name__}Config",
        [("name", str, field(default=name)), *own],
        bases=(OptimizerConfig,),
    )
    schema.__module__ = __name__  # where pickle finds it, by ``__getattr__`` below
    return schema


#: Config name → its dataclass (also Hydra's ``<name>_schema``), one per registered optimizer.
OPTIMIZER_CONFIGS: dict[str, type[OptimizerConfig]] = {
    name: _to_optimizer_config(name, cls) for name, cls in OPTIMIZERS.items()
}
_BY_CLASS_NAME = {schema.__name__: schema for schema in OPTIMIZER_CONFIGS.values()}


def __getattr__(name: str):
    """``harness.core.config.AdamConfig`` and the like: the derived classes by name (pickle too)."""
    try:
        return _BY_CLASS_NAME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


# --- model ----------------------------------------------------------------------------------
@dataclass
class ModelConfig:
    name: str = "mlp"

    def __post_init__(self):
        _one_of("model.name", self.name, list(MODEL_TASKS))

    def options(self) -> dict:
        """Keyword arguments for ``harness.core.models.build_model``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}

    @property
    def is_2d(self) -> bool:
        return MODEL_TASKS[self.name] == NO_DATA_TASK


@dataclass
class MLPConfig(ModelConfig):
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    init: str = "auto"
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        _check(len(self.hidden) > 0, "model.hidden", self.hidden, "needs at least one layer")
        for size in self.hidden:
            _check(size > 0, "model.hidden", self.hidden, "layer sizes must be > 0")
        _one_of("model.activation", self.activation, ["relu", "tanh"])
        _one_of("model.init", self.init, ["auto", "he", "xavier"])
        _check(self.weight_decay >= 0, "model.weight_decay", self.weight_decay, "must be >= 0")


@dataclass
class SoftmaxConfig(ModelConfig):
    name: str = "softmax"
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        _check(self.weight_decay >= 0, "model.weight_decay", self.weight_decay, "must be >= 0")


@dataclass
class LinearConfig(SoftmaxConfig):
    name: str = "linear"


@dataclass
class Function2DConfig(ModelConfig):
    """A 2-D test function; the "parameters" are the point, starting at ``start`` if given."""

    name: str = "quadratic2d"
    start: list[float] | None = None

    def __post_init__(self):
        super().__post_init__()
        functions = [name for name, task in MODEL_TASKS.items() if task == NO_DATA_TASK]
        _one_of("model.name", self.name, functions)
        if self.start is not None:
            _check(len(self.start) == 2, "model.start", self.start, "must be [x, y]")


# --- dataset --------------------------------------------------------------------------------
#: ``none`` is the unshifted control of a shift study: same config, same seed, no change, so
#: recovery is measured against the loss the run would have had (``analysis.stats``).
SHIFT_KINDS = ("scale_inputs", "permute_labels", "none")
#: ``dataset=none``: no data, the task the 2-D function models solve.
NO_DATA, NO_DATA_TASK = "none", FUNCTION_TASK


@dataclass
class DatasetConfig:
    """A data set and its split; ``shift_step`` makes it non-stationary from that step on
    (``shift_kind=none``: a control that does not change). Each data set's config class adds its
    loader's options (``dataset_config``), checked by its loader's spec."""

    name: str = "digits"
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    shift_step: int | None = None
    shift_kind: str = "scale_inputs"
    shift_factor: float = 10.0

    def __post_init__(self):
        _one_of("dataset.name", self.name, [NO_DATA, *DATASETS])
        if self.shift_step is not None:
            _positive("dataset", "shift_step", self.shift_step)
        _one_of("dataset.shift_kind", self.shift_kind, SHIFT_KINDS)
        _positive("dataset", "shift_factor", self.shift_factor)
        if self.name == NO_DATA:
            return
        loader = DATASETS[self.name]
        loader.check({key: getattr(self, key) for key in loader.defaults() if hasattr(self, key)})
        if self.shift_step is not None and self.shift_kind == "permute_labels":
            _check(
                loader.task == "classification",
                "dataset.shift_kind",
                self.shift_kind,
                f"needs a classification data set; {self.name} poses {loader.task}",
            )

    def options(self) -> dict:
        """Generator options for ``harness.core.data.load_dataset`` (beyond name, seed, split)."""
        common = {"name", "seed", "val_fraction", "test_fraction"}
        common |= {"shift_step", "shift_kind", "shift_factor"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in common}


@functools.cache
def dataset_config(name: str, loader: Loader) -> type[DatasetConfig]:
    """The config class of data set ``name``: ``DatasetConfig`` plus every option of its loader,
    with the loader's types and defaults (``SpiralsConfig`` for ``spirals``).

    >>> dataset_config("spirals", DATASETS["spirals"])().noise
    0.2
    """
    own = [(option.name, option.kind, option.default) for option in loader.options]
    title = "".join(part.capitalize() for part in name.split("_"))
    kind = make_dataclass(f"{title}Config", [("name", str, name), *own], bases=(DatasetConfig,))
    kind.__module__ = __name__  # where pickle finds it, by ``__getattr__``
    return kind


@dataclass
class NoDatasetConfig(DatasetConfig):
    """No data: the model is a 2-D function."""

    name: str = NO_DATA


def dataset_configs() -> dict[str, type[DatasetConfig]]:
    """The config class of every registered data set, and of ``none``."""
    configs = {name: dataset_config(name, loader) for name, loader in DATASETS.items()}
    return {**configs, NO_DATA: NoDatasetConfig}


DATASET_CONFIGS = dataset_configs()
_BY_CLASS_NAME.update({kind.__name__: kind for kind in DATASET_CONFIGS.values()})  # DigitsConfig


# --- trainer, tracking, the whole job -------------------------------------------------------
@dataclass
class TrainerConfig:
    steps: int = 2000
    batch_size: int = 100
    eval_every: int = 100
    internals_every: int = 5
    divergence_factor: float = 1e3
    checkpoint_every: int = 0
    progress: bool = True

    def __post_init__(self):
        for key in ("steps", "batch_size", "eval_every", "internals_every", "divergence_factor"):
            _positive("trainer", key, getattr(self, key))
        _check(
            self.checkpoint_every >= 0,
            "trainer.checkpoint_every",
            self.checkpoint_every,
            "must be >= 0 (0 turns checkpoints off)",
        )


@dataclass
class TrackingConfig:
    """Where and how a job is tracked; ``uri: null`` means the project's embedded store.

    ``tags`` are extra run tags (e.g. ``{phase: tune}``); ``parent_run_id`` files the job, or
    every job of a sweep, under an existing parent run (the tuning protocol links its phases so).
    """

    enabled: bool = True
    uri: str | None = None
    experiment: str = "optimizer-lab"
    metric_every: int = 0
    force: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None

    def __post_init__(self):
        _check(bool(self.experiment), "tracking.experiment", self.experiment, "must not be empty")
        _check(
            self.metric_every >= 0,
            "tracking.metric_every",
            self.metric_every,
            "must be >= 0 (0: the stride that keeps harness.tracking.sink.UI_POINTS per curve)",
        )
        for key in self.tags:
            _check(
                not key.startswith("mlflow."),
                f"tracking.tags.{key}",
                self.tags[key],
                "tag names starting with 'mlflow.' are reserved",
            )


@dataclass
class Config:
    optimizer: OptimizerConfig = field(default_factory=OPTIMIZER_CONFIGS["rmsprop"])
    model: ModelConfig = field(default_factory=MLPConfig)
    dataset: DatasetConfig = field(default_factory=DATASET_CONFIGS["digits"])
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    lr_scale: float = 1.0
    study: str = "adhoc"

    def __post_init__(self):
        _check(self.seed >= 0, "seed", self.seed, "must be an integer >= 0")
        _check(self.lr_scale > 0, "lr_scale", self.lr_scale, "must be > 0")
        check_task(self.model.name, self.dataset.name)


def check_task(model: str, dataset: str) -> None:
    """Refuse a data set that poses another task than the one the model solves.

    >>> check_task("linear", "digits")
    Traceback (most recent call last):
    ...
    harness.core.errors.ConfigError: dataset='digits': poses classification but model=linear solves regression; allowed with model=linear: dataset=linreg
    """  # noqa: E501
    tasks = dataset_tasks()
    solves = MODEL_TASKS[model]
    allowed = ",".join(sorted(name for name, task in tasks.items() if task == solves))
    _check(
        tasks[dataset] == solves,
        "dataset",
        dataset,
        f"poses {tasks[dataset]} but model={model} solves {solves};"
        f" allowed with model={model}: dataset={allowed}",
    )


def dataset_tasks() -> dict[str, str]:
    """What each data set poses, ``none`` included."""
    return {name: loader.task for name, loader in DATASETS.items()} | {NO_DATA: NO_DATA_TASK}
