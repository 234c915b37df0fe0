"""Seaborn figures of a study. Each ``plot_*`` takes the runs and curves tables and returns a
``matplotlib.figure.Figure``, or None when the study lacks the data the figure needs.

Curve figures show, per label, its best-tuned group (fewest diverged runs, then lowest mean
final val loss: :func:`analysis.stats.select_best_groups`), one panel per problem in a row
(a second row per extra metric). On a log axis the line is the geometric mean over seeds and
the band the 95 % Student-t interval of the log values, so a band never reaches 0; on a linear
axis they are the mean and its t-interval. Each legend entry names the label, its lr and n (the
seeds with data). :func:`analysis.captions.caption` describes a figure from the same data;
:func:`write_figures` saves every figure that applies as PNG, SVG and PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from analysis.figure_data import (
    adaptive_runs,
    best_by_problem,
    has_metric,
    has_quantiles,
    rmsprop_grid_runs,
    seed_counts,
    shift_steps,
    with_ok,
)
from analysis.i18n_fonts import figure_font
from analysis.palette import (
    FORMATS,
    add_legend,
    new_figure,
    save_figure,
    set_log_ticks,
    styled,
    to_label_order,
    to_palette,
    to_styles,
)
from analysis.stats import (
    to_curve_ci,
    to_performance_profile,
    to_smoothed_curves,
    to_time_to_target,
)
from analysis.strings import DEFAULT, Strings, load
from analysis.trajectories import plot_trajectories

__all__ = [
    "FIGURES",
    "legend_entry",
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

MARK_EVERY = 0.1  # a marker every tenth of a line's drawn length


def legend_entry(label: str, lrs: Sequence[float], ns: Iterable[int]) -> str:
    """A legend entry: the label, its lr per panel (one when all agree) and its seeds n.

    >>> legend_entry("Adam", [0.001, 0.001], [3, 2])
    'Adam · lr 0.001 · n=2–3'
    >>> legend_entry("Adam", [0.001, 0.01], [3, 3])
    'Adam · lr 0.001 | 0.01 · n=3'
    """
    lr = " | ".join(f"{v:g}" for v in lrs) if len(set(lrs)) > 1 else f"{lrs[0]:g}"
    ns = sorted(set(ns))
    n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"{label} · lr {lr} · n={n}"


def _entries(panels: Iterable[tuple[pd.DataFrame, pd.Series]]) -> dict[str, str]:
    """Label → legend entry, over panels given as (runs drawn, seeds per group).

    A label's lr is listed once per group drawn (one per problem, in panel order).
    """
    lrs: dict[str, dict[str, float]] = {}
    ns: dict[str, list[int]] = {}
    for subset, counts in panels:
        for group, part in subset.groupby("group", sort=False):
            label = part["label"].iloc[0]
            lrs.setdefault(label, {})[group] = float(part["optimizer.lr"].iloc[0])
            ns.setdefault(label, []).append(int(counts.get(group, 0)))
    return {label: legend_entry(label, list(lrs[label].values()), ns[label]) for label in lrs}


def _ci(curves: pd.DataFrame, runs: pd.DataFrame, metric: str, log: bool) -> pd.DataFrame:
    """Per group and step: mean and 95 % t-band; on a log axis in log space (geometric mean)."""
    if not log:
        return to_curve_ci(curves, runs, metric)
    sub = curves[curves["metric"] == metric]
    with np.errstate(divide="ignore", invalid="ignore"):  # values ≤ 0 drop out as non-finite
        logged = sub.assign(value=np.log(sub["value"].to_numpy()))
    ci = to_curve_ci(logged, runs, metric)
    return ci.assign(**{side: np.exp(ci[side]) for side in ("mean", "lo", "hi")})


def _draw_ci(ax: Axes, ci: pd.DataFrame, runs: pd.DataFrame) -> None:
    """Each label's line (its colour and style) with its band."""
    palette, styles = to_palette(runs), to_styles(runs)
    for label in [name for name in to_label_order(runs) if name in set(ci["label"])]:
        for _, part in ci[ci["label"] == label].groupby("group"):
            color = palette[label]
            ax.plot(part["step"], part["mean"], color=color, label=label, **_line(styles[label]))
            ax.fill_between(part["step"], part["lo"], part["hi"], color=color, alpha=0.2, lw=0)


def _line(style: dict) -> dict:
    return {**style, "markevery": MARK_EVERY, "ms": 4} if style["marker"] else style


