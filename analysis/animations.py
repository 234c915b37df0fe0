"""Animated figures for a class, written as GIFs through Pillow (no ffmpeg).

- ``paths``: every optimizer's path over the contours of each 2-D function of a study, step by
  step (the runs the static trajectory figure shows);
- ``jar_filling``: the lecture's two pictures side by side. Adagrad's accumulator h is the jar
  that only fills (``h += g²``); RMSprop's is the coffee blend (``h = αh + (1 − α)g²``) at two
  decay rates. Beneath, each one's effective step size ``lr/(√h + eps)``. All three see the
  same seeded gradient stream, run through :mod:`harness.core.optim`, so this needs no store.

Frames are drawn on one matplotlib figure (Agg canvas), then mapped onto one shared palette,
so pixels that do not change keep their index and Pillow stores only each frame's changed box.
A report embeds the GIFs like its PNGs (:mod:`analysis.render`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from analysis.i18n_fonts import figure_font
from analysis.palette import (
    add_legend,
    new_figure,
    set_log_ticks,
    styled,
    to_label_order,
    to_palette,
    to_styles,
)
from analysis.render import FigureRef
from analysis.strings import DEFAULT, Strings, load
from analysis.surfaces import SURFACES
from analysis.trajectories import draw_surface, to_representatives, to_trajectory
from harness.core.optim import Adagrad, Optimizer, RMSprop

__all__ = [
    "ANIMATIONS",
    "GIF_DPI",
    "MAX_FRAMES",
    "has_trajectories",
    "plot_jar_filling",
    "plot_paths",
    "save_gif",
    "to_chosen_paths",
    "to_frame_steps",
    "to_gradient_stream",
    "to_jar_caption",
    "to_jar_filling",
    "to_paths_caption",
    "write_animations",
]

MAX_FRAMES = 60  # per animation: smooth enough to follow, a few hundred kB as GIF
GIF_DPI = 100  # 1000 px wide at the palette's 10 in: sharp in the report's column
FRAME_MS = 90
HOLD_MS = 2500  # the last frame stays, so a class can read the end before it loops
GIF_COLORS = 256  # one palette for every frame: unchanged pixels keep their index

JAR_STEPS = 400
JAR_LR = 0.01
JAR_DECAY_RATES = (0.9, 0.99)
JAR_QUIET_FROM = 200  # from this step the gradients are ten times smaller
JAR_QUIET_FACTOR = 0.1


# --- frames ---------------------------------------------------------------------------------
def to_frame_steps(last: int, frames: int = MAX_FRAMES, spacing: str = "early") -> np.ndarray:
    """The steps the frames show, 0 and ``last`` included, at most ``frames`` of them.

    ``early``: every step for the first third of the frames, then geometric spacing (paths move
    most at the start); ``linear``: evenly spaced (a curve drawn against a linear step axis).

    >>> to_frame_steps(5).tolist()
    [0, 1, 2, 3, 4, 5]
    >>> steps = to_frame_steps(300)
    >>> len(steps) <= 60, steps[:21].tolist() == list(range(21)), int(steps[-1])
    (True, True, 300)
    >>> to_frame_steps(400, 5, "linear").tolist()
    [0, 100, 200, 300, 400]
    """
    if last + 1 <= frames:
        return np.arange(last + 1)
    if spacing == "linear":
        return np.unique(np.round(np.linspace(0, last, frames)).astype(int))
    dense = frames // 3
    tail = np.round(np.geomspace(dense, last, frames - dense)).astype(int)
    return np.unique(np.concatenate([np.arange(dense), tail]))


def _on_canvas(fig: Figure) -> Figure:
    """``fig`` on an Agg canvas at :data:`GIF_DPI`, ready to be drawn frame after frame."""
    fig.set_dpi(GIF_DPI)
    FigureCanvasAgg(fig)
    return fig


def _to_image(fig: Figure) -> Image.Image:
    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


def _to_palette_image(images: list[Image.Image]) -> Image.Image:
    """One palette for every frame, from the first, middle and last frames stacked."""
    picked = [images[0], images[len(images) // 2], images[-1]]
    width, height = picked[0].size
    sheet = Image.new("RGB", (width, height * len(picked)))
    for i, image in enumerate(picked):
        sheet.paste(image, (0, i * height))
    return sheet.quantize(GIF_COLORS, method=Image.Quantize.MAXCOVERAGE)


def save_gif(images: list[Image.Image], path: Path) -> Path:
    """Write ``images`` as a looping GIF on one shared palette; the last frame is held.

    >>> import tempfile
    >>> frames = [Image.new("RGB", (8, 8), c) for c in ("white", "red")]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     gif = Image.open(save_gif(frames, Path(folder) / "a.gif"))
    ...     gif.n_frames, gif.info["loop"]
    (2, 0)
    """
    palette = _to_palette_image(images)
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    durations = [FRAME_MS] * (len(frames) - 1) + [HOLD_MS]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1
    )
    return path


# --- paths over contours ----------------------------------------------------------------------
def has_trajectories(runs: pd.DataFrame, curves: pd.DataFrame) -> bool:
    """Whether the study ran a 2-D function the lab draws and recorded its ``x``, ``y``."""
    if "model.name" not in runs or curves.empty or not set(runs["model.name"]) & set(SURFACES):
        return False
    return bool(curves["metric"].isin(["x", "y"]).any())


def to_chosen_paths(runs: pd.DataFrame, curves: pd.DataFrame) -> dict[str, dict]:
    """Function → label → ``(lr, path)``: the runs the static trajectory figure shows."""
    chosen = {}
    for model in [m for m in SURFACES if m in set(runs["model.name"])]:
        paths = {}
        for row in to_representatives(runs, model).to_dict("records"):
            path = to_trajectory(curves, row["run_id"])
            if len(path):
                paths[row["label"]] = (float(row["optimizer.lr"]), path)
        if paths:
            chosen[model] = paths
    return chosen


def _lr_entries(chosen: dict[str, dict]) -> dict[str, str]:
    """Label → ``label · lr a | b``, its lr on each function in panel order (one if equal)."""
    lrs: dict[str, list[str]] = {}
    for paths in chosen.values():
        for label, (lr, _) in paths.items():
            lrs.setdefault(label, []).append(f"{lr:g}")
    return {label: f"{label} · lr {' | '.join(dict.fromkeys(v))}" for label, v in lrs.items()}


def _frames(fig: Figure, steps: list[int], show: Callable[[int], None], tr: Strings) -> list:
    """One image per step: ``show(step)`` updates the artists, the title counts the steps.

    Drawn in the language's figure font: text finds its font when drawn, and the lab's style
    (:func:`analysis.palette.styled`, around the plot functions) names its own font list.
    """
    last = steps[-1]
    with figure_font(tr):
        title = fig.suptitle("")
        _freeze_layout(fig, title, tr("anim.step_of", step=last, last=last))
        images = []
        for step in steps:
            show(step)
            title.set_text(tr("anim.step_of", step=step, last=last))
            images.append(_to_image(fig))
    return images


def _freeze_layout(fig: Figure, title, widest: str) -> None:
    """Lay the figure out once around its widest title, so no frame shifts the axes."""
    title.set_text(widest)
    fig.canvas.draw()
    fig.set_layout_engine("none")


@styled
def plot_paths(
    runs: pd.DataFrame, curves: pd.DataFrame, frames: int = MAX_FRAMES, lang: str = DEFAULT
) -> list:
    """Frames of every optimizer's path growing over the contours, one panel per function."""
    tr = load(lang)
    chosen = to_chosen_paths(runs, curves)
    fig, axes = new_figure(len(chosen))
    _on_canvas(fig)
    palette, order, drawn = to_palette(runs), to_label_order(runs), []
    for ax, (model, paths) in zip(axes.flat, chosen.items(), strict=True):
        draw_surface(ax, SURFACES[model], [path for _, path in paths.values()])
        ax.set_title(model)
        for label in [o for o in order if o in paths]:
            color = palette[label]
            (line,) = ax.plot([], [], "-", lw=1.2, color=color, label=label)
            (head,) = ax.plot([], [], "o", ms=5, color=color)
            drawn.append((paths[label][1], line, head))
    add_legend(fig, axes, _lr_entries(chosen))
    last = max(int(path["step"].iloc[-1]) for path, _, _ in drawn)

    def show(step: int) -> None:
        for path, line, head in drawn:
            shown = path[path["step"] <= step]
            line.set_data(shown["x"], shown["y"])
            head.set_data(shown["x"].iloc[-1:], shown["y"].iloc[-1:])

    return _frames(fig, to_frame_steps(last, frames), show, tr)


