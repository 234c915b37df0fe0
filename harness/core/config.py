"""Typed configuration: one dataclass per config-group option, validated on construction.

The same dataclasses are Hydra's schemas (registered in ``harness.cli.schemas``) and the plain
config object that ``harness.core.train.train`` takes, so a job built in a test and a job composed
from ``conf/`` are checked by the same code. Every range check raises ``ConfigError`` with one
line naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


class ConfigError(ValueError):
    """A bad config value: ``key=value: what is allowed`` in one line."""

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: {allowed}")


def _check(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(key, value, allowed)


def _positive(group: str, name: str, value) -> None:
    _check(value > 0, f"{group}.{name}", value, "must be > 0")


def _unit_interval(group: str, name: str, value) -> None:
    _check(0 <= value < 1, f"{group}.{name}", value, "must be in [0, 1)")


def _one_of(key: str, value, allowed) -> None:
    _check(value in allowed, key, value, "must be one of: " + ", ".join(map(str, allowed)))


# --- optimizer ------------------------------------------------------------------------------
@dataclass
class OptimizerConfig:
    name: str = "sgd"
    lr: float = 0.01

    def __post_init__(self):
        from harness.core.optim import OPTIMIZERS

        _one_of("optimizer.name", self.name, list(OPTIMIZERS))
        _positive("optimizer", "lr", self.lr)
        for f in fields(self):
            if f.name in ("eps",):
                _positive("optimizer", f.name, getattr(self, f.name))
            if f.name in ("momentum", "decay_rate", "beta1", "beta2"):
                _unit_interval("optimizer", f.name, getattr(self, f.name))

    def hyperparams(self) -> dict[str, float]:
        """Keyword arguments for the optimizer class."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


@dataclass
class SGDConfig(OptimizerConfig):
    name: str = "sgd"


@dataclass
class MomentumConfig(OptimizerConfig):
    name: str = "momentum"
    momentum: float = 0.9


@dataclass
class NesterovConfig(OptimizerConfig):
    name: str = "nesterov"
    momentum: float = 0.9


@dataclass
class AdagradConfig(OptimizerConfig):
    name: str = "adagrad"
    eps: float = 1e-7


@dataclass
class RMSpropConfig(OptimizerConfig):
    name: str = "rmsprop"
    decay_rate: float = 0.99
    eps: float = 1e-7


@dataclass
class AdamConfig(OptimizerConfig):
    name: str = "adam"
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


OPTIMIZER_CONFIGS: dict[str, type[OptimizerConfig]] = {
    "sgd": SGDConfig,
    "momentum": MomentumConfig,
    "nesterov": NesterovConfig,
    "adagrad": AdagradConfig,
    "rmsprop": RMSpropConfig,
    "adam": AdamConfig,
}


# --- model ----------------------------------------------------------------------------------
@dataclass
class ModelConfig:
    name: str = "mlp"

    def __post_init__(self):
        from harness.core.models import MODELS

        _one_of("model.name", self.name, list(MODELS))

    def options(self) -> dict:
        """Keyword arguments for ``harness.core.models.build_model``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}

    @property
    def is_2d(self) -> bool:
        return self.name in ("quadratic2d", "rosenbrock", "beale")


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
        _check(
            self.is_2d,
            "model.name",
            self.name,
            "a 2-D function model needs one of: quadratic2d, rosenbrock, beale",
        )
        if self.start is not None:
            _check(len(self.start) == 2, "model.start", self.start, "must be [x, y]")


# --- dataset --------------------------------------------------------------------------------
#: ``none`` is the unshifted control of a shift study: same config, same seed, no change, so
#: recovery is measured against the loss the run would have had (``analysis.stats``).
SHIFT_KINDS = ("scale_inputs", "permute_labels", "none")


@dataclass
class DatasetConfig:
    """A data set and its split; ``shift_step`` makes it non-stationary from that step on
    (``shift_kind=none``: a control that does not change)."""

    name: str = "digits"
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    shift_step: int | None = None
    shift_kind: str = "scale_inputs"
    shift_factor: float = 10.0

    def __post_init__(self):
        from harness.core.data import DATASETS

        _one_of("dataset.name", self.name, ["none", *DATASETS])
        _check(
            0 < self.val_fraction < 1,
            "dataset.val_fraction",
            self.val_fraction,
            "must be in (0, 1)",
        )
        _check(
            0 < self.test_fraction < 1,
            "dataset.test_fraction",
            self.test_fraction,
            "must be in (0, 1)",
        )
        if self.shift_step is not None:
            _positive("dataset", "shift_step", self.shift_step)
        _one_of("dataset.shift_kind", self.shift_kind, SHIFT_KINDS)
        _positive("dataset", "shift_factor", self.shift_factor)

    def options(self) -> dict:
        """Generator options for ``harness.core.data.load_dataset`` (beyond name, seed, split)."""
        common = {"name", "seed", "val_fraction", "test_fraction"}
        common |= {"shift_step", "shift_kind", "shift_factor"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in common}


@dataclass
class DigitsConfig(DatasetConfig):
    name: str = "digits"


@dataclass
class MNIST1DConfig(DatasetConfig):
    name: str = "mnist1d"
    num_samples: int = 5000

    def __post_init__(self):
        super().__post_init__()
        _positive("dataset", "num_samples", self.num_samples)


@dataclass
class SpiralsConfig(DatasetConfig):
    name: str = "spirals"
    n_samples: int = 1000
    noise: float = 0.2

    def __post_init__(self):
        super().__post_init__()
        _positive("dataset", "n_samples", self.n_samples)
        _check(self.noise >= 0, "dataset.noise", self.noise, "must be >= 0")


@dataclass
class BlobsConfig(DatasetConfig):
    name: str = "blobs"
    n_samples: int = 1000
    n_classes: int = 4
    n_features: int = 10
    cluster_std: float = 2.0

    def __post_init__(self):
        super().__post_init__()
        for key in ("n_samples", "n_classes", "n_features", "cluster_std"):
            _positive("dataset", key, getattr(self, key))


@dataclass
class LinregConfig(DatasetConfig):
    name: str = "linreg"
    n_samples: int = 1000
    n_features: int = 20
    condition_number: float = 100.0
    noise: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        for key in ("n_samples", "n_features"):
            _positive("dataset", key, getattr(self, key))
        _check(
            self.condition_number >= 1,
            "dataset.condition_number",
            self.condition_number,
            "must be >= 1",
        )


@dataclass
class NoDatasetConfig(DatasetConfig):
    """No data: the model is a 2-D function."""

    name: str = "none"


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
            "must be >= 0 (0 picks the stride that keeps the UI's copy of a curve short)",
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
    optimizer: OptimizerConfig = field(default_factory=RMSpropConfig)
    model: ModelConfig = field(default_factory=MLPConfig)
    dataset: DatasetConfig = field(default_factory=DigitsConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    lr_scale: float = 1.0
    study: str = "adhoc"

    def __post_init__(self):
        _check(self.seed >= 0, "seed", self.seed, "must be an integer >= 0")
        _check(self.lr_scale > 0, "lr_scale", self.lr_scale, "must be > 0")
        if self.model.is_2d:
            _check(
                self.dataset.name == "none",
                "dataset.name",
                self.dataset.name,
                f"model {self.model.name} is a 2-D function: use dataset=none",
            )
        else:
            _check(
                self.dataset.name != "none",
                "dataset.name",
                self.dataset.name,
                f"model {self.model.name} needs a data set",
            )
