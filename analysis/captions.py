"""Captions of the figures, computed from the runs and curves they were drawn from: what a
line and a band are over, n, what is left out and why. One caption per figure of
:data:`analysis.figures.FIGURES`, under the same name.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.figure_data import (
    NOT_ADAPTIVE,
    adaptive_runs,
    best_by_problem,
    has_metric,
    has_quantiles,
    rmsprop_grid_runs,
    seed_counts,
    shift_steps,
    with_ok,
)
from analysis.palette import to_label_order
from analysis.stats import SMOOTH_FRACTION, TARGET_REL

__all__ = ["CAPTIONS", "caption"]


def caption(name: str, runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    """The caption of figure ``name`` (a key of :data:`FIGURES`): what its lines and bands are
    over, n, what is left out, computed from the runs and curves it was drawn from."""
    return CAPTIONS[name](runs, curves)


def _seeds_text(counts: pd.Series) -> str:
    """``n = 3 seeds``, ``n = 1 seed`` or a range when groups differ."""
    lo, hi = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
    return f"n = {lo}–{hi} seeds" if lo != hi else f"n = {lo} seed" + ("s" if lo != 1 else "")


def _over_seeds(counts: pd.Series, mean: str, band: str) -> str:
    """``mean over n = 3 seeds with band``; says so when a single seed leaves no interval."""
    text = f"{mean} over {_seeds_text(counts)}"
    if len(counts) and counts.max() < 2:
        return text + " (one seed: no interval, no band)"
    return text + f" with {band}" + (", none for a single seed" if counts.min() < 2 else "")


def _chosen(runs: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([part for _, part in best_by_problem(runs)]) if len(runs) else runs


def _curve_notes(chosen: pd.DataFrame) -> str:
    """Runs that stopped early, and the shift line."""
    stopped = int((chosen["diverged"] | (chosen["status"] != "FINISHED")).sum())
    notes = ""
    if stopped:
        notes += (
            f" {stopped} of the runs drawn stopped early (diverged or failed): past their last "
            "step the band is over the remaining seeds."
        )
    shifts = ", ".join(f"{s:g}" for s in shift_steps(chosen))
    return notes + (f" Dotted line: distribution shift at step {shifts}." if shifts else "")


def _left_out(runs: pd.DataFrame, why: str) -> str:
    """The labels of optimizers without an adaptive accumulator, as a caption's last sentence."""
    left = set(runs.loc[runs["optimizer"].isin(NOT_ADAPTIVE), "label"])
    out = [label for label in to_label_order(runs) if label in left]
    return f" Left out, {why}: {', '.join(out)}." if out else ""


def _loss_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    chosen = _chosen(runs)
    parts = []
    if has_metric(curves, "train_loss"):
        parts.append(f"train loss (trailing mean over {SMOOTH_FRACTION * 100:g} % of each run)")
    if has_metric(curves, "val_loss"):
        parts.append("validation loss")
    counts = seed_counts(
        curves, chosen, "val_loss" if has_metric(curves, "val_loss") else "train_loss"
    )
    return (
        f"{' and '.join(parts).capitalize()}, log scale, of each label's best-tuned learning "
        f"rate (lr in the legend): "
        + _over_seeds(counts, "geometric mean", "a 95 % t-interval band of the log loss")
        + "."
        + _curve_notes(chosen)
    )


def _accuracy_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    chosen = _chosen(runs)
    counts = seed_counts(curves, chosen, "val_accuracy")
    return (
        "Validation accuracy of each label's best-tuned learning rate (lr in the legend): "
        + _over_seeds(counts, "mean", "a 95 % t-interval band")
        + "."
        + _curve_notes(chosen)
    )


def _effective_lr_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    chosen = _chosen(adaptive_runs(runs))
    counts = seed_counts(curves, chosen, "effective_lr_median")
    band = (
        "band: p10 to p90 over the parameters (geometric mean over seeds)"
        if has_quantiles(curves)
        else "band: 95 % t-interval of the log over seeds"
    )
    return (
        "Median effective step size over the parameters (log-log) of each label's best-tuned "
        f"learning rate: geometric mean over {_seeds_text(counts)}; {band}. Dashed: "
        "∝ t^(-1/2), the decay of Adagrad's step on a constant gradient, through the first "
        "point of Adagrad's curve." + _left_out(runs, "no adaptive accumulator (their step is lr)")
    )


def _accumulator_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    chosen = _chosen(adaptive_runs(runs))
    counts = seed_counts(curves, chosen, "accumulator_mean")
    return (
        "Mean of the squared-gradient accumulator (h for Adagrad and RMSprop, v for Adam), log "
        "scale, of each label's best-tuned learning rate: "
        + _over_seeds(counts, "geometric mean", "a 95 % t-interval band of the log")
        + ". Adagrad sums every "
        "squared gradient; RMSprop and Adam keep a moving average."
        + _left_out(runs, "no accumulator")
    )


def _sensitivity_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    data = with_ok(runs, "final_val_loss")
    per_lr = data[data["ok"]].groupby(["problem", "label", "optimizer.lr"]).size()
    bad = int((~data["ok"]).sum())
    crosses = f"{bad} crosses along the top: diverged or failed seeds" if bad else "none diverged"
    return (
        "Final validation loss against learning rate (log-log): a dot per finished, "
        f"non-diverged seed ({_seeds_text(per_lr)} per learning rate), a line through their "
        f"medians; {crosses}."
    )


def _heatmap_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    data = rmsprop_grid_runs(runs, "final_val_loss")
    cells = data.groupby(["problem", "optimizer.lr", "optimizer.decay_rate"]).size()
    return (
        "RMSprop: median final validation loss over learning rate × decay rate α, over the "
        f"finished, non-diverged seeds of each cell ({_seeds_text(cells)} per cell)."
    )


def _trajectories_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    return (
        "Paths of each optimizer on the 2-D test functions: one run per label, the lowest seed "
        "of its learning rate with the lowest final loss; star: the minimum."
    )


def _profile_caption(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    problems = runs["problem"].nunique()
    return (
        f"Performance profile over {problems} problems: the fraction of problems on which a "
        "label's fastest learning rate (in the legend) reaches the target (validation loss ≤ "
        f"the best configuration's median final × {1 + TARGET_REL:g}) within τ times the "
        "fastest label's steps, a median over seeds; never reaching it counts as ∞."
    )


CAPTIONS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], str]] = {
    "loss": _loss_caption,
    "accuracy": _accuracy_caption,
    "effective_lr": _effective_lr_caption,
    "accumulator": _accumulator_caption,
    "lr_sensitivity": _sensitivity_caption,
    "decay_heatmap": _heatmap_caption,
    "trajectories": _trajectories_caption,
    "performance_profile": _profile_caption,
}