def to_paths_caption(
    runs: pd.DataFrame, curves: pd.DataFrame, frames: int = MAX_FRAMES, lang: str = DEFAULT
) -> str:
    """What the paths animation shows, from the same runs and curves, in ``lang``."""
    tr = load(lang)
    chosen = to_chosen_paths(runs, curves)
    last = max(
        int(path["step"].iloc[-1]) for paths in chosen.values() for _, path in paths.values()
    )
    steps = to_frame_steps(last, frames)
    dense = int(np.argmax(np.diff(steps) > 1)) if (np.diff(steps) > 1).any() else last
    labels = [o for o in to_label_order(runs) if any(o in paths for paths in chosen.values())]
    return tr(
        "anim.paths",
        labels=tr("cap.list").join(labels),
        functions=tr("cap.and").join(chosen),
        last=last,
        frames=len(steps),
        dense=dense,
        hold=HOLD_MS / 1000,
    )


# --- the jar filling -------------------------------------------------------------------------
def to_gradient_stream(
    steps: int = JAR_STEPS, seed: int = 0, quiet_from: int | None = JAR_QUIET_FROM
) -> pd.DataFrame:
    """A seeded stream of scalar gradients ``g_t ~ N(0, 1)``, scaled by ``JAR_QUIET_FACTOR``
    from step ``quiet_from`` on (None: never); columns ``step`` (from 1), ``grad``, ``scale``.

    >>> stream = to_gradient_stream(4, quiet_from=3)
    >>> stream["scale"].tolist(), bool(stream.equals(to_gradient_stream(4, quiet_from=3)))
    ([1.0, 1.0, 0.1, 0.1], True)
    """
    step = np.arange(1, steps + 1)
    quiet = np.zeros(steps, bool) if quiet_from is None else step >= quiet_from
    scale = np.where(quiet, JAR_QUIET_FACTOR, 1.0)
    grad = np.random.default_rng(seed).normal(0.0, 1.0, steps) * scale
    return pd.DataFrame({"step": step, "grad": grad, "scale": scale})


