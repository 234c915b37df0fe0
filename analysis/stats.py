"""Statistics of a study per configuration (``group``: one config, several seeds).

Conventions, also stated in the report:

- **Confidence intervals** are Student-t intervals over seeds, ``mean ± t(0.975, n-1) s / sqrt(n)``
  (95 % by default), computed per step for curves. They assume roughly normal seed-to-seed
  spread, are exact for small n under that assumption and cost nothing; a bootstrap needs more
  seeds than a sweep usually has. Non-finite values (a diverged step) are left out; a group
  with one seed has no interval (nan).
- **Time to target** (AlgoPerf's rule): per problem (``dataset/model``), the target is
  ``best_final * (1 + rel)`` (``rel = 0.05``), best_final being the best configuration's median
  final value over its finished, non-diverged seeds (robust to one lucky seed; with one seed per
  configuration it is the best run's); or, with ``quantile=q``, the q-quantile of the finals of
  all finished, non-diverged runs. A run's time is
  the first step at or below it; never reached, diverged or not FINISHED is ``inf``. train_loss is
  minibatch-noisy, so it is first smoothed (trailing mean over 2 % of the run).
- **Decay exponent**: slope of log(effective_lr_median) against log(step) over the second half.
- **Stall step**: on the smoothed train_loss, the first step from which the improvement over the
  next 10 % of the run stays below 1 % while the loss stays above the train-loss target.
- **Recovery time**: for runs with ``dataset.shift_step``, the steps after the shift until the
  smoothed train_loss (smoothed separately on each side of the shift) is back at its pre-shift
  level; never is ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis import series as ss
from analysis.contract import OPTIMIZER_ORDER
from analysis.curves import to_long_table
from analysis.load import param_columns

__all__ = [
    "iter_series",
    "select_best_groups",
    "t_interval",
    "to_curve_ci",
    "to_decay_exponents",
    "to_end_of_training",
    "to_group_summary",
    "to_group_table",
    "to_performance_profile",
    "to_recovery_times",
    "to_smoothed_curves",
    "to_stall_steps",
    "to_time_to_target",
]

CI_LEVEL = 0.95
TARGET_REL = 0.05
SMOOTH_FRACTION = 0.02
STALL_WINDOW_FRACTION = 0.1
STALL_THRESHOLD = 0.01
END_METRICS = ("final_val_loss", "best_val_loss", "final_val_accuracy", "best_val_accuracy")
RUN_COLUMNS = ["run_id", "group", "label", "problem", "seed"]


def t_interval(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval of the finite values (nan if fewer than 2).

    >>> mean, half = t_interval([1.0, 2.0, 3.0])
    >>> mean, round(half, 4)
    (2.0, 2.4841)
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    if finite.size == 1:
        return float(finite[0]), math.nan
    half = sps.t.ppf((1 + level) / 2, finite.size - 1) * finite.std(ddof=1) / math.sqrt(finite.size)
    return float(finite.mean()), float(half)


def iter_series(curves: pd.DataFrame, metric: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(run_id, steps, values)`` for every run that recorded ``metric``."""
    sub = curves[curves["metric"] == metric]
    for run_id, part in sub.groupby("run_id", observed=True, sort=False):
        order = np.argsort(part["step"].to_numpy(), kind="stable")
        yield str(run_id), part["step"].to_numpy()[order], part["value"].to_numpy()[order]


def to_curve_ci(
    curves: pd.DataFrame, runs: pd.DataFrame, metric: str, level: float = CI_LEVEL
) -> pd.DataFrame:
    """Per group and step: ``mean``, t-interval ``lo``/``hi`` and ``n`` seeds of ``metric``."""
    sub = curves.loc[curves["metric"] == metric, ["run_id", "step", "value"]]
    sub = sub[np.isfinite(sub["value"])]
    groups = runs.set_index("run_id")["group"]
    group_of_code = pd.Index(sub["run_id"].cat.categories).map(groups).to_numpy(dtype=object)
    sub = sub.assign(group=group_of_code[sub["run_id"].cat.codes.to_numpy()])
    agg = sub.groupby(["group", "step"], observed=True)["value"].agg(["mean", "std", "count"])
    n = agg["count"].to_numpy()
    with np.errstate(invalid="ignore"):
        t = sps.t.ppf((1 + level) / 2, np.where(n > 1, n - 1, np.nan))
        half = t * agg["std"].to_numpy() / np.sqrt(n)
    out = agg.reset_index().rename(columns={"count": "n"}).drop(columns="std")
    out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
    labels = runs.drop_duplicates("group").set_index("group")["label"]
    out.insert(1, "label", out["group"].map(labels))
    return out[["group", "label", "step", "mean", "lo", "hi", "n"]]


