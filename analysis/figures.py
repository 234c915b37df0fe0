"""Seaborn figures of a study. Each ``plot_*`` takes the runs and curves tables and returns a
``matplotlib.figure.Figure``, or None when the study lacks the data the figure needs.

Curve figures show, per label, its best-tuned group (fewest diverged runs, then lowest mean
final val loss: :func:`analysis.stats.select_best_groups`) as the mean over seeds with a 95 %
Student-t band. :func:`write_figures` saves every figure that applies as PNG and PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from analysis.palette import (
    FORMATS,
    add_legend,
    new_figure,
    save_figure,
    styled,
    to_label_order,
    to_palette,
)
from analysis.stats import (
    select_best_groups,
    to_curve_ci,
    to_performance_profile,
    to_smoothed_curves,
    to_time_to_target,
)
from analysis.trajectories import plot_trajectories

__all__ = [
    "FIGURES",
    "plot_accumulator",
    "plot_accuracy_curves",
    "plot_decay_heatmap",
    "plot_effective_lr",
    "plot_loss_curves",
    "plot_lr_sensitivity",
    "plot_performance_profile",
    "plot_trajectories",
    "write_figures",
]


def _has_metric(curves: pd.DataFrame, metric: str) -> bool:
    return metric in curves["metric"].cat.categories and bool((curves["metric"] == metric).any())


def _draw_ci(ax: Axes, ci: pd.DataFrame, palette: dict, order: Sequence[str], log: bool) -> None:
    """Mean lines with their bands; on a log axis a band reaching 0 is cut a decade below."""
    positive = ci["mean"][ci["mean"] > 0]
    floor = positive.min() / 10 if len(positive) else np.nan
    for label in [name for name in order if name in set(ci["label"])]:
        for _, part in ci[ci["label"] == label].groupby("group"):
            lo = part["lo"].clip(lower=floor) if log else part["lo"]
            ax.plot(part["step"], part["mean"], color=palette[label], label=label, lw=1.4)
            ax.fill_between(part["step"], lo, part["hi"], color=palette[label], alpha=0.2, lw=0)


def _mark_shift(ax: Axes, runs: pd.DataFrame) -> None:
    if "dataset.shift_step" in runs:
        for step in pd.to_numeric(runs["dataset.shift_step"], errors="coerce").dropna().unique():
            ax.axvline(step, color="0.3", ls=":", lw=1)


def _curve_panels(
    runs: pd.DataFrame, curves: pd.DataFrame, metrics: Sequence[str], log: bool
) -> Figure | None:
    """One panel per metric (columns) and problem (rows) of the best group of each label."""
    present = [m for m in metrics if _has_metric(curves, m)]
    if not present:
        return None
    problems = _best_by_problem(runs)
    fig, axes = new_figure(len(present), len(problems))
    palette, order = to_palette(runs), to_label_order(runs)
    for row, (problem, subset) in enumerate(problems):
        for col, metric in enumerate(present):
            ax, source, ylabel = axes[row, col], curves, metric
            if metric.startswith("train"):  # minibatch noise: plot a trailing mean per run
                source, ylabel = to_smoothed_curves(curves, subset, metric), f"{metric} (smoothed)"
            _draw_ci(ax, to_curve_ci(source, subset, metric), palette, order, log)
            _mark_shift(ax, subset)
            ax.set(xlabel="step", ylabel=ylabel, yscale="log" if log else "linear")
            ax.set_title(problem if len(problems) > 1 else metric.replace("_", " "))
    add_legend(fig, axes)
    return fig


@styled
def plot_loss_curves(
    runs: pd.DataFrame, curves: pd.DataFrame, metrics: Sequence[str] = ("train_loss", "val_loss")
) -> Figure | None:
    """Train and validation loss (log scale), mean over seeds with 95 % t-bands."""
    return _curve_panels(runs, curves, metrics, log=True)


@styled
def plot_accuracy_curves(runs: pd.DataFrame, curves: pd.DataFrame) -> Figure | None:
    """Validation accuracy, mean over seeds with 95 % t-bands (None for regression/2-D)."""
    return _curve_panels(runs, curves, ["val_accuracy"], log=False)


def _best_by_problem(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per problem, the runs of each label's best-tuned group."""
    chosen = runs[runs["group"].isin(select_best_groups(runs))]
    return [(problem, part) for problem, part in chosen.groupby("problem", sort=True)]