def to_jar_filling(
    stream: pd.DataFrame, lr: float = JAR_LR, decay_rates: Iterable[float] = JAR_DECAY_RATES
) -> pd.DataFrame:
    """Adagrad's and RMSprop's accumulator ``h`` and effective step after each update, all fed
    the same ``stream`` through :mod:`harness.core.optim` (one parameter, the lecture's dict API).

    Long table: ``step, grad, scale, label, optimizer, h, effective_lr, optimizer.lr,
    optimizer.decay_rate``.

    >>> jar = to_jar_filling(to_gradient_stream(50, quiet_from=None))
    >>> h = jar.pivot(index="step", columns="label", values="h")
    >>> fills, blend = h["Adagrad"], h["RMSprop α=0.9"]
    >>> bool(fills.is_monotonic_increasing), bool(fills.iloc[-1] > 10 * blend.iloc[-1])
    (True, True)
    """
    arms: dict[str, tuple[Optimizer, float]] = {"Adagrad": (Adagrad(lr=lr), np.nan)}
    for alpha in decay_rates:
        arms[f"RMSprop α={alpha:g}"] = (RMSprop(lr=lr, decay_rate=alpha), alpha)
    tables = []
    for label, (optimizer, alpha) in arms.items():
        params, h, step_size = {"w": np.zeros(1)}, [], []
        for g in stream["grad"]:
            optimizer.update(params, {"w": np.array([g])})
            h.append(float(optimizer.state["h"]["w"][0]))
            step_size.append(float(optimizer.effective_lr()[0]))
        name = type(optimizer).__name__.lower()
        table = stream.assign(label=label, optimizer=name, h=h, effective_lr=step_size)
        tables.append(table.assign(**{"optimizer.lr": lr, "optimizer.decay_rate": alpha}))
    return pd.concat(tables, ignore_index=True)


def _quiet_step(jar: pd.DataFrame) -> int | None:
    quiet = jar.loc[jar["scale"] < 1, "step"]
    return int(quiet.min()) if len(quiet) else None


def _log_limits(values: pd.Series) -> tuple[float, float]:
    positive = values[values > 0]
    return float(positive.min()) / 1.5, float(positive.max()) * 1.5