def _mark_shift(ax: Axes, runs: pd.DataFrame) -> None:
    for step in shift_steps(runs):
        ax.axvline(step, color="0.3", ls=":", lw=1)


def _curve_panels(
    runs: pd.DataFrame, curves: pd.DataFrame, metrics: Sequence[str], log: bool, tr: Strings
) -> Figure | None:
    """A row of panels, one per problem, per metric (one problem: the metrics side by side)."""
    present = [m for m in metrics if has_metric(curves, m)]
    if not present:
        return None
    problems = best_by_problem(runs)
    single = len(problems) == 1
    fig, axes = new_figure(*((len(present), 1) if single else (len(problems), len(present))))
    panels = []
    for col, (problem, subset) in enumerate(problems):
        for row, metric in enumerate(present):
            ax, source, ylabel = axes[0, row] if single else axes[row, col], curves, tr.term(metric)
            if metric.startswith("train"):  # minibatch noise: plot a trailing mean per run
                source = to_smoothed_curves(curves, subset, metric)
                ylabel = tr("fig.smoothed", metric=tr.term(metric))
            _draw_ci(ax, _ci(source, subset, metric, log), subset)
            _mark_shift(ax, subset)
            ax.set(xlabel=tr("fig.step"), ylabel=ylabel, yscale="log" if log else "linear")
            ax.set_title(tr.term(metric).replace("_", " ") if single else problem)
            if log:
                set_log_ticks(ax, "y")
            panels.append((subset, seed_counts(curves, subset, metric)))
    add_legend(fig, axes, _entries(panels))
    return fig


@styled
def plot_loss_curves(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    metrics: Sequence[str] = ("train_loss", "val_loss"),
    lang: str = DEFAULT,
) -> Figure | None:
    """Train and validation loss (log scale): geometric mean over seeds, 95 % t-band."""
    return _curve_panels(runs, curves, metrics, log=True, tr=load(lang))


@styled
def plot_accuracy_curves(
    runs: pd.DataFrame, curves: pd.DataFrame, lang: str = DEFAULT
) -> Figure | None:
    """Validation accuracy, mean over seeds with 95 % t-bands (None for regression/2-D)."""
    return _curve_panels(runs, curves, ["val_accuracy"], log=False, tr=load(lang))