def _effective_lr_band(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Mean median effective step per group and step, with mean p10 and p90 as the band."""
    median = to_curve_ci(curves, runs, "effective_lr_median")
    median = median[median["step"] > 0]
    if not (_has_metric(curves, "effective_lr_p10") and _has_metric(curves, "effective_lr_p90")):
        return median
    keys = pd.MultiIndex.from_frame(median[["group", "step"]])
    band = {
        side: to_curve_ci(curves, runs, f"effective_lr_{q}").set_index(["group", "step"])["mean"]
        for side, q in (("lo", "p10"), ("hi", "p90"))
    }
    return median.assign(**{side: b.reindex(keys).to_numpy() for side, b in band.items()})


@styled
def plot_effective_lr(runs: pd.DataFrame, curves: pd.DataFrame) -> Figure | None:
    """Median effective step size vs step, log-log, p10–p90 band, and a t^(-1/2) reference."""
    if not _has_metric(curves, "effective_lr_median"):
        return None
    problems = _best_by_problem(runs)
    fig, axes = new_figure(len(problems))
    palette, order = to_palette(runs), to_label_order(runs)
    for ax, (problem, subset) in zip(axes.flat, problems, strict=True):
        band = _effective_lr_band(curves, subset)
        _draw_ci(ax, band, palette, order, log=True)
        if len(band):
            _draw_reference(ax, band)
        ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="median effective step size")
        ax.set_title(f"{problem} (band: p10–p90)")
    add_legend(fig, axes)
    return fig


def _draw_reference(ax: Axes, median: pd.DataFrame) -> None:
    """A dashed c·t^(-1/2) line through the Adagrad curve (else the first one) at its start."""
    anchor = median[median["label"].str.startswith("Adagrad")]
    anchor = anchor if len(anchor) else median
    t0, v0 = anchor["step"].iloc[0], anchor["mean"].iloc[0]
    t = np.geomspace(max(t0, 1), median["step"].max(), 50)
    ax.plot(t, v0 * (t / t0) ** -0.5, color="black", ls="--", lw=1, label=r"$\propto t^{-1/2}$")


@styled
def plot_accumulator(runs: pd.DataFrame, curves: pd.DataFrame) -> Figure | None:
    """Mean squared-gradient accumulator over time: Adagrad's grows, RMSprop's levels off."""
    if not _has_metric(curves, "accumulator_mean"):
        return None
    problems = _best_by_problem(runs)
    fig, axes = new_figure(len(problems))
    palette, order = to_palette(runs), to_label_order(runs)
    for ax, (problem, subset) in zip(axes.flat, problems, strict=True):
        _draw_ci(ax, to_curve_ci(curves, subset, "accumulator_mean"), palette, order, log=True)
        ax.set(yscale="log", xlabel="step", ylabel="accumulator mean (h or v)", title=problem)
    add_legend(fig, axes)
    return fig


def _finals(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    ok = (runs["status"] == "FINISHED") & ~runs["diverged"] & np.isfinite(runs[metric])
    return runs.assign(ok=ok)


@styled
def plot_lr_sensitivity(runs: pd.DataFrame, metric: str = "final_val_loss") -> Figure | None:
    """Final loss vs learning rate per label, a dot per seed and a median line (DeepOBS style).

    Diverged or failed seeds are drawn as crosses along the top edge.
    """
    if metric not in runs or runs.get("optimizer.lr", pd.Series()).nunique() < 2:
        return None
    data = _finals(runs, metric)
    problems = sorted(data["problem"].unique())
    fig, axes = new_figure(len(problems))
    palette, order = to_palette(runs), to_label_order(runs)
    for ax, problem in zip(axes.flat, problems, strict=True):
        part = data[data["problem"] == problem]
        good = part[part["ok"]]
        kw = {
            "x": "optimizer.lr",
            "y": metric,
            "hue": "label",
            "palette": palette,
            "hue_order": [o for o in order if o in set(part["label"])],
            "ax": ax,
        }
        sns.lineplot(data=good, estimator="median", errorbar=None, marker="o", **kw)
        sns.scatterplot(data=good, alpha=0.5, s=18, legend=False, **kw)
        bad = part[~part["ok"]]
        top = good[metric].max() * 1.5 if len(good) else 1.0
        ax.scatter(
            bad["optimizer.lr"],
            np.full(len(bad), top),
            marker="x",
            color="black",
            label="diverged/failed" if len(bad) else None,
        )
        ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel=metric, title=problem)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    add_legend(fig, axes)
    return fig


@styled
def plot_decay_heatmap(runs: pd.DataFrame, metric: str = "final_val_loss") -> Figure | None:
    """RMSprop: median final loss over seeds on the learning rate × decay rate grid."""
    needed = {"optimizer.lr", "optimizer.decay_rate", metric}
    data = _finals(runs, metric) if needed <= set(runs.columns) else runs.iloc[:0]
    data = data[(data["optimizer"] == "rmsprop") & data["ok"]] if len(data) else data
    cells = data.drop_duplicates(["problem", "optimizer.lr", "optimizer.decay_rate"])
    problems = sorted(p for p, n in cells["problem"].value_counts().items() if n >= 2)
    if not problems:
        return None
    fig, axes = new_figure(len(problems))
    for ax, problem in zip(axes.flat, problems, strict=True):
        grid = data[data["problem"] == problem].pivot_table(
            index="optimizer.decay_rate", columns="optimizer.lr", values=metric, aggfunc="median"
        )
        sns.heatmap(
            grid,
            ax=ax,
            annot=True,
            fmt=".3g",
            cmap="viridis_r",
            norm=LogNorm(),
            cbar_kws={"label": f"median {metric}"},
        )
        ax.set(xlabel="learning rate", ylabel="decay rate α", title=f"RMSprop · {problem}")
    return fig


@styled
def plot_performance_profile(
    runs: pd.DataFrame, curves: pd.DataFrame, metric: str = "val_loss"
) -> Figure | None:
    """Dolan–Moré performance profile of time-to-target over the study's problems (≥ 2)."""
    if runs["problem"].nunique() < 2 or not _has_metric(curves, metric):
        return None
    profile = to_performance_profile(to_time_to_target(curves, runs, metric))
    fig, axes = new_figure()
    ax, palette = axes[0, 0], to_palette(runs)
    for label in [o for o in to_label_order(runs) if o in set(profile["label"])]:
        part = profile[profile["label"] == label]
        ax.step(part["tau"], part["fraction"], where="post", color=palette[label], label=label)
    ax.set(
        xscale="log",
        ylim=(-0.02, 1.02),
        xlabel="τ (time to target / fastest)",
        ylabel="fraction of problems",
        title=f"performance profile ({metric} target)",
    )
    ax.xaxis.set_major_formatter(ScalarFormatter())
    add_legend(fig, axes)
    return fig


FIGURES: dict[str, Callable[[pd.DataFrame, pd.DataFrame], Figure | None]] = {
    "loss": plot_loss_curves,
    "accuracy": plot_accuracy_curves,
    "effective_lr": plot_effective_lr,
    "accumulator": plot_accumulator,
    "lr_sensitivity": lambda runs, curves: plot_lr_sensitivity(runs),
    "decay_heatmap": lambda runs, curves: plot_decay_heatmap(runs),
    "trajectories": plot_trajectories,
    "performance_profile": plot_performance_profile,
}


def write_figures(
    runs: pd.DataFrame, curves: pd.DataFrame, out_dir: Path, formats: Sequence[str] = FORMATS
) -> dict[str, Path]:
    """Draw every figure that applies and save it (PNG and PDF by default); name → PNG path."""
    written = {}
    for name, plot in FIGURES.items():
        fig = plot(runs, curves)
        if fig is not None:
            written[name] = save_figure(fig, out_dir, name, formats)
    return written