@styled
def plot_jar_filling(jar: pd.DataFrame, frames: int = MAX_FRAMES, lang: str = DEFAULT) -> list:
    """Frames of ``h`` (above) and ``lr/(√h + eps)`` (beneath) growing step by step."""
    tr = load(lang)
    fig, axes = new_figure(1, 2)
    _on_canvas(fig)
    palette, styles, order = to_palette(jar), to_styles(jar), to_label_order(jar)
    last, quiet = int(jar["step"].max()), _quiet_step(jar)
    drawn = []
    panels = {"h": tr("anim.h"), "effective_lr": tr("anim.effective_step")}
    for ax, (column, ylabel) in zip(axes[:, 0], panels.items(), strict=True):
        for label in order:
            part = jar[jar["label"] == label]
            style = {**styles[label], "markevery": max(last // 10, 1), "ms": 4}
            (line,) = ax.plot([], [], color=palette[label], label=label, **style)
            drawn.append((part, column, line))
        if quiet is not None:
            ax.axvline(quiet, color="0.3", ls=":", lw=1)
        ax.set(xlim=(0, last), ylim=_log_limits(jar[column]), yscale="log", ylabel=ylabel)
        set_log_ticks(ax, "y")
    axes[1, 0].set_xlabel(tr("fig.step"))
    entries = {
        label: tr("anim.entry", label=label, what=tr(f"anim.entry.{opt}"))
        for label, opt in jar.drop_duplicates("label")[["label", "optimizer"]].to_numpy()
    }
    add_legend(fig, axes, entries)

    def show(step: int) -> None:
        for part, column, line in drawn:
            shown = part[part["step"] <= step]
            line.set_data(shown["step"], shown[column])

    return _frames(fig, to_frame_steps(last, frames, "linear"), show, tr)


def to_jar_caption(jar: pd.DataFrame, frames: int = MAX_FRAMES, lang: str = DEFAULT) -> str:
    """What the jar animation shows, and where each arm ends, from the same table, in ``lang``."""
    tr = load(lang)
    last, quiet = int(jar["step"].max()), _quiet_step(jar)
    end = jar[jar["step"] == last].set_index("label")
    order = [label for label in to_label_order(jar) if label in end.index]
    alphas = tr("cap.and").join(f"{a:g}" for a in jar["optimizer.decay_rate"].dropna().unique())
    stream = "g ~ N(0, 1)"
    if quiet is not None:
        scale = float(jar.loc[jar["step"] == quiet, "scale"].iloc[0])
        stream += tr("anim.quiet", scale=scale, step=quiet)
    ends = tr("sentence.join").join(
        tr("anim.end", label=label, h=end.at[label, "h"], step=end.at[label, "effective_lr"])
        for label in order
    )
    return tr(
        "anim.jar",
        alphas=alphas,
        last=last,
        stream=stream,
        lr=jar["optimizer.lr"].iloc[0],
        ends=ends,
        frames=len(to_frame_steps(last, frames, "linear")),
    )


# --- into a report ---------------------------------------------------------------------------
def _paths(runs: pd.DataFrame, curves: pd.DataFrame, lang: str) -> tuple[list, str]:
    return plot_paths(runs, curves, lang=lang), to_paths_caption(runs, curves, lang=lang)


def _jar_filling(runs: pd.DataFrame, curves: pd.DataFrame, lang: str) -> tuple[list, str]:
    jar = to_jar_filling(to_gradient_stream())
    return plot_jar_filling(jar, lang=lang), to_jar_caption(jar, lang=lang)


#: Name → frames and caption, in a language, of a study with 2-D trajectories (the jar needs
#: no runs).
ANIMATIONS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, str], tuple[list, str]]] = {
    "paths": _paths,
    "jar_filling": _jar_filling,
}


def write_animations(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    folder: Path,
    progress: Callable[[str], None] | None = None,
    lang: str = DEFAULT,
) -> list[FigureRef]:
    """Write every animation as ``figures/<name>.gif`` under the report ``folder`` when the
    study has 2-D trajectories (none otherwise); their figures, paths relative to ``folder``.

    Titles, labels and captions are in ``lang`` (the caller draws inside the language's
    figure font). ``progress`` receives one line per animation: ``animation k/N name``.
    """
    if not has_trajectories(runs, curves):
        return []
    written = []
    for k, (name, make) in enumerate(ANIMATIONS.items(), start=1):
        images, text = make(runs, curves, lang)
        path = save_gif(images, Path(folder) / "figures" / f"{name}.gif")
        written.append(FigureRef(path.relative_to(folder).as_posix(), text))
        if progress is not None:
            progress(f"animation {k}/{len(ANIMATIONS)} {name}")
    return written
