"""Every figure is drawn for the fixture studies, and skipped when its data are absent."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import MAIN_EXPERIMENT, PLANAR_EXPERIMENT, shared_store
from matplotlib.text import Text
from matplotlib.ticker import ScalarFormatter

from analysis import figures, palette, render
from analysis.captions import CAPTIONS, caption
from analysis.curves import to_long_table
from analysis.load import load_study
from analysis.palette import to_palette

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    store = shared_store(tmp_path_factory)
    return {
        name: load_study(name, tracking_uri=store.tracking_uri)
        for name in (MAIN_EXPERIMENT, PLANAR_EXPERIMENT)
    }


@pytest.fixture(scope="module")
def written(studies, tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return {  # PNG only here; the report test checks the PDFs
        name: figures.write_figures(study.runs, study.curves, out / name, formats=["png"])
        for name, study in studies.items()
    }


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    return struct.unpack(">II", header[16:24])


def test_every_figure_is_written_for_some_fixture_study(written):
    drawn = set(written[MAIN_EXPERIMENT]) | set(written[PLANAR_EXPERIMENT])
    assert drawn == set(figures.FIGURES)


@pytest.mark.parametrize(
    ("study", "expected"),
    [
        (
            MAIN_EXPERIMENT,
            {"loss", "accuracy", "effective_lr", "accumulator", "lr_sensitivity", "decay_heatmap"},
        ),
        (
            PLANAR_EXPERIMENT,
            {"loss", "effective_lr", "lr_sensitivity", "trajectories", "performance_profile"},
        ),
    ],
)
def test_figures_that_apply_are_written_as_png(written, study, expected):
    assert set(written[study]) == expected
    for path in written[study].values():
        width, height = png_size(path)
        assert width >= 800 and height >= 500  # 200 dpi, slide/paper size


def test_figures_skip_without_their_data(studies):
    runs = studies[MAIN_EXPERIMENT].runs
    no_curves = to_long_table(list(runs["run_id"]), [{} for _ in range(len(runs))])
    for name, plot in figures.FIGURES.items():
        if name not in ("lr_sensitivity", "decay_heatmap"):  # those two read the runs table only
            assert plot(runs, no_curves) is None, name
    one_lr = runs[runs["optimizer.lr"] == 0.1]
    assert figures.plot_lr_sensitivity(one_lr) is None
    assert figures.plot_decay_heatmap(runs[runs["optimizer"] != "rmsprop"]) is None


def test_trajectory_figure_draws_one_panel_per_function(studies):
    study = studies[PLANAR_EXPERIMENT]
    fig = figures.plot_trajectories(study.runs, study.curves)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["quadratic2d", "rosenbrock"]
    assert len(fig.axes[0].get_lines()) >= 5 + 1  # five optimizers and the minimum marker


def test_palette_is_keyed_by_label_with_an_rmsprop_family(studies):
    main, planar = studies[MAIN_EXPERIMENT].runs, studies[PLANAR_EXPERIMENT].runs
    palette = to_palette(main)
    assert set(palette) == set(main["label"])
    assert len(set(palette.values())) == len(palette)
    light, dark = palette["RMSprop α=0.9"], palette["RMSprop α=0.99"]
    assert sum(light) > sum(dark)  # one blue family, darker for longer memory
    assert to_palette(planar)["Adagrad"] == palette["Adagrad"]
    both = to_palette(pd.concat([main, planar]))
    assert both["Momentum"] == palette["Momentum"]


# --- one style: width, fonts, legends, log ticks, bands, captions ---------------------------
CURVE_FIGURES = ["loss", "accuracy", "effective_lr", "accumulator", "lr_sensitivity"]
CSS_PX_PER_INCH = 96  # CSS: 1 in = 96 px = 72 pt
ROOT_FONT_PX = 16


@pytest.fixture(scope="module")
def drawn(studies):
    """Every figure that applies, per study, drawn (tick labels filled in) and not saved."""
    out = {}
    for study_name, study in studies.items():
        for name, plot in figures.FIGURES.items():
            fig = plot(study.runs, study.curves)
            if fig is not None:
                fig.draw_without_rendering()
                out[study_name, name] = fig
    return out


def legend_texts(fig) -> list[str]:
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def shown_texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_every_figure_has_one_width(written):
    widths = {png_size(path)[0] for study in written.values() for path in study.values()}
    assert widths == {round(palette.FIGURE_WIDTH * palette.DPI)}


def test_fonts_are_at_least_10_pt_at_the_width_the_report_shows_them(drawn):
    column_rem = float(re.search(r"body\{[^}]*max-width:([\d.]+)rem", render.CSS).group(1))
    column_px = column_rem * ROOT_FONT_PX  # img{max-width:100%} of the body's content box
    for (study, name), fig in drawn.items():
        width_in = fig.get_size_inches()[0]
        shown_px = min(width_in * palette.DPI, column_px)  # a PNG never shows wider than it is
        scale = shown_px / (width_in * CSS_PX_PER_INCH)  # shown inches per figure inch
        smallest = min(shown_texts(fig), key=lambda t: t.get_fontsize())
        assert smallest.get_fontsize() * scale >= 10, (study, name, smallest.get_text())


def test_legend_entries_carry_lr_and_n(drawn):
    for (study, name), fig in drawn.items():
        if name in ("trajectories", "decay_heatmap"):  # one run per label; a colour bar
            continue
        runs_entries = [t for t in legend_texts(fig) if "·" in t]
        others = set(legend_texts(fig)) - set(runs_entries)
        assert runs_entries, (study, name)
        assert all(" · lr " in t and " · n=" in t for t in runs_entries), (study, name)
        assert others <= {"diverged/failed", r"$\propto t^{-1/2}$"}, (study, name, others)
    loss = legend_texts(drawn[MAIN_EXPERIMENT, "loss"])
    # α=0.9 at lr 0.1 lost a seed (FAILED), so its best-tuned group is lr 0.01 with 3 seeds
    assert "RMSprop α=0.9 · lr 0.01 · n=3" in loss and "Adagrad · lr 0.1 · n=3" in loss
    profile = legend_texts(drawn[PLANAR_EXPERIMENT, "performance_profile"])
    assert "Adagrad · lr 1.5 | 0.5 · n=1" in profile  # one lr per problem, in panel order


def test_rmsprop_variants_differ_by_more_than_colour(drawn):
    fig = drawn[MAIN_EXPERIMENT, "loss"]
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    short, long = lines["RMSprop α=0.9"], lines["RMSprop α=0.99"]
    cues = [(line.get_linestyle(), line.get_marker()) for line in (short, long)]
    assert cues[0] != cues[1] and all(marker not in ("", "None") for _, marker in cues)
    assert sum(short.get_color()) > sum(long.get_color())  # sequential: darker = longer memory


def test_figures_without_an_accumulator_leave_out_momentum_and_say_so(studies, drawn):
    study = studies[MAIN_EXPERIMENT]
    for name in ("effective_lr", "accumulator"):
        assert not any("Momentum" in t for t in legend_texts(drawn[MAIN_EXPERIMENT, name]))
        text = caption(name, study.runs, study.curves)
        assert text.endswith("Momentum.") and "Left out" in text
    planar = studies[PLANAR_EXPERIMENT]
    assert "SGD, Momentum." in caption("effective_lr", planar.runs, planar.curves)


def log_axes(fig):
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log" and axis.get_major_formatter().__class__ is not (
                ScalarFormatter
            ):
                yield axis


def test_log_axes_label_only_powers_of_ten(drawn):
    checked = 0
    for key, fig in drawn.items():
        for axis in log_axes(fig):
            lo, hi = sorted(axis.get_view_interval())
            majors = [v for v in axis.get_majorticklocs() if lo <= v <= hi]
            assert len(majors) >= 2, key
            assert np.allclose(np.log10(majors), np.round(np.log10(majors))), key
            assert all(not t.label1.get_text() for t in axis.get_minor_ticks()), key
            checked += 1
    assert checked >= 10


def test_a_band_reaching_below_zero_is_not_clipped_flat(studies):
    """One seed 50× off makes the arithmetic t-interval negative; the log band stays shaped."""
    study = studies[MAIN_EXPERIMENT]
    runs, curves = study.runs, study.curves.copy()
    adagrad = runs[(runs["label"] == "Adagrad") & (runs["optimizer.lr"] == 0.1)]
    outlier = adagrad.loc[adagrad["seed"] == 1, "run_id"].iloc[0]
    scale = (curves["run_id"] == outlier) & (curves["metric"] == "val_loss")
    curves.loc[scale, "value"] *= 50
    fig = figures.plot_loss_curves(runs, curves, metrics=["val_loss"])
    ax = fig.axes[0]
    color = next(line.get_color() for line in ax.get_lines() if line.get_label() == "Adagrad")
    band = next(c for c in ax.collections if np.allclose(c.get_facecolor()[0][:3], color[:3]))
    lower = band.get_paths()[0].vertices[:, 1]
    lower = lower[np.isfinite(lower)]
    assert lower.min() > 0 and lower.min() > ax.get_ylim()[0]
    assert np.ptp(np.log10(lower[lower < np.median(lower)])) > 0.1  # shaped, not one flat floor


def test_captions_say_what_the_band_is_over_and_n(studies, written):
    main, planar = studies[MAIN_EXPERIMENT], studies[PLANAR_EXPERIMENT]
    assert set(CAPTIONS) == set(figures.FIGURES)
    loss = caption("loss", main.runs, main.curves)
    assert "geometric mean over n = 3 seeds with a 95 % t-interval band" in loss
    assert "shift at step 120" in loss
    accuracy = caption("accuracy", main.runs, main.curves)
    assert "mean over n = 3 seeds with a 95 % t-interval band" in accuracy
    assert "band: p10 to p90" in caption("effective_lr", main.runs, main.curves)
    one_seed = caption("loss", planar.runs, planar.curves)
    assert (
        "n = 1 seed (one seed: no interval, no band)" in one_seed and "t-interval" not in one_seed
    )
    sensitivity = caption("lr_sensitivity", main.runs, main.curves)
    assert "2 crosses" in sensitivity and "n = 2–3 seeds per learning rate" in sensitivity
    for study_name, names in written.items():
        study = studies[study_name]
        assert all(caption(name, study.runs, study.curves) for name in names)


def test_a_heatmap_over_decades_labels_its_colour_bar_in_powers_of_ten(studies):
    runs = studies[MAIN_EXPERIMENT].runs.copy()
    slow = (runs["optimizer"] == "rmsprop") & (runs["optimizer.lr"] == 0.01)
    runs.loc[slow, "final_val_loss"] *= 30  # medians 0.12 … 5.1
    fig = figures.plot_decay_heatmap(runs)
    fig.draw_without_rendering()
    colour_bar = fig.axes[-1].yaxis
    lo, hi = colour_bar.get_view_interval()
    shown = [v for v in colour_bar.get_majorticklocs() if lo * 0.999 <= v <= hi * 1.001]
    assert np.allclose(shown, [0.1, 1, 10])
    assert all(not t.label1.get_text() for t in colour_bar.get_minor_ticks())
