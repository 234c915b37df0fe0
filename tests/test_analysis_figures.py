"""Every figure is drawn for the fixture studies, and skipped when its data are absent."""

from __future__ import annotations

import struct

import pandas as pd
import pytest
from analysis_fixtures import MAIN_EXPERIMENT, PLANAR_EXPERIMENT, shared_store

from analysis import figures
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
