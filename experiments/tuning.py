"""A fair-comparison protocol: equal tuning budgets, selection on validation, fresh verdict seeds.

Every optimizer ("arm") gets the same number of trials over its own search space: the learning
rate on a log scale, and for RMSprop optionally the decay rate, on a log scale of ``1 − α``
(so 0.9, 0.99 and 0.999 are evenly spaced). Trials are a log-spaced **grid** or **quasi-random**
points (a scrambled Halton sequence, as AlgoPerf draws its trials), both seeded. Each trial runs
on the tuning seeds; the arm's setting is the trial with the best mean validation criterion;
the **verdict** re-runs that setting on fresh seeds that no trial used (DeepOBS's protocol).

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
from scipy.stats import qmc

SEARCHES = ("grid", "halton")
#: Lower is better for each; ``time_to_target`` is the first step with val_loss <= ``target``.
CRITERIA = ("final_val_loss", "best_val_loss", "time_to_target")
TUNING_DIR = Path(__file__).resolve().parent / "protocols"


@dataclass(frozen=True)
class Arm:
    """One optimizer to tune: a ``conf/optimizer`` option and its search space."""

    optimizer: str
    lr: tuple[float, float]
    decay_rate: tuple[float, float] | None = None

    def __post_init__(self):
        low, high = self.lr
        if not 0 < low <= high:
            raise ValueError(
                f"tuning.arms.{self.optimizer}.lr={list(self.lr)}: needs 0 < low <= high"
            )
        if self.decay_rate is not None:
            low, high = self.decay_rate
            if not 0 <= low <= high < 1:
                raise ValueError(
                    f"tuning.arms.{self.optimizer}.decay_rate={list(self.decay_rate)}: "
                    "needs 0 <= low <= high < 1"
                )


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
        """Same protocol → same key → the same parent run (a rerun resumes it)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_protocol(source: str | Path, **changes) -> Protocol:
    """A protocol from ``experiments/protocols/<source>.yaml`` or a path; ``changes`` override it.

    >>> protocol = load_protocol("stall", budget=4)
    >>> protocol.budget, [arm.optimizer for arm in protocol.arms][:2]
    (4, ['adagrad', 'rmsprop'])
    """
    from omegaconf import OmegaConf

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
    unknown = sorted(set(space) - {"lr", "decay_rate"})
    if unknown or "lr" not in space:
        raise ValueError(f"tuning.arms.{name}: needs lr: [low, high], may have decay_rate only")
    decay = space.get("decay_rate")
    return Arm(name, tuple(space["lr"]), tuple(decay) if decay else None)


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

    >>> trials = arm_trials(Arm("adagrad", (1e-3, 1e-1)), 3, "grid", 0)
    >>> [round(t["optimizer.lr"], 6) for t in trials]
    [0.001, 0.01, 0.1]
    """
    dims = 2 if arm.decay_rate else 1
    unit = unit_points(budget, dims, search, seed)
    trials = [{"optimizer.lr": float(f"{lr:.4g}")} for lr in _log_scale(unit[:, 0], *arm.lr)]
    if arm.decay_rate:
        low, high = arm.decay_rate
        one_minus = _log_scale(unit[:, 1], 1 - high, 1 - low)  # 1 − α on a log scale
        for trial, om in zip(trials, one_minus, strict=True):
            trial["optimizer.decay_rate"] = float(f"{1 - om:.6g}")
    return trials
