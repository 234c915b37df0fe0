"""One style for every figure: palette and line styles keyed by run label, size, fonts, legend.

Each optimizer keeps its hue across figures: SGD dark grey, Momentum green, Nesterov teal,
Adagrad orange, Adam red, and RMSprop a sequential blue family ordered by decay rate (light for
short memory, dark for long). An optimizer without a hue of its own takes one of the hues left
free, in the registry's order (AdaDelta purple, AMSGrad brown), so it too keeps its hue.
Variants of one optimizer (the hyperparameter that names its groups: RMSprop's α, AdaDelta's ρ)
are ordered by that value and also differ by line style and marker, so they stay apart in grey
print and for colour-blind readers. Several labels of one other optimizer get light-to-full
shades of its hue.

Every figure is :data:`FIGURE_WIDTH` inches wide (panels share it) and :data:`ROW_HEIGHT` tall
per row of panels, with one legend under the panels. The report shows a figure at the width of
its 72rem (1152 px = 12 in) column, so a font of ``s`` pt shows at ``s × 12 / FIGURE_WIDTH`` pt:
the 10 pt minimum below shows at 12 pt. Figures are drawn on ``matplotlib.figure.Figure``
objects (Agg canvas, no pyplot state) and saved as PNG (:data:`DPI`), SVG and PDF.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

from analysis.contract import OPTIMIZER_ORDER
from harness.core.optim import OPTIMIZERS

__all__ = [
    "DPI",
    "FIGURE_WIDTH",
    "FONT_SIZES",
    "FORMATS",
    "add_legend",
    "new_figure",
    "save_figure",
    "set_log_ticks",
    "styled",
    "to_label_order",
    "to_palette",
    "to_styles",
]

Color = tuple[float, float, float]
BASE_COLORS = {
    "sgd": "#4d4d4d",
    "momentum": "#2ca02c",
    "nesterov": "#17becf",
    "adagrad": "#ff7f0e",
    "adam": "#d62728",
}
FAMILY_CMAPS = {"rmsprop": "Blues"}
FAMILY_RANGE = (0.45, 0.95)  # of the sequential map: its palest end vanishes on white
#: The tab10 hues the ones above leave free (purple, brown, pink, olive): for other optimizers,
#: handed out in the registry's order (names the registry does not know take Set2's).
FREE_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22"]
OTHER_COLORS = dict(
    zip(
        [n for n in OPTIMIZER_ORDER if n not in {**BASE_COLORS, **FAMILY_CMAPS}],
        FREE_COLORS,
        strict=False,
    )
)
LINE_STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
FIGURE_WIDTH = 10.0  # inches, every figure: fills the report column, fits a 16:9 slide
ROW_HEIGHT = 3.4  # inches per row of panels
LEGEND_HEIGHT = 0.9  # inches under the panels for the legend (up to three rows of entries)
DPI = 200  # 2000 px wide: sharp at the report's 1152 px column on a 1.7× screen
FORMATS = ("png", "svg", "pdf")
FONT_SIZES = {  # points at FIGURE_WIDTH; nothing smaller than 10
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
}
SAVE_RC = {"svg.hashsalt": "optlab", "svg.fonttype": "path"}  # same ids on every save


def to_label_order(runs: pd.DataFrame) -> list[str]:
    """Labels in a stable order: by optimizer (the registry's), then the value of the
    hyperparameter that names its groups (RMSprop's decay rate), then name.

    >>> runs = pd.DataFrame({"label": ["Adam", "RMSprop α=0.99", "RMSprop α=0.9"],
    ...     "optimizer": ["adam", "rmsprop", "rmsprop"], "optimizer.decay_rate": [None, .99, .9]})
    >>> to_label_order(runs)
    ['RMSprop α=0.9', 'RMSprop α=0.99', 'Adam']
    >>> runs = pd.DataFrame({"label": ["AMSGrad", "AdaDelta ρ=0.95", "AdaDelta ρ=0.9"],
    ...     "optimizer": ["amsgrad", "adadelta", "adadelta"], "optimizer.rho": [None, .95, .9]})
    >>> to_label_order(runs)
    ['AdaDelta ρ=0.9', 'AdaDelta ρ=0.95', 'AMSGrad']
    >>> palette = to_palette(runs)  # hues of their own: AdaDelta's purple, AMSGrad brown
    >>> sns.light_palette("#9467bd", 3)[1:] == [palette[k] for k in to_label_order(runs)[:2]]
    True
    >>> palette["AMSGrad"] == sns.color_palette(["#8c564b"])[0]
    True
    """
    return _labels(runs)["label"].tolist()


def _labels(runs: pd.DataFrame) -> pd.DataFrame:
    variant = _variants(runs)
    table = pd.DataFrame(
        {"label": runs["label"], "optimizer": runs["optimizer"], "variant": variant}
    )
    table = table.drop_duplicates("label")
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    table["rank"] = table["optimizer"].map(rank).fillna(len(rank))
    return table.sort_values(["rank", "optimizer", "variant", "label"], na_position="first")


def _variants(runs: pd.DataFrame) -> pd.Series:
    """Per run, the value of the first hyperparameter naming its optimizer's groups, else nan."""
    variant = pd.Series(np.nan, index=runs.index, dtype=float)
    for name, cls in OPTIMIZERS.items():
        naming = [key for key, spec in cls.hyperparameters.items() if spec.symbol]
        column = f"optimizer.{naming[0]}" if naming else None
        if column in runs:
            mine = runs["optimizer"] == name
            variant[mine] = pd.to_numeric(runs.loc[mine, column], errors="coerce")
    return variant


def to_palette(runs: pd.DataFrame) -> dict[str, Color]:
    """Label → RGB colour, consistent across figures of one study.

    >>> runs = pd.DataFrame({"label": ["Adagrad", "RMSprop α=0.9", "RMSprop α=0.99"],
    ...     "optimizer": ["adagrad", "rmsprop", "rmsprop"],
    ...     "optimizer.decay_rate": [None, .9, .99]})
    >>> palette = to_palette(runs)
    >>> palette["Adagrad"] == sns.color_palette(["#ff7f0e"])[0]
    True
    >>> sum(palette["RMSprop α=0.9"]) > sum(palette["RMSprop α=0.99"])  # darker = longer memory
    True
    """
    palette: dict[str, Color] = {}
    others = iter(sns.color_palette("Set2", 8) * 4)  # names no registry knows
    for optimizer, part in _labels(runs).groupby("optimizer", sort=False):
        colors = _family(str(optimizer), len(part), others)
        palette.update(zip(part["label"], colors, strict=True))
    return palette


def _family(optimizer: str, n: int, others) -> list[Color]:
    if optimizer in FAMILY_CMAPS:
        cmap = sns.color_palette(FAMILY_CMAPS[optimizer], as_cmap=True)
        shades = np.linspace(*FAMILY_RANGE, n) if n > 1 else [np.mean(FAMILY_RANGE)]
        return [tuple(float(c) for c in cmap(x)[:3]) for x in shades]
    base = BASE_COLORS.get(optimizer) or OTHER_COLORS.get(optimizer) or next(others)
    if n == 1:
        return sns.color_palette([base])
    return sns.light_palette(base, n + 1)[1:]


def to_styles(runs: pd.DataFrame) -> dict[str, dict]:
    """Label → ``ls`` and ``marker``: the second cue beside colour for variants of an optimizer.

    An optimizer with one label draws solid lines without markers; its variants (decay rates,
    in order) take one line style and marker each.

    >>> runs = pd.DataFrame({"label": ["Adam", "RMSprop α=0.9", "RMSprop α=0.99"],
    ...     "optimizer": ["adam", "rmsprop", "rmsprop"], "optimizer.decay_rate": [None, .9, .99]})
    >>> styles = to_styles(runs)
    >>> styles["Adam"], styles["RMSprop α=0.9"], styles["RMSprop α=0.99"]
    ({'ls': '-', 'marker': None}, {'ls': '-', 'marker': 'o'}, {'ls': '--', 'marker': 's'})
    """
    styles = {}
    for _, part in _labels(runs).groupby("optimizer", sort=False):
        for i, label in enumerate(part["label"]):
            several = len(part) > 1
            styles[label] = {
                "ls": LINE_STYLES[i % len(LINE_STYLES)] if several else "-",
                "marker": MARKERS[i % len(MARKERS)] if several else None,
            }
    return styles


def styled(plot: Callable) -> Callable:
    """Draw inside the lab's style (whitegrid, :data:`FONT_SIZES`) without touching globals."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with (
            sns.axes_style("whitegrid"),
            sns.plotting_context("paper", rc=FONT_SIZES),
            mpl.rc_context({"legend.frameon": False, "lines.linewidth": 1.5}),
        ):
            return plot(*args, **kwargs)

    return wrapper


def new_figure(ncols: int = 1, nrows: int = 1, legend: bool = True) -> tuple[Figure, np.ndarray]:
    """A :data:`FIGURE_WIDTH`-wide figure of ``nrows × ncols`` panels; axes as a 2-D array.

    >>> fig, axes = new_figure(2)
    >>> axes.shape, fig.get_size_inches().tolist()
    ((1, 2), [10.0, 4.3])
    """
    height = ROW_HEIGHT * nrows + (LEGEND_HEIGHT if legend else 0.0)
    fig = Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def add_legend(fig: Figure, axes: np.ndarray, entries: Mapping[str, str] | None = None) -> None:
    """One legend under the panels with every label of every panel, in drawing order.

    ``entries`` maps a label to the text its entry shows (its lr and n, say); others show as is.
    """
    unique = {}
    for ax in axes.flat:
        handles, labels = ax.get_legend_handles_labels()
        unique.update(zip(labels, handles, strict=True))
    if not unique:
        return
    texts = [(entries or {}).get(label, label) for label in unique]
    ncols = min(len(texts), max(1, int(FIGURE_WIDTH // _entry_width(texts))))
    fig.legend(unique.values(), texts, loc="outside lower center", ncols=ncols)


def _entry_width(texts: Sequence[str]) -> float:
    """Inches an entry takes at the legend font: its handle plus its longest text."""
    return 0.8 + 0.6 * FONT_SIZES["legend.fontsize"] / 72 * max(len(t) for t in texts)


def set_log_ticks(ax: Axes, axis: str = "y", widen: bool = True) -> None:
    """Label only powers of ten on a log ``axis``, widening its limits to show at least two.

    Called after drawing, so the limits come from the data; minor ticks stay unlabelled. A
    colour bar's axis must keep its limits (``widen=False``).

    >>> fig, axes = new_figure()
    >>> _ = axes[0, 0].semilogy([0, 1], [0.15, 0.6])
    >>> set_log_ticks(axes[0, 0])
    >>> [round(float(v), 6) for v in axes[0, 0].get_ylim()]
    [0.1, 1.0]
    """
    which = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = np.log10(which.get_view_interval())
    if widen and np.floor(hi) - np.ceil(lo) < 1:  # fewer than two powers of ten inside
        down, up = lo - np.floor(lo), np.ceil(hi) - hi
        lo, hi = (np.floor(lo), hi) if down <= up else (lo, np.ceil(hi))
        if np.floor(hi) - np.ceil(lo) < 1:
            lo, hi = np.floor(lo), np.ceil(hi)
        (ax.set_ylim if axis == "y" else ax.set_xlim)(10**lo, 10**hi)
    which.set_major_locator(LogLocator(base=10))
    which.set_major_formatter(LogFormatterSciNotation(base=10))
    which.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10)))
    which.set_minor_formatter(NullFormatter())


def save_figure(fig: Figure, out_dir: Path, name: str, formats: Sequence[str] = FORMATS) -> Path:
    """Save ``fig`` as ``name.<format>`` in ``out_dir`` (PNG at :data:`DPI`); the PNG's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(SAVE_RC):
        for fmt in formats:
            fig.savefig(out_dir / f"{name}.{fmt}", dpi=DPI)
    return out_dir / f"{name}.png"