def to_group_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per group: label, problem, the params that vary between groups, run counts."""
    shown_elsewhere = {"seed", "optimizer.name", "dataset.name", "model.name"}  # label, problem
    swept = [
        col
        for col in param_columns(runs)
        if col not in shown_elsewhere and runs[col].nunique(dropna=True) > 1
    ]
    described = [c for c in ("label", "optimizer", "problem") if c in runs] + swept
    first = runs.groupby("group", sort=False)[described].first()
    counts = runs.groupby("group", sort=False).agg(
        n_runs=("run_id", "size"),
        n_diverged=("diverged", "sum"),
        n_failed=("status", lambda s: int((s != "FINISHED").sum())),
    )
    table = first.join(counts).reset_index()
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    order = table.get("optimizer", table["label"]).map(rank).fillna(len(rank)).rename("_rank")
    keys = [c for c in ("problem", "_rank", "label", *swept) if c in table or c == "_rank"]
    return (
        table.join(order)
        .sort_values(keys, kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def to_end_of_training(runs: pd.DataFrame, level: float = CI_LEVEL) -> pd.DataFrame:
    """Per group: mean and t-interval half-width of final/best val loss and accuracy.

    Only finished, non-diverged runs enter the means; ``n_diverged``/``n_failed`` count the rest.
    """
    table = to_group_table(runs)
    ok = runs[(runs["status"] == "FINISHED") & ~runs["diverged"]]
    for metric in (m for m in END_METRICS if m in runs.columns):
        stats = ok.groupby("group")[metric].apply(lambda v: t_interval(v.to_numpy(), level))
        table[f"{metric}_mean"] = table["group"].map(stats.str[0])
        table[f"{metric}_ci"] = table["group"].map(stats.str[1])
    return table


def select_best_groups(runs: pd.DataFrame, metric: str = "final_val_loss") -> list[str]:
    """The best-tuned group of each label and problem: fewest diverged/failed, then lowest mean."""
    table = to_end_of_training(runs)
    score = f"{metric}_mean"
    table["bad"] = table["n_diverged"] + table["n_failed"]
    if score not in table:
        table[score] = np.nan
    table = table.sort_values(["bad", score], na_position="last", kind="stable")
    return table.drop_duplicates(["problem", "label"])["group"].tolist()


def _run_length(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.Series:
    """Planned steps per run (``trainer.steps``), else the last recorded step."""
    last = curves.groupby("run_id", observed=True)["step"].max()
    length = runs["run_id"].map(last).astype("float64")
    if "trainer.steps" in runs:
        length = pd.to_numeric(runs["trainer.steps"], errors="coerce").fillna(length)
    return pd.Series(length.to_numpy(), index=runs["run_id"])


def _smoothed(
    curves: pd.DataFrame, runs: pd.DataFrame, metric: str, fraction: float, reset: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    length = _run_length(runs, curves)
    shifts = _shift_steps(runs)
    out = {}
    for run_id, steps, values in iter_series(curves, metric):
        reset_at = shifts.get(run_id) if reset else None
        window = fraction * length.get(run_id, steps[-1])
        out[run_id] = (steps, ss.smooth(steps, values, window, reset_at) if window else values)
    return out


def to_smoothed_curves(
    curves: pd.DataFrame, runs: pd.DataFrame, metric: str, fraction: float = SMOOTH_FRACTION
) -> pd.DataFrame:
    """The long table of ``metric`` for ``runs``, each run smoothed by a trailing mean over
    ``fraction`` of its length (for plotting the minibatch-noisy train loss)."""
    mine = curves[(curves["metric"] == metric) & curves["run_id"].isin(runs["run_id"])]
    smoothed = _smoothed(mine, runs, metric, fraction)
    return to_long_table(list(smoothed), [{metric: pair} for pair in smoothed.values()])


def _shift_steps(runs: pd.DataFrame) -> dict[str, float]:
    if "dataset.shift_step" not in runs:
        return {}
    shift = pd.to_numeric(runs["dataset.shift_step"], errors="coerce")
    return {r: float(s) for r, s in zip(runs["run_id"], shift, strict=True) if pd.notna(s)}


def _per_run(runs: pd.DataFrame, **columns: dict[str, float]) -> pd.DataFrame:
    table = runs[RUN_COLUMNS].copy()
    for name, values in columns.items():
        table[name] = table["run_id"].map(values).astype("float64")
    return table.reset_index(drop=True)


def to_time_to_target(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    metric: str = "val_loss",
    rel: float = TARGET_REL,
    quantile: float | None = None,
    smooth_fraction: float | None = None,
) -> pd.DataFrame:
    """Per run: the problem's ``target``, the run's ``final`` value and ``time_to_target`` step.

    ``smooth_fraction`` defaults to 0.02 for train metrics and 0 (raw) for validation ones.
    """
    if smooth_fraction is None:
        smooth_fraction = SMOOTH_FRACTION if metric.startswith("train") else 0.0
    curves_by_run = _smoothed(curves, runs, metric, smooth_fraction)
    final = {r: float(v[-1]) for r, (_, v) in curves_by_run.items()}
    table = _per_run(runs, final=final)
    ok = (runs["status"] == "FINISHED").to_numpy() & ~runs["diverged"].to_numpy()
    table["final"] = table["final"].where(ok & np.isfinite(table["final"]))
    if quantile is None:
        medians = table.groupby(["problem", "group"])["final"].median()
        best = medians.groupby(level="problem").min() * (1 + rel)
    else:
        best = table.groupby("problem")["final"].quantile(quantile)
    table["target"] = table["problem"].map(best)
    times = [
        ss.time_to_target(*curves_by_run[r], t) if good and r in curves_by_run else math.inf
        for r, t, good in zip(table["run_id"], table["target"], ok, strict=True)
    ]
    table["time_to_target"] = times
    return table


def to_decay_exponents(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    metric: str = "effective_lr_median",
    start_fraction: float = 0.5,
) -> pd.DataFrame:
    """Per run: the log-log slope of ``metric`` over the second half of training."""
    slopes = {
        run_id: ss.decay_exponent(steps, values, start_fraction)
        for run_id, steps, values in iter_series(curves, metric)
    }
    return _per_run(runs, decay_exponent=slopes)


def to_stall_steps(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    rel: float = TARGET_REL,
    window_fraction: float = STALL_WINDOW_FRACTION,
    threshold: float = STALL_THRESHOLD,
    smooth_fraction: float = SMOOTH_FRACTION,
) -> pd.DataFrame:
    """Per run: the stall step of the smoothed train_loss (nan: no stall, diverged or failed)."""
    targets = to_time_to_target(curves, runs, "train_loss", rel, None, smooth_fraction)
    target = dict(zip(targets["run_id"], targets["target"], strict=True))
    length = _run_length(runs, curves)
    ok = set(runs.loc[(runs["status"] == "FINISHED") & ~runs["diverged"], "run_id"])
    stalls = {
        run_id: ss.stall_step(
            steps, values, target[run_id], window_fraction * length[run_id], threshold
        )
        for run_id, (steps, values) in _smoothed(
            curves, runs, "train_loss", smooth_fraction
        ).items()
        if run_id in ok
    }
    table = _per_run(runs, stall_step=stalls)
    table["target"] = table["run_id"].map(target)
    return table


def to_recovery_times(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    smooth_fraction: float = SMOOTH_FRACTION,
    tolerance: float = 0.0,
) -> pd.DataFrame:
    """Per non-stationary run: steps from ``dataset.shift_step`` back to the pre-shift loss."""
    shifts = _shift_steps(runs)
    smoothed = _smoothed(curves, runs, "train_loss", smooth_fraction, reset=True)
    times = {
        run_id: ss.recovery_time(*smoothed[run_id], shift, tolerance)
        if run_id in smoothed
        else math.inf
        for run_id, shift in shifts.items()
    }
    table = _per_run(runs[runs["run_id"].isin(shifts)], recovery_time=times)
    table["shift_step"] = table["run_id"].map(shifts)
    return table


def to_group_summary(per_run: pd.DataFrame, column: str, level: float = CI_LEVEL) -> pd.DataFrame:
    """Per group: ``n``, ``n_inf`` (infinite), inf-aware ``median``, finite ``mean`` ± ``ci``."""
    rows = []
    for (group, label, problem), part in per_run.groupby(["group", "label", "problem"], sort=False):
        values = part[column].to_numpy(dtype=np.float64)
        mean, half = t_interval(values, level)
        defined = values[~np.isnan(values)]
        rows.append(
            {
                "group": group,
                "label": label,
                "problem": problem,
                "n": values.size,
                "n_inf": int(np.isinf(values).sum()),
                "median": float(np.median(defined)) if defined.size else math.nan,
                "mean": mean,
                "ci": half,
            }
        )
    return pd.DataFrame(
        rows, columns=["group", "label", "problem", "n", "n_inf", "median", "mean", "ci"]
    )


def to_performance_profile(
    time_to_target: pd.DataFrame, taus: Sequence[float] | None = None
) -> pd.DataFrame:
    """Dolan–Moré profile: per label, the fraction of problems solved within τ × the fastest.

    A label's time on a problem is the median over seeds of its best-tuned group; the ratio to
    the fastest label on that problem is inf when it never reaches the target.
    """
    per_group = time_to_target.groupby(["problem", "label", "group"])["time_to_target"].median()
    best = per_group.groupby(["problem", "label"]).min().unstack("label")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = best.div(best.min(axis=1), axis=0).replace(np.nan, np.inf)
    if taus is None:
        finite = ratio.to_numpy()[np.isfinite(ratio.to_numpy())]
        taus = np.geomspace(1, max(2.0, finite.max() * 1.2 if finite.size else 2.0), 60)
    rows = [
        {"label": label, "tau": tau, "fraction": float((ratio[label] <= tau).mean())}
        for label in ratio.columns
        for tau in taus
    ]
    return pd.DataFrame(rows)
