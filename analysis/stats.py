"""Statistics of a study per configuration (``group``: one config, several seeds).

Conventions, also stated in the report:

- **Confidence intervals** are Student-t intervals over seeds, ``mean ± t(0.975, n-1) s / sqrt(n)``
  (95 % by default), computed per step for curves. They assume roughly normal seed-to-seed
  spread, are exact for small n under that assumption and cost nothing; a bootstrap needs more
  seeds than a sweep usually has. Non-finite values (a diverged step) are left out; a group
  with one seed has no interval (nan).
- **Time to target** (AlgoPerf's rule): per problem (``dataset/model``), the target is
  ``best_final * (1 + rel)`` (``rel = 0.05``), best_final being the lowest median final value
  among the configurations **whose seeds all finished without diverging** (a configuration
  with one survivor cannot set the bar); or, with ``quantile=q``, the q-quantile of the finals
  of all finished, non-diverged runs. A run's time is the first step at or below it; never
  reached, diverged or not FINISHED is ``inf``. Groups are summarized by the median and
  "k of n reached", never by a mean of the finite times. train_loss is minibatch-noisy, so it
  is first smoothed (trailing mean over 2 % of the run).
- **Decay exponent**: slope of log(effective step) against log(step) over the second half,
  from runs that finished without diverging, for the adaptive optimizers only (a fixed-step
  optimizer's "exponent" means nothing). RMSprop's h starts at 0 and is not bias-corrected, so
  its early steps look large; the exponent is measured on the bias-corrected step
  ``effective_lr · sqrt(1 - α^t)`` (α = 0.999 would otherwise show about -0.22 over 2000 steps
  from its warm-up alone).
- **Stall** (per run, then k of n seeds per configuration): the optimizer's own step shrinks
  (decay exponent below ``STALL_EXPONENT`` = -0.25, halfway between "not stopping" 0 and the
  jar's -0.5) while its smoothed train loss ends above the problem's train-loss target. A
  plateau of the loss alone (one seed's batch order flattening every arm) is not a stall.
- **Recovery time** (on the training loss, logged every step): for runs with
  ``dataset.shift_step``, against the unshifted control of the same configuration and seed
  (``dataset.shift_kind=none``). gap(t) = smoothed loss − control's smoothed loss (both smoothed
  with restart at the shift; zero before it, since both saw the same batches); the jump is
  the largest gap in the first smoothing window after the shift; recovery is the first step
  after that peak where the gap is back within ``RECOVERY_FRACTION`` (10 %) of the jump,
  counted from the shift. ``inf`` when never; undefined (nan, with a reason) when the shift is
  at or after the end, when it does not raise the loss, when the run, its control or either
  diverged, or when no control exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis import series as ss
from analysis.contract import OPTIMIZER_ORDER, SUMMARY_METRICS
from analysis.curves import to_long_table
from analysis.load import param_columns
from analysis.verdicts import mean_interval
from harness.core.optim import OPTIMIZERS, Optimizer

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
    "to_stall_summary",
    "clopper_pearson",
    "complete_groups",
    "finished_ok",
    "to_time_to_target",
]

CI_LEVEL = 0.95
TARGET_REL = 0.05
SMOOTH_FRACTION = 0.02
STALL_WINDOW_FRACTION = 0.1
STALL_THRESHOLD = 0.01
STALL_EXPONENT = -0.25
RECOVERY_FRACTION = 0.1
#: Optimizers with an accumulator (their own step size): from the optimizer classes.
ADAPTIVE = tuple(
    sorted(name for name, cls in OPTIMIZERS.items() if cls.accumulator is not Optimizer.accumulator)
)
END_METRICS = tuple(m for m in SUMMARY_METRICS if m != "diverged")
RUN_COLUMNS = ["run_id", "group", "label", "problem", "seed"]


def t_interval(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval of the finite values (nan if fewer than 2);
    :func:`analysis.verdicts.mean_interval` as ``(mean, half)``.

    >>> mean, half = t_interval([1.0, 2.0, 3.0])
    >>> mean, round(half, 4)
    (2.0, 2.4841)
    """
    interval = mean_interval(values, level)
    return interval.mean, interval.high - interval.mean


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


def finished_ok(runs: pd.DataFrame) -> np.ndarray:
    """Boolean mask of runs that FINISHED without diverging."""
    return (runs["status"] == "FINISHED").to_numpy() & ~runs["diverged"].to_numpy(dtype=bool)


def complete_groups(runs: pd.DataFrame) -> set[str]:
    """Groups every seed of which finished without diverging."""
    ok = pd.Series(finished_ok(runs), index=runs.index)
    return set(ok.groupby(runs["group"]).all().loc[lambda s: s].index)


