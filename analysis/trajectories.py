"""2-D optimizer trajectories over contour lines of the textbook test functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.palette import add_legend, new_figure, styled, to_label_order, to_palette
from analysis.surfaces import SURFACES, Surface

__all__ = ["draw_surface", "plot_trajectories", "to_representatives", "to_trajectory"]


def to_trajectory(curves: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The ``step, x, y`` points of one run (step 0 is the start), in step order.

    >>> curves = pd.DataFrame({"run_id": ["r"] * 4, "step": [0, 0, 1, 1],
    ...     "metric": ["x", "y", "x", "y"], "value": [-7.0, 2.0, -6.0, 1.0]})
    >>> to_trajectory(curves, "r").to_dict("list")
    {'step': [0, 1], 'x': [-7.0, -6.0], 'y': [2.0, 1.0]}
    """
    part = curves[(curves["run_id"] == run_id) & curves["metric"].isin(["x", "y"])]
    wide = part.pivot_table(index="step", columns="metric", values="value", observed=True)
    return wide.reindex(columns=["x", "y"]).dropna().reset_index().rename_axis(columns=None)


def to_representatives(runs: pd.DataFrame, model: str) -> pd.DataFrame:
    """One run per label on ``model``: its lowest seed, of the group with the lowest final loss."""
    part = runs[runs["model.name"] == model]
    score = part["final_val_loss"] if "final_val_loss" in part else pd.Series(np.nan, part.index)
    part = part.assign(score=score.where(~part["diverged"], np.inf))
    best = part.groupby("group")["score"].median().rename("group_score")
    part = part.join(best, on="group").sort_values(["group_score", "seed"], na_position="last")
    return part.drop_duplicates("label")


def draw_surface(ax: Axes, surface: Surface, points: list[pd.DataFrame]) -> None:
    """Contours of ``surface`` over its view box, widened to every path's start; its minimum."""
    xs = np.concatenate([[surface.xlim[0], surface.xlim[1]], *(p["x"].iloc[:1] for p in points)])
    ys = np.concatenate([[surface.ylim[0], surface.ylim[1]], *(p["y"].iloc[:1] for p in points)])
    xlim, ylim = (xs.min(), xs.max()), (ys.min(), ys.max())
    box = Surface(surface.f, xlim, ylim, surface.minimum, surface.log_levels)
    x, y = box.grid()
    ax.contour(x, y, box.f(x, y), levels=box.levels(), colors="0.6", linewidths=0.5)
    ax.plot(*surface.minimum, marker="*", color="black", ms=10, ls="none")
    ax.set(xlim=xlim, ylim=ylim, xlabel="x", ylabel="y")


@styled
def plot_trajectories(runs: pd.DataFrame, curves: pd.DataFrame) -> Figure | None:
    """Every optimizer's path on each 2-D function of the study (one panel per function)."""
    if "model.name" not in runs or not curves["metric"].isin(["x", "y"]).any():
        return None
    models = [m for m in SURFACES if m in set(runs["model.name"])]
    if not models:
        return None
    fig, axes = new_figure(len(models))
    palette, order = to_palette(runs), to_label_order(runs)
    for ax, model in zip(axes.flat, models, strict=True):
        chosen = to_representatives(runs, model)
        paths = {row.label: to_trajectory(curves, row.run_id) for row in chosen.itertuples()}
        paths = {label: path for label, path in paths.items() if len(path)}
        draw_surface(ax, SURFACES[model], list(paths.values()))
        for label in [o for o in order if o in paths]:
            path = paths[label]
            ax.plot(path["x"], path["y"], "-o", ms=2, lw=1, color=palette[label], label=label)
        ax.set_title(model)
    add_legend(fig, axes)
    return fig
