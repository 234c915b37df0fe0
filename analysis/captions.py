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
from analysis.strings import DEFAULT, Strings, load

__all__ = ["CAPTIONS", "caption"]


def caption(name: str, runs: pd.DataFrame, curves: pd.DataFrame, lang: str = DEFAULT) -> str:
    """The caption of figure ``name`` (a key of :data:`FIGURES`) in ``lang``: what its lines and
    bands are over, n, what is left out, computed from the runs and curves it was drawn from."""
    return CAPTIONS[name](runs, curves, load(lang))


def _seeds_text(counts: pd.Series, tr: Strings) -> str:
    """``n = 3 seeds``, ``n = 1 seed`` or a range when groups differ."""
    lo, hi = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
    if lo != hi:
        return tr("cap.seeds_range", lo=lo, hi=hi)
    return tr("cap.seed" if lo == 1 else "cap.seeds", n=lo)


def _over_seeds(counts: pd.Series, mean: str, band: str, tr: Strings) -> str:
    """``mean over n = 3 seeds with band``; says so when a single seed leaves no interval."""
    text = tr("cap.over", mean=tr(mean), seeds=_seeds_text(counts, tr))
    if len(counts) and counts.max() < 2:
        return text + tr("cap.one_seed")
    return (
        text
        + tr("cap.with_band", band=tr(band))
        + (tr("cap.none_single") if counts.min() < 2 else "")
    )


def _chosen(runs: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([part for _, part in best_by_problem(runs)]) if len(runs) else runs


def _curve_notes(chosen: pd.DataFrame, tr: Strings) -> str:
    """Runs that stopped early, and the shift line."""
    stopped = int((chosen["diverged"] | (chosen["status"] != "FINISHED")).sum())
    notes = tr("cap.stopped", n=stopped) if stopped else ""
    shifts = ", ".join(f"{s:g}" for s in shift_steps(chosen))
    return notes + (tr("cap.shift", steps=shifts) if shifts else "")


def _left_out(runs: pd.DataFrame, why: str, tr: Strings) -> str:
    """The labels of optimizers without an adaptive accumulator, as a caption's last sentence."""
    left = set(runs.loc[runs["optimizer"].isin(NOT_ADAPTIVE), "label"])
    out = [label for label in to_label_order(runs) if label in left]
    return tr("cap.left_out", why=tr(why), labels=tr("cap.list").join(out)) if out else ""


def _loss_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    chosen = _chosen(runs)
    parts = []
    if has_metric(curves, "train_loss"):
        parts.append(tr("cap.train_loss", percent=SMOOTH_FRACTION * 100))
    if has_metric(curves, "val_loss"):
        parts.append(tr("cap.val_loss"))
    counts = seed_counts(
        curves, chosen, "val_loss" if has_metric(curves, "val_loss") else "train_loss"
    )
    return tr(
        "cap.loss",
        what=tr("cap.and").join(parts).capitalize(),
        over=_over_seeds(counts, "cap.geometric_mean", "cap.band_log_loss", tr),
        notes=_curve_notes(chosen, tr),
    )


def _accuracy_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    chosen = _chosen(runs)
    counts = seed_counts(curves, chosen, "val_accuracy")
    return tr(
        "cap.accuracy",
        over=_over_seeds(counts, "cap.mean", "cap.band", tr),
        notes=_curve_notes(chosen, tr),
    )


def _effective_lr_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    chosen = _chosen(adaptive_runs(runs))
    counts = seed_counts(curves, chosen, "effective_lr_median")
    band = "cap.effective_lr.quantiles" if has_quantiles(curves) else "cap.effective_lr.ci"
    return tr(
        "cap.effective_lr",
        seeds=_seeds_text(counts, tr),
        band=tr(band),
        left_out=_left_out(runs, "cap.effective_lr.why", tr),
    )


def _accumulator_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    chosen = _chosen(adaptive_runs(runs))
    counts = seed_counts(curves, chosen, "accumulator_mean")
    return tr(
        "cap.accumulator",
        over=_over_seeds(counts, "cap.geometric_mean", "cap.band_log", tr),
        left_out=_left_out(runs, "cap.accumulator.why", tr),
    )


def _sensitivity_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    data = with_ok(runs, "final_val_loss")
    per_lr = data[data["ok"]].groupby(["problem", "label", "optimizer.lr"]).size()
    bad = int((~data["ok"]).sum())
    crosses = tr("cap.sensitivity.crosses", n=bad) if bad else tr("cap.sensitivity.none")
    return tr("cap.sensitivity", seeds=_seeds_text(per_lr, tr), crosses=crosses)


def _heatmap_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    data = rmsprop_grid_runs(runs, "final_val_loss")
    cells = data.groupby(["problem", "optimizer.lr", "optimizer.decay_rate"]).size()
    return tr("cap.heatmap", seeds=_seeds_text(cells, tr))


def _trajectories_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    return tr("cap.trajectories")


def _profile_caption(runs: pd.DataFrame, curves: pd.DataFrame, tr: Strings) -> str:
    return tr("cap.profile", problems=runs["problem"].nunique(), factor=1 + TARGET_REL)


CAPTIONS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, Strings], str]] = {
    "loss": _loss_caption,
    "accuracy": _accuracy_caption,
    "effective_lr": _effective_lr_caption,
    "accumulator": _accumulator_caption,
    "lr_sensitivity": _sensitivity_caption,
    "decay_heatmap": _heatmap_caption,
    "trajectories": _trajectories_caption,
    "performance_profile": _profile_caption,
}
