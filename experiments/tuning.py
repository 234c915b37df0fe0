"""A fair-comparison protocol: equal tuning budgets, selection on validation, fresh verdict seeds.

Every optimizer ("arm") gets the same number of trials over its own search space: the learning
rate, and optionally any other hyperparameter its class lets a search space
(``harness.core.optim.spec``): a step size on a log scale, a decay rate (RMSprop's α, AdaDelta's ρ,
Adam's β) on a log scale of ``1 − α``, so 0.9, 0.99 and 0.999 are evenly spaced. Trials are a
log-spaced **grid** or **quasi-random** points (a scrambled Halton sequence, as AlgoPerf draws
its trials), both seeded. Each trial runs on the tuning seeds; the arm's setting is the trial
with the best mean validation criterion; the **verdict** re-runs that setting on fresh seeds
that no trial used (DeepOBS's protocol).

A protocol is a YAML file in ``experiments/protocols/`` (``load_protocol``); an arm is named by
its ``conf/optimizer`` option, so ``rmsprop_a0.9`` tunes RMSprop's lr at a fixed decay rate and
``rmsprop`` with a ``decay_rate`` range searches both. ``python -m experiments.tune`` runs a
protocol; ``analysis.tuning`` selects, judges and reports.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from scipy.stats import qmc

from harness.core.optim import OPTIMIZERS, Optimizer
from harness.tracking.store import PROJECT_ROOT

SEARCHES = ("grid", "halton")
#: Lower is better for each; ``time_to_target`` is the first step with val_loss <= ``target``.
CRITERIA = ("final_val_loss", "best_val_loss", "time_to_target")
TUNING_DIR = Path(__file__).resolve().parent / "protocols"
OPTIMIZER_CONF = PROJECT_ROOT / "conf" / "optimizer"


@dataclass(frozen=True)
class Arm:
    """One optimizer to tune: a ``conf/optimizer`` option and its search space.

    ``space`` maps each searched hyperparameter to ``(low, high)``; ``lr`` first, always. Each
    must be one its class searches, with both ends in its range (``harness.core.optim.spec``).

    >>> Arm("rmsprop", {"lr": (1e-4, 1e-2), "decay_rate": (0.9, 1.0)})
    Traceback (most recent call last):
    ...
    ValueError: tuning.arms.rmsprop.decay_rate=[0.9, 1.0]: needs low <= high, both must be in [0, 1)
    """

    optimizer: str
    space: dict[str, tuple[float, float]]

    def __post_init__(self):
        spec = optimizer_class(self.optimizer).hyperparameters
        searched = [name for name, h in spec.items() if h.search]
        if list(self.space)[:1] != ["lr"] or not set(self.space) <= set(searched):
            raise ValueError(
                f"tuning.arms.{self.optimizer}: needs lr: [low, high] first, then any of "
                f"{', '.join(searched[1:]) or 'nothing'}; got {', '.join(self.space)}"
            )
        for name, (low, high) in self.space.items():
            h = spec[name]
            if not (h.allows(low) and h.allows(high) and low <= high):
                raise ValueError(
                    f"tuning.arms.{self.optimizer}.{name}={[low, high]}: needs low <= high, "
                    f"both {h.allowed()}"
                )


def optimizer_class(option: str) -> type[Optimizer]:
    """The class a ``conf/optimizer`` option configures: its defaults lead to ``<name>_schema``.

    >>> optimizer_class("rmsprop_a0.9").__name__
    'RMSprop'
    """
    name = option
    while not name.endswith("_schema"):
        path = OPTIMIZER_CONF / f"{name}.yaml"
        if not path.is_file():
            raise ValueError(f"tuning.arms.{option}: no conf/optimizer/{name}.yaml")
        defaults = OmegaConf.load(path).get("defaults") or []
        name = next(str(d) for d in defaults if str(d) != "_self_")
    return OPTIMIZERS[name.removesuffix("_schema")]


@dataclass(frozen=True)
class Protocol:
    """A tuning study: the arms, their shared budget, the seeds, and where the trials run.

    ``preset`` is the ``conf/experiment`` option the trials run under and ``overrides`` the
    extra Hydra overrides; ``experiment`` is the MLflow experiment; ``budgets`` are the smaller
    budgets the report's sensitivity table re-selects with (subsets of the trials run).
    """

    arms: tuple[Arm, ...]
    budget: int = 8
    search: str = "halton"
    tune_seeds: tuple[int, ...] = (0, 1)
    verdict_seeds: tuple[int, ...] = (1000, 1001, 1002, 1003, 1004)
    criterion: str = "final_val_loss"
    target: float | None = None
    sampler_seed: int = 0
    name: str = "tuning"
    preset: str = "stall"
    overrides: tuple[str, ...] = ()
    experiment: str = "tuning"
    budgets: tuple[int, ...] = (4, 8, 16)

    def __post_init__(self):
        if self.search not in SEARCHES:
            raise ValueError(f"tuning.search={self.search!r}: must be one of {', '.join(SEARCHES)}")
        if self.budget < 1:
            raise ValueError(f"tuning.budget={self.budget}: must be >= 1")
        if self.criterion not in CRITERIA:
            raise ValueError(
                f"tuning.criterion={self.criterion!r}: must be one of {', '.join(CRITERIA)}"
            )
        if self.criterion == "time_to_target" and self.target is None:
            raise ValueError("tuning.target: time_to_target needs a val_loss target")
        names = [arm.optimizer for arm in self.arms]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"tuning.arms={names}: needs at least one arm, each named once")
        if not self.tune_seeds or not self.verdict_seeds:
            raise ValueError("tuning.tune_seeds and tuning.verdict_seeds must not be empty")
        if any(b < 1 for b in self.budgets):
            raise ValueError(f"tuning.budgets={list(self.budgets)}: must be >= 1")
        overlap = set(self.tune_seeds) & set(self.verdict_seeds)
        if overlap:
            raise ValueError(
                f"tuning.verdict_seeds={list(self.verdict_seeds)}: must not reuse tuning seeds "
                f"{sorted(overlap)}"
            )
        for arm in self.arms:  # a 2-D grid needs a square budget: fail before any run
            self.trials(arm)

    def trials(self, arm: Arm) -> list[dict[str, float]]:
        """The arm's trials, the same on every call (the sampler is seeded)."""
        return arm_trials(arm, self.budget, self.search, self.sampler_seed)

    def arm(self, name: str) -> Arm:
        return next(arm for arm in self.arms if arm.optimizer == name)

    def key(self) -> str:
        """Same protocol → same key → the same parent run (a rerun resumes it).

        An arm hashes as ``{optimizer, lr, decay_rate, …}``, the fields ``Arm`` had before it
        took any searched hyperparameter, so protocols of that time keep their parent runs.
        """
        tree = asdict(self)
        tree["arms"] = [
            {"optimizer": arm.optimizer, "decay_rate": None, **arm.space} for arm in self.arms
        ]
        text = json.dumps(tree, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_protocol(source: str | Path, **changes) -> Protocol:
    """A protocol from ``experiments/protocols/<source>.yaml`` or a path; ``changes`` override it.

    >>> protocol = load_protocol("stall", budget=4)
    >>> protocol.budget, [arm.optimizer for arm in protocol.arms][:2]
    (4, ['adagrad', 'rmsprop'])
    """
    path = Path(source)
    if path.suffix not in (".yaml", ".yml"):
        path = TUNING_DIR / f"{source}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TUNING_DIR.glob("*.yaml")))
        raise ValueError(f"tuning={source!r}: no such protocol; known: {known}")
    tree = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    allowed = {f for f in Protocol.__dataclass_fields__ if f != "name"}
    unknown = sorted(set(tree) - allowed)
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    arms = tuple(_to_arm(name, space or {}) for name, space in (tree.pop("arms") or {}).items())
    tree = {k: tuple(v) if isinstance(v, list) else v for k, v in tree.items()}
    protocol = Protocol(arms=arms, name=path.stem, **tree)
    return replace(protocol, **changes) if changes else protocol


def _to_arm(name: str, space: dict) -> Arm:
    ordered = {"lr": space["lr"]} if "lr" in space else {}
    ordered |= {key: bounds for key, bounds in space.items() if key != "lr"}
    return Arm(name, {key: tuple(bounds) for key, bounds in ordered.items()})


def unit_points(budget: int, dims: int, search: str, seed: int) -> np.ndarray:
    """``budget`` points in [0, 1]^dims: a grid (per axis) or a scrambled Halton sequence.

    >>> unit_points(3, 1, "grid", 0).ravel().tolist()
    [0.0, 0.5, 1.0]
    >>> unit_points(5, 2, "halton", 0).shape
    (5, 2)
    """
    if search == "halton":
        return qmc.Halton(d=dims, scramble=True, seed=seed).random(budget)
    per_axis = max(1, round(budget ** (1 / dims)))
    if per_axis**dims != budget:
        raise ValueError(f"tuning.budget={budget}: a {dims}-D grid needs a perfect power")
    axis = np.linspace(0.0, 1.0, per_axis) if per_axis > 1 else np.array([0.5])
    mesh = np.meshgrid(*[axis] * dims, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _log_scale(unit: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.exp(math.log(low) + unit * (math.log(high) - math.log(low)))


def arm_trials(arm: Arm, budget: int, search: str, seed: int) -> list[dict[str, float]]:
    """The arm's ``budget`` trials as override values: ``{"optimizer.lr": …, …}``.

    >>> trials = arm_trials(Arm("adagrad", {"lr": (1e-3, 1e-1)}), 3, "grid", 0)
    >>> [round(t["optimizer.lr"], 6) for t in trials]
    [0.001, 0.01, 0.1]
    >>> trials = arm_trials(Arm("adadelta", {"lr": (1, 1), "rho": (0.9, 0.999)}), 9, "grid", 0)
    >>> sorted({t["optimizer.rho"] for t in trials})  # evenly spaced in log(1 − ρ)
    [0.9, 0.99, 0.999]
    """
    spec = optimizer_class(arm.optimizer).hyperparameters
    unit = unit_points(budget, len(arm.space), search, seed)
    columns = {}
    for i, (name, (low, high)) in enumerate(arm.space.items()):
        if spec[name].search == "log1m":  # 1 − α on a log scale
            values = 1 - _log_scale(unit[:, i], 1 - high, 1 - low)
            columns[f"optimizer.{name}"] = [float(f"{v:.6g}") for v in values]
        else:
            values = _log_scale(unit[:, i], low, high)
            columns[f"optimizer.{name}"] = [float(f"{v:.4g}") for v in values]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
