"""One palette for every figure, keyed by run label, and the shared figure plumbing.

Each optimizer keeps its hue across figures: SGD dark grey, Momentum green, Nesterov teal,
Adagrad orange, Adam red, and RMSprop a sequential blue family ordered by decay rate (light for
short memory, dark for long). Several labels of one other optimizer get light-to-full shades of
its hue. Figures are drawn on ``matplotlib.figure.Figure`` objects (Agg canvas, no pyplot state)
and saved as PNG and PDF.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.contract import OPTIMIZER_ORDER

__all__ = ["add_legend", "new_figure", "save_figure", "styled", "to_label_order", "to_palette"]

Color = tuple[float, float, float]
BASE_COLORS = {
    "sgd": "#4d4d4d",
    "momentum": "#2ca02c",
    "nesterov": "#17becf",
    "adagrad": "#ff7f0e",
    "adam": "#d62728",
}
FAMILY_CMAPS = {"rmsprop": "Blues"}
OTHER_COLORS = sns.color_palette("Set2", 8)
PANEL_SIZE = (4.6, 3.4)  # inches per panel: two panels fit a 16:9 slide or a paper's text width
DPI = 200
FORMATS = ("png", "pdf")


def to_label_order(runs: pd.DataFrame) -> list[str]:
    """Labels in a stable order: by optimizer (SGD … Adam), then decay rate, then name.

    >>> runs = pd.DataFrame({"label": ["Adam", "RMSprop α=0.99", "RMSprop α=0.9"],
    ...     "optimizer": ["adam", "rmsprop", "rmsprop"], "optimizer.decay_rate": [None, .99, .9]})
    >>> to_label_order(runs)
    ['RMSprop α=0.9', 'RMSprop α=0.99', 'Adam']
    """
    return _labels(runs)["label"].tolist()


def _labels(runs: pd.DataFrame) -> pd.DataFrame:
    decay = runs.get("optimizer.decay_rate", np.nan)
    table = pd.DataFrame({"label": runs["label"], "optimizer": runs["optimizer"], "decay": decay})
    table = table.drop_duplicates("label")
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    table["rank"] = table["optimizer"].map(rank).fillna(len(rank))
    table["decay"] = pd.to_numeric(table["decay"], errors="coerce")
    return table.sort_values(["rank", "optimizer", "decay", "label"], na_position="first")


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
    others = iter(OTHER_COLORS * 4)
    for optimizer, part in _labels(runs).groupby("optimizer", sort=False):
        colors = _family(str(optimizer), len(part), others)
        palette.update(zip(part["label"], colors, strict=True))
    return palette


def _family(optimizer: str, n: int, others) -> list[Color]:
    if optimizer in FAMILY_CMAPS:
        shades = sns.color_palette(FAMILY_CMAPS[optimizer], n + 2)
        return shades[2:] if n > 1 else [shades[-2]]
    base = BASE_COLORS.get(optimizer) or next(others)
    if n == 1:
        return sns.color_palette([base])
    return sns.light_palette(base, n + 1)[1:]


def styled(plot: Callable) -> Callable:
    """Draw inside the lab's seaborn style (whitegrid, paper context) without touching globals."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1):
            return plot(*args, **kwargs)

    return wrapper


def new_figure(ncols: int = 1, nrows: int = 1, **subplot_kw) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows × ncols`` panels; axes always as a 2-D array.

    >>> fig, axes = new_figure(2)
    >>> axes.shape
    (1, 2)
    """
    width, height = PANEL_SIZE
    fig = Figure(figsize=(width * ncols + 1.4, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)


def add_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend for the figure, right of the panels, with every label of every panel."""
    unique = {}
    for ax in axes.flat:
        handles, labels = ax.get_legend_handles_labels()
        unique.update(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="outside right upper", frameon=False)


def save_figure(fig: Figure, out_dir: Path, name: str, formats: Sequence[str] = FORMATS) -> Path:
    """Save ``fig`` as ``name.png`` and ``name.pdf`` in ``out_dir``; returns the PNG path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        fig.savefig(out_dir / f"{name}.{fmt}", dpi=DPI)
    return out_dir / f"{name}.png"