def to_time_to_target(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    metric: str = "val_loss",
    rel: float = TARGET_REL,
    quantile: float | None = None,
    smooth_fraction: float | None = None,
) -> pd.DataFrame:
    """Per run: the problem's ``target``, the run's ``final`` value and ``time_to_target`` step.

    ``smooth_fraction`` defaults to 0.02 for train metrics and 0 (raw) for validation ones. The
    target comes only from configurations whose seeds all finished (see the module notes).
    """
    if smooth_fraction is None:
        smooth_fraction = SMOOTH_FRACTION if metric.startswith("train") else 0.0
    curves_by_run = _smoothed(curves, runs, metric, smooth_fraction)
    final = {r: float(v[-1]) for r, (_, v) in curves_by_run.items()}
    table = _per_run(runs, final=final)
    ok = finished_ok(runs)
    table["final"] = table["final"].where(ok & np.isfinite(table["final"]))
    if quantile is None:
        complete = table[table["group"].isin(complete_groups(runs))]
        medians = complete.groupby(["problem", "group"])["final"].median()
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


def _decay_rates(runs: pd.DataFrame) -> pd.Series:
    """RMSprop's α per run (nan for every other optimizer)."""
    if "optimizer.decay_rate" not in runs:
        return pd.Series(np.nan, index=runs["run_id"])
    alpha = pd.to_numeric(runs["optimizer.decay_rate"], errors="coerce")
    alpha = alpha.where(runs["optimizer"] == "rmsprop")
    return pd.Series(alpha.to_numpy(), index=runs["run_id"])


def to_decay_exponents(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    metric: str = "effective_lr_median",
    start_fraction: float = 0.5,
) -> pd.DataFrame:
    """Per adaptive run: the log-log slope of its (bias-corrected) effective step over the
    second half of training; nan for runs that diverged or failed.

    Fixed-step optimizers (SGD, Momentum, Nesterov) are left out: their step is lr by
    definition.
    """
    adaptive = runs[runs["optimizer"].isin(ADAPTIVE)]
    ok = set(adaptive.loc[finished_ok(adaptive), "run_id"])
    alpha = _decay_rates(adaptive)
    slopes = {}
    for run_id, steps, values in iter_series(curves, metric):
        if run_id not in ok:
            continue
        a = alpha.get(run_id, math.nan)
        if math.isfinite(a):
            values = values * np.sqrt(-np.expm1(steps * np.log(a)))  # sqrt(1 - α^t)
        slopes[run_id] = ss.decay_exponent(steps, values, start_fraction)
    return _per_run(adaptive, decay_exponent=slopes)


def to_stall_steps(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    rel: float = TARGET_REL,
    window_fraction: float = STALL_WINDOW_FRACTION,
    threshold: float = STALL_THRESHOLD,
    smooth_fraction: float = SMOOTH_FRACTION,
) -> pd.DataFrame:
    """Per adaptive run: ``stalled`` (its step shrinks while its loss ends above target; nan
    for diverged or failed runs), the ``decay_exponent`` that decides it, the train-loss
    ``target``, and ``stall_step``: where the smoothed loss flattened, for stalled runs only
    (the first step from which it improves by < ``threshold`` over ``window_fraction``)."""
    exponents = to_decay_exponents(curves, runs)
    targets = to_time_to_target(curves, runs, "train_loss", rel, None, smooth_fraction)
    target = dict(zip(targets["run_id"], targets["target"], strict=True))
    final = dict(zip(targets["run_id"], targets["final"], strict=True))
    length = _run_length(runs, curves)
    smoothed = _smoothed(curves, runs, "train_loss", smooth_fraction)
    stalled, steps_at = {}, {}
    for run_id, exponent in zip(exponents["run_id"], exponents["decay_exponent"], strict=True):
        values = (exponent, final.get(run_id, math.nan), target.get(run_id, math.nan))
        if not all(math.isfinite(x) for x in values):
            continue  # diverged, failed, or no complete configuration to set a target: undecided
        stalled[run_id] = float(exponent < STALL_EXPONENT and final[run_id] > target[run_id])
        if stalled[run_id] and run_id in smoothed:
            window = window_fraction * length[run_id]
            steps_at[run_id] = ss.stall_step(*smoothed[run_id], -math.inf, window, threshold)
    adaptive = runs[runs["run_id"].isin(exponents["run_id"])]
    table = _per_run(adaptive, stalled=stalled, stall_step=steps_at)
    table["decay_exponent"] = table["run_id"].map(
        dict(zip(exponents["run_id"], exponents["decay_exponent"], strict=True))
    )
    table["target"] = table["run_id"].map(target)
    return table


