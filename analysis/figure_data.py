"""What each figure draws: the runs it selects and the seeds behind each line.

The figures (:mod:`analysis.figures`) and their captions (:mod:`analysis.captions`) both read
these, so a caption cannot describe other runs than the figure shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import select_best_groups
from harness.core.optim import OPTIMIZERS, Optimizer

__all__ = [
    "NOT_ADAPTIVE",
    "adaptive_runs",
    "best_by_problem",
    "has_metric",
    "has_quantiles",
    "rmsprop_grid_runs",
    "seed_counts",
    "shift_steps",
    "with_ok",
]

#: Optimizers whose step has no adaptive accumulator (their effective step is lr).
NOT_ADAPTIVE = frozenset(
    name for name, cls in OPTIMIZERS.items() if cls.accumulator is Optimizer.accumulator
)


def has_metric(curves: pd.DataFrame, metric: str) -> bool:
    """Whether any run of the long ``curves`` table recorded ``metric``."""
    return metric in curves["metric"].cat.categories and bool((curves["metric"] == metric).any())


def seed_counts(curves: pd.DataFrame, runs: pd.DataFrame, metric: str) -> pd.Series:
    """Group → number of its runs with at least one finite value of ``metric``."""
    sub = curves.loc[curves["metric"] == metric, ["run_id", "value"]]
    ids = set(sub.loc[np.isfinite(sub["value"]), "run_id"])
    return runs[runs["run_id"].isin(ids)].groupby("group").size()


def shift_steps(runs: pd.DataFrame) -> list[float]:
    """The distinct ``dataset.shift_step`` values of ``runs`` (a dotted line each)."""
    if "dataset.shift_step" not in runs:
        return []
    return sorted(pd.to_numeric(runs["dataset.shift_step"], errors="coerce").dropna().unique())


def best_by_problem(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per problem, the runs of each label's best-tuned group."""
    chosen = runs[runs["group"].isin(select_best_groups(runs))]
    return [(problem, part) for problem, part in chosen.groupby("problem", sort=True)]


def adaptive_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of optimizers with an adaptive accumulator (SGD, Momentum, Nesterov left out)."""
    return runs[~runs["optimizer"].isin(NOT_ADAPTIVE)]


def has_quantiles(curves: pd.DataFrame) -> bool:
    """Whether the effective step's p10 and p90 over the parameters were recorded."""
    return has_metric(curves, "effective_lr_p10") and has_metric(curves, "effective_lr_p90")


def with_ok(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``runs`` with an ``ok`` column: finished, not diverged, and ``metric`` finite."""
    ok = (runs["status"] == "FINISHED") & ~runs["diverged"] & np.isfinite(runs[metric])
    return runs.assign(ok=ok)


def rmsprop_grid_runs(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Finished, non-diverged RMSprop runs of the problems with at least two grid cells."""
    needed = {"optimizer.lr", "optimizer.decay_rate", metric}
    data = with_ok(runs, metric) if needed <= set(runs.columns) else runs.iloc[:0]
    data = data[(data["optimizer"] == "rmsprop") & data["ok"]] if len(data) else data
    cells = data.drop_duplicates(["problem", "optimizer.lr", "optimizer.decay_rate"])
    problems = {p for p, n in cells["problem"].value_counts().items() if n >= 2}
    return data[data["problem"].isin(problems)]