def _effective_lr_band(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Geometric mean of the median effective step per group and step; band: p10 to p90."""
    median = _ci(curves, runs, "effective_lr_median", log=True)
    median = median[median["step"] > 0]
    if not has_quantiles(curves):
        return median
    keys = pd.MultiIndex.from_frame(median[["group", "step"]])
    band = {
        side: _ci(curves, runs, f"effective_lr_{q}", log=True).set_index(["group", "step"])["mean"]
        for side, q in (("lo", "p10"), ("hi", "p90"))
    }
    return median.assign(**{side: b.reindex(keys).to_numpy() for side, b in band.items()})


@styled
def plot_effective_lr(
    runs: pd.DataFrame, curves: pd.DataFrame, lang: str = DEFAULT
) -> Figure | None:
    """Median effective step size vs step, log-log, p10–p90 band, and a t^(-1/2) reference.

    Only adaptive optimizers: the others' effective step is their lr.
    """
    adaptive = adaptive_runs(runs)
    if adaptive.empty or not has_metric(curves, "effective_lr_median"):
        return None
    problems, tr = best_by_problem(adaptive), load(lang)
    fig, axes = new_figure(len(problems))
    for ax, (problem, subset) in zip(axes.flat, problems, strict=True):
        band = _effective_lr_band(curves, subset)
        _draw_ci(ax, band, subset)
        if len(band):
            _draw_reference(ax, band)
        ax.set(xscale="log", yscale="log", xlabel=tr("fig.step_t"), ylabel=tr("fig.effective_lr"))
        ax.set_title(problem)
        set_log_ticks(ax, "x")
        set_log_ticks(ax, "y")
    counts = seed_counts(curves, adaptive, "effective_lr_median")
    add_legend(fig, axes, _entries((subset, counts) for _, subset in problems))
    return fig


def _draw_reference(ax: Axes, median: pd.DataFrame) -> None:
    """A dashed c·t^(-1/2) line through the Adagrad curve (else the first one) at its start."""
    anchor = median[median["label"].str.startswith("Adagrad")]
    anchor = anchor if len(anchor) else median
    t0, v0 = anchor["step"].iloc[0], anchor["mean"].iloc[0]
    t = np.geomspace(max(t0, 1), median["step"].max(), 50)
    ax.plot(t, v0 * (t / t0) ** -0.5, color="black", ls="--", lw=1, label=r"$\propto t^{-1/2}$")


@styled
def plot_accumulator(
    runs: pd.DataFrame, curves: pd.DataFrame, lang: str = DEFAULT
) -> Figure | None:
    """Mean squared-gradient accumulator over time: Adagrad's grows, RMSprop's levels off."""
    adaptive = adaptive_runs(runs)
    if adaptive.empty or not has_metric(curves, "accumulator_mean"):
        return None
    problems, tr = best_by_problem(adaptive), load(lang)
    fig, axes = new_figure(len(problems))
    for ax, (problem, subset) in zip(axes.flat, problems, strict=True):
        _draw_ci(ax, _ci(curves, subset, "accumulator_mean", log=True), subset)
        ylabel = tr("fig.accumulator")
        ax.set(yscale="log", xlabel=tr("fig.step"), ylabel=ylabel, title=problem)
        set_log_ticks(ax, "y")
    counts = seed_counts(curves, adaptive, "accumulator_mean")
    add_legend(fig, axes, _entries((subset, counts) for _, subset in problems))
    return fig


@styled
def plot_lr_sensitivity(
    runs: pd.DataFrame, metric: str = "final_val_loss", lang: str = DEFAULT
) -> Figure | None:
    """Final loss vs learning rate per label, a dot per seed and a median line (DeepOBS style).

    Diverged or failed seeds are drawn as crosses along the top edge.
    """
    if metric not in runs or runs.get("optimizer.lr", pd.Series()).nunique() < 2:
        return None
    data, tr = with_ok(runs, metric), load(lang)
    problems = sorted(data["problem"].unique())
    fig, axes = new_figure(len(problems))
    palette, styles, entries = to_palette(runs), to_styles(runs), {}
    for ax, problem in zip(axes.flat, problems, strict=True):
        part = data[data["problem"] == problem]
        good = part[part["ok"]]
        for label in [o for o in to_label_order(runs) if o in set(good["label"])]:
            mine = good[good["label"] == label]
            median = mine.groupby("optimizer.lr")[metric].median()
            style = {**styles[label], "marker": styles[label]["marker"] or "o"}
            ax.plot(median.index, median.to_numpy(), color=palette[label], label=label, **style)
            ax.scatter(mine["optimizer.lr"], mine[metric], color=palette[label], alpha=0.5, s=14)
            lrs = sorted(mine["optimizer.lr"].unique())
            entries[label] = _sensitivity_entry(label, lrs, mine.groupby("optimizer.lr").size())
        top = good[metric].max() * 1.5 if len(good) else 1.0
        _draw_failures(ax, part[~part["ok"]], top, tr("fig.failed"))
        ax.set(xscale="log", yscale="log", xlabel=tr("fig.lr"), ylabel=tr.term(metric))
        ax.set_title(problem)
        set_log_ticks(ax, "x")
        set_log_ticks(ax, "y")
    add_legend(fig, axes, entries)
    return fig


def _sensitivity_entry(label: str, lrs: Sequence[float], per_lr: pd.Series) -> str:
    entry = legend_entry(label, [lrs[0]], per_lr)
    return entry.replace(f"lr {lrs[0]:g}", f"lr {lrs[0]:g}–{lrs[-1]:g}") if len(lrs) > 1 else entry


def _draw_failures(ax: Axes, bad: pd.DataFrame, top: float, text: str) -> None:
    label = text if len(bad) else None
    ax.scatter(bad["optimizer.lr"], np.full(len(bad), top), marker="x", color="black", label=label)


@styled
def plot_decay_heatmap(
    runs: pd.DataFrame, metric: str = "final_val_loss", lang: str = DEFAULT
) -> Figure | None:
    """RMSprop: median final loss over seeds on the learning rate × decay rate grid."""
    data, tr = rmsprop_grid_runs(runs, metric), load(lang)
    if data.empty:
        return None
    problems = sorted(data["problem"].unique())
    fig, axes = new_figure(len(problems), legend=False)
    for ax, problem in zip(axes.flat, problems, strict=True):
        grid = data[data["problem"] == problem].pivot_table(
            index="optimizer.decay_rate", columns="optimizer.lr", values=metric, aggfunc="median"
        )
        grid.columns = [f"{lr:g}" for lr in grid.columns]
        values = grid.to_numpy()[np.isfinite(grid.to_numpy())]
        log = values.min() > 0 and values.max() / values.min() >= 10
        if log:  # colour bar from one power of ten to another: every label a power of ten
            decades = np.floor(np.log10(values.min())), np.ceil(np.log10(values.max()))
            norm = LogNorm(10 ** decades[0], 10 ** decades[1])
        else:
            norm = Normalize()
        sns.heatmap(grid, ax=ax, annot=True, fmt=".3g", cmap="viridis_r", norm=norm)
        colorbar = ax.collections[0].colorbar
        colorbar.set_label(tr("fig.median", metric=tr.term(metric)))
        if log:
            set_log_ticks(colorbar.ax, "y", widen=False)
        ax.set(xlabel=tr("fig.lr"), ylabel=tr("fig.decay_rate"), title=f"RMSprop · {problem}")
    return fig


def _profile_entries(ttt: pd.DataFrame, runs: pd.DataFrame) -> dict[str, str]:
    """Per label: the lr of its fastest group on each problem and that group's seeds."""
    per_group = ttt.groupby(["problem", "label", "group"])["time_to_target"].median()
    fastest = per_group.groupby(["problem", "label"]).idxmin().str[2]
    chosen = runs[runs["group"].isin(set(fastest))]
    counts = chosen.groupby("group").size()
    return _entries((part, counts) for _, part in chosen.groupby("problem", sort=True))


@styled
def plot_performance_profile(
    runs: pd.DataFrame, curves: pd.DataFrame, metric: str = "val_loss", lang: str = DEFAULT
) -> Figure | None:
    """Dolan–Moré performance profile of time-to-target over the study's problems (≥ 2)."""
    if runs["problem"].nunique() < 2 or not has_metric(curves, metric):
        return None
    ttt = to_time_to_target(curves, runs, metric)
    profile = to_performance_profile(ttt)
    fig, axes = new_figure()
    ax, palette, styles, tr = axes[0, 0], to_palette(runs), to_styles(runs), load(lang)
    for label in [o for o in to_label_order(runs) if o in set(profile["label"])]:
        part = profile[profile["label"] == label]
        style = {"color": palette[label], "label": label, **styles[label], "marker": None}
        ax.step(part["tau"], part["fraction"], where="post", **style)
    ax.set_xscale("log", base=2)  # τ is a ratio: 1, 2, 4, … times the fastest
    ax.set(
        ylim=(-0.02, 1.02),
        xlabel=tr("fig.tau"),
        ylabel=tr("fig.fraction"),
        title=tr("fig.profile", metric=tr.term(metric)),
    )
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    add_legend(fig, axes, _profile_entries(ttt, runs))
    return fig


#: Name → ``plot(runs, curves, lang=DEFAULT)``; the paths' labels (x, y, the functions'
#: names, the optimizers') read the same in every language.
FIGURES: dict[str, Callable[..., Figure | None]] = {
    "loss": lambda runs, curves, lang=DEFAULT: plot_loss_curves(runs, curves, lang=lang),
    "accuracy": plot_accuracy_curves,
    "effective_lr": plot_effective_lr,
    "accumulator": plot_accumulator,
    "lr_sensitivity": lambda runs, curves, lang=DEFAULT: plot_lr_sensitivity(runs, lang=lang),
    "decay_heatmap": lambda runs, curves, lang=DEFAULT: plot_decay_heatmap(runs, lang=lang),
    "trajectories": lambda runs, curves, lang=DEFAULT: plot_trajectories(runs, curves),
    "performance_profile": lambda runs, curves, lang=DEFAULT: plot_performance_profile(
        runs, curves, lang=lang
    ),
}


def write_figures(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    progress: Callable[[str], None] | None = None,
    lang: str = DEFAULT,
) -> dict[str, Path]:
    """Draw every figure that applies and save it (PNG, SVG, PDF by default); name → PNG path.

    Labels are in ``lang``; a language with a font of its own (:mod:`analysis.i18n_fonts`)
    draws and saves in that font, and only here. ``progress`` receives one line per figure:
    ``figure k/N name`` and whether it was skipped.
    """
    with figure_font(load(lang)):
        return _write_figures(runs, curves, out_dir, formats, progress, lang)


def _write_figures(runs, curves, out_dir, formats, progress, lang) -> dict[str, Path]:
    written = {}
    for k, (name, plot) in enumerate(FIGURES.items(), start=1):
        fig = plot(runs, curves, lang=lang)
        if fig is not None:
            written[name] = save_figure(fig, out_dir, name, formats)
        if progress is not None:
            progress(f"figure {k}/{len(FIGURES)} {name}" + ("" if fig else " (no data: skipped)"))
    return written