def to_stall_summary(stalls: pd.DataFrame, level: float = CI_LEVEL) -> pd.DataFrame:
    """Per group: ``k`` stalled of ``n`` decided seeds, the Clopper-Pearson interval of the
    stalled fraction, and the median stall step over the stalled seeds (``n_undecided``:
    diverged or failed seeds, left out).

    >>> table = pd.DataFrame({"group": ["g"] * 4, "label": "Adagrad", "problem": "p",
    ...                       "stalled": [1.0, 1.0, 0.0, np.nan], "stall_step": np.nan})
    >>> row = to_stall_summary(table).iloc[0]
    >>> int(row["k"]), int(row["n"]), int(row["n_undecided"]), round(float(row["ci_low"]), 3)
    (2, 3, 1, 0.094)
    """
    rows = []
    for (group, label, problem), part in stalls.groupby(["group", "label", "problem"], sort=False):
        decided = part["stalled"].dropna()
        k, n = int(decided.sum()), int(decided.size)
        low, high = clopper_pearson(k, n, level)
        rows.append(
            {
                "group": group,
                "label": label,
                "problem": problem,
                "k": k,
                "n": n,
                "n_undecided": int(part["stalled"].isna().sum()),
                "ci_low": low,
                "ci_high": high,
                "median_stall_step": part.loc[part["stalled"] == 1, "stall_step"].median(),
            }
        )
    columns = ["group", "label", "problem", "k", "n", "n_undecided", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=[*columns, "median_stall_step"])


def clopper_pearson(k: int, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    """Exact interval of a proportion k/n (nan, nan when n = 0).

    >>> [round(x, 3) for x in clopper_pearson(0, 5)]
    [0.0, 0.522]
    """
    if n == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1 - tail, k + 1, n - k))
    return low, high


CONTROL_KIND = "none"
CONTROL_KEYS = ("optimizer", "label", "problem", "optimizer.lr", "seed", "dataset.shift_step")


def to_recovery_times(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    smooth_fraction: float = SMOOTH_FRACTION,
    fraction: float = RECOVERY_FRACTION,
) -> pd.DataFrame:
    """Per shifted run: ``recovery_time`` against its unshifted control (module notes), the
    ``jump`` and, when undefined, the ``reason``. Control runs themselves are not listed."""
    shifts = _shift_steps(runs)
    kinds = runs.get("dataset.shift_kind", pd.Series("scale_inputs", index=runs.index))
    kind_of = dict(zip(runs["run_id"], kinds.astype(str), strict=True))
    shifted = runs[runs["run_id"].isin(shifts) & (kinds.astype(str) != CONTROL_KIND).to_numpy()]
    controls = _controls(runs, shifted, kinds)
    smoothed = _smoothed(curves, runs, "train_loss", smooth_fraction, reset=True)
    length = _run_length(runs, curves)
    ok = dict(zip(runs["run_id"], finished_ok(runs), strict=True))
    times, jumps, reasons = {}, {}, {}
    for run_id in shifted["run_id"]:
        control, shift = controls.get(run_id), shifts[run_id]
        if shift >= length[run_id]:
            reasons[run_id] = "shift at or after the last step"
        elif not ok[run_id]:
            reasons[run_id] = "diverged or failed"
        elif control is None:
            reasons[run_id] = "no unshifted control with the same seed"
        elif not ok[control]:
            reasons[run_id] = "its control diverged or failed"
        elif run_id not in smoothed or control not in smoothed:
            reasons[run_id] = "no train_loss curve"
        else:
            window = max(smooth_fraction * length[run_id], 1.0)
            jump, time = ss.recovery_against_control(
                smoothed[run_id], smoothed[control], shift, window, fraction
            )
            jumps[run_id] = jump
            if jump > 0:
                times[run_id] = time
            else:
                reasons[run_id] = "the change did not raise the loss"
    table = _per_run(shifted, recovery_time=times, jump=jumps)
    table["shift_step"] = table["run_id"].map(shifts)
    table["shift_kind"] = table["run_id"].map(kind_of)
    table["control_run_id"] = table["run_id"].map(controls)
    table["reason"] = table["run_id"].map(reasons)
    return table


def _controls(runs: pd.DataFrame, shifted: pd.DataFrame, kinds: pd.Series) -> dict[str, str]:
    """Shifted run id → the run id of its control (same keys, ``shift_kind=none``)."""
    keys = [k for k in CONTROL_KEYS if k in runs]
    control_runs = runs[(kinds.astype(str) == CONTROL_KIND).to_numpy()]
    index = {tuple(row[1:]): row[0] for row in control_runs[["run_id", *keys]].itertuples(False)}
    return {
        row[0]: index[tuple(row[1:])]
        for row in shifted[["run_id", *keys]].itertuples(False)
        if tuple(row[1:]) in index
    }


def to_group_summary(per_run: pd.DataFrame, column: str, level: float = CI_LEVEL) -> pd.DataFrame:
    """Per group: ``n`` defined values, ``n_inf`` (infinite), inf-aware ``median``, and
    ``mean`` ± ``ci`` only when every defined value is finite (never a mean of the finite ones).
    """
    rows = []
    for (group, label, problem), part in per_run.groupby(["group", "label", "problem"], sort=False):
        values = part[column].to_numpy(dtype=np.float64)
        defined = values[~np.isnan(values)]
        mean, half = t_interval(defined, level) if np.isfinite(defined).all() else (np.nan,) * 2
        rows.append(
            {
                "group": group,
                "label": label,
                "problem": problem,
                "n": int(defined.size),
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
