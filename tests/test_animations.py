"""The paths_2d report carries its animations: GIFs through Pillow, small, embedded, truthful."""

from __future__ import annotations

import base64
import re
import warnings

import numpy as np
import pytest
from analysis_fixtures import MAIN_EXPERIMENT, PLANAR_EXPERIMENT, shared_store
from PIL import Image

from analysis import animations
from analysis.i18n_fonts import figure_font
from analysis.load import load_study
from analysis.palette import to_palette
from analysis.render import FigureRef, Section, to_html, to_markdown
from analysis.report import write_report
from analysis.strings import load
from analysis.trajectories import to_trajectory

pytestmark = pytest.mark.slow  # a report with every figure and both animations: ~30 s

GIF_LIMIT = 3 * 2**20  # bytes, each animation
HTML_LIMIT = 15 * 2**20  # bytes, the whole report.html with them embedded
GIFS = ("figures/paths.gif", "figures/jar_filling.gif")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def planar(store):
    return load_study(PLANAR_EXPERIMENT, tracking_uri=store.tracking_uri)


@pytest.fixture(scope="module")
def report(planar, tmp_path_factory):
    """The report folder of the 2-D fixture study, written as the report command writes it."""
    out = tmp_path_factory.mktemp("reports") / "paths"
    write_report(planar, out, log_to_parent=False)
    return out


@pytest.fixture(scope="module")
def jar():
    return animations.to_jar_filling(animations.to_gradient_stream())


def frames_of(path) -> list[np.ndarray]:
    gif = Image.open(path)
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB")).astype(int))
    return frames


@pytest.mark.full  # make test-long and CI
# --- in the report --------------------------------------------------------------------------
@pytest.mark.parametrize("name", GIFS)
def test_each_animation_is_a_looping_gif_under_3_mb(report, name):
    path = report / name
    assert path.stat().st_size < GIF_LIMIT
    gif = Image.open(path)
    assert gif.format == "GIF" and gif.info["loop"] == 0
    assert 20 <= gif.n_frames <= animations.MAX_FRAMES


@pytest.mark.full  # make test-long and CI
def test_report_html_embeds_both_gifs_and_stays_under_15_mb(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert len(page.encode("utf-8")) < HTML_LIMIT
    gifs = re.findall(r'<img src="data:image/gif;base64,([^"]+)"', page)
    assert {base64.b64decode(g) for g in gifs} == {(report / n).read_bytes() for n in GIFS}
    assert 'src="figures/' not in page


@pytest.mark.full  # make test-long and CI
def test_report_markdown_links_gifs_without_svg_or_pdf(report):
    markdown = (report / "report.md").read_text(encoding="utf-8")
    figures = markdown.split("## Figures")[1].split("\n## ")[0]
    for name in GIFS:
        assert f"]({name})" in figures
        assert name.removesuffix(".gif") + ".svg" not in markdown


def test_a_study_without_2d_paths_gets_no_animation(store, tmp_path):
    main = load_study(MAIN_EXPERIMENT, tracking_uri=store.tracking_uri)
    assert animations.write_animations(main.runs, main.curves, tmp_path) == []
    assert not (tmp_path / "figures").exists()


def test_paths_without_x_y_curves_get_no_animation(planar, tmp_path):
    curves = planar.curves[~planar.curves["metric"].isin(["x", "y"])]
    assert animations.write_animations(planar.runs, curves, tmp_path) == []


# --- what the paths show ------------------------------------------------------------------
def ink(frame: np.ndarray, colors) -> int:
    """Pixels within a few levels of one of ``colors`` (RGB, 0–1 floats)."""
    targets = np.round(np.array(list(colors)) * 255).astype(int)
    distance = np.abs(frame[:, :, None, :] - targets[None, None]).max(axis=-1)
    return int((distance.min(axis=-1) <= 12).sum())


@pytest.mark.full  # make test-long and CI
def test_paths_grow_from_their_start_to_the_whole_path(report, planar):
    frames = frames_of(report / "figures/paths.gif")
    colors = [c for c in to_palette(planar.runs).values() if np.ptp(c) > 0.2]  # not SGD's grey
    first, last = ink(frames[0], colors), ink(frames[-1], colors)
    assert first > 0 and 3 * first < last  # start markers, then every path drawn out
    assert not np.array_equal(frames[len(frames) // 2], frames[-1])


def test_the_chosen_paths_are_each_labels_run_to_its_last_step(planar):
    chosen = animations.to_chosen_paths(planar.runs, planar.curves)
    assert list(chosen) == ["quadratic2d", "rosenbrock"]
    labels = set(planar.runs["label"])
    for model, paths in chosen.items():
        assert set(paths) == labels
        for label, (lr, path) in paths.items():
            runs = planar.runs[
                (planar.runs["model.name"] == model) & (planar.runs["label"] == label)
            ]
            assert lr == float(runs["optimizer.lr"].iloc[0])
            full = to_trajectory(planar.curves, runs["run_id"].iloc[0])
            assert path.equals(full) and int(path["step"].iloc[-1]) == 100


def test_paths_caption_names_every_label_and_the_frames(planar):
    text = animations.to_paths_caption(planar.runs, planar.curves)
    for label in set(planar.runs["label"]):
        assert label in text
    assert "step 0 to 100" in text
    assert f"{len(animations.to_frame_steps(100))} frames" in text


@pytest.mark.parametrize("last", [0, 1, 59, 60, 61, 300, 100_000])
@pytest.mark.parametrize("spacing", ["early", "linear"])
def test_frame_steps_start_at_0_end_at_the_last_and_never_exceed_the_limit(last, spacing):
    steps = animations.to_frame_steps(last, 60, spacing)
    assert steps[0] == 0 and steps[-1] == last and len(steps) <= 60
    assert (np.diff(steps) > 0).all()
    if last >= 59:
        assert len(steps) >= 45  # subsampled, not thinned to a handful


# --- the jar filling ------------------------------------------------------------------------
def test_every_arm_sees_the_same_gradients(jar):
    grads = jar.pivot(index="step", columns="label", values="grad")
    assert list(grads) == ["Adagrad", "RMSprop α=0.9", "RMSprop α=0.99"]
    assert (grads.nunique(axis=1) == 1).all()


def test_adagrads_jar_is_the_running_sum_of_squared_gradients(jar):
    part = jar[jar["label"] == "Adagrad"]
    np.testing.assert_allclose(part["h"], np.cumsum(part["grad"] ** 2), rtol=1e-12)
    np.testing.assert_allclose(part["effective_lr"], 0.01 / (np.sqrt(part["h"]) + 1e-7))


@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_rmsprops_blend_matches_a_plain_loop(jar, alpha):
    part = jar[jar["label"] == f"RMSprop α={alpha:g}"]
    h, expected = 0.0, []
    for g in part["grad"]:
        h = alpha * h + (1 - alpha) * g * g
        expected.append(h)
    np.testing.assert_allclose(part["h"], expected, rtol=1e-12)


def test_the_jar_keeps_its_fill_when_gradients_quiet_down_and_the_blend_forgets(jar):
    h = jar.pivot(index="step", columns="label", values="h")
    quiet = int(jar.loc[jar["scale"] < 1, "step"].min())
    before, end = h.loc[quiet - 1], h.iloc[-1]
    assert end["Adagrad"] >= before["Adagrad"]
    assert end["RMSprop α=0.9"] < before["RMSprop α=0.9"] / 10
    assert end["RMSprop α=0.9"] < end["RMSprop α=0.99"] < before["RMSprop α=0.99"]


def test_jar_caption_states_where_each_arm_ends(jar):
    text = animations.to_jar_caption(jar)
    end = jar[jar["step"] == jar["step"].max()].set_index("label")
    for label, row in end.iterrows():
        assert f"{label} h = {row['h']:.3g}, step {row['effective_lr']:.3g}" in text
    assert "α = 0.9 and 0.99" in text and "from step 200" in text


# --- rendering ------------------------------------------------------------------------------
def test_html_names_the_gif_mime_type_and_markdown_leaves_out_svg_links(tmp_path):
    (tmp_path / "figures").mkdir()
    image = Image.new("RGB", (4, 4), "white")
    image.save(tmp_path / "figures/a.gif")
    image.save(tmp_path / "figures/b.png")
    sections = [
        Section("Figures", [FigureRef("figures/a.gif", "A."), FigureRef("figures/b.png", "B.")])
    ]
    page = to_html("t", sections, tmp_path)
    assert page.count("data:image/gif;base64,") == 1 and page.count("data:image/png;base64,") == 1
    markdown = to_markdown("t", sections)
    assert "figures/a.svg" not in markdown and "figures/b.svg" in markdown


# --- in Japanese ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["jar_filling", "paths"])
def test_japanese_animations_use_the_lectures_words_and_miss_no_glyph(name, jar, planar):
    """``--lang ja``: the frames' titles and labels are drawn in the Japanese font (no missing
    glyph) and the caption is Japanese; the English caption is the check that can fail."""
    ja = load("ja")
    if name == "jar_filling":
        draw = lambda lang: animations.plot_jar_filling(jar, frames=3, lang=lang)  # noqa: E731
        caption = lambda lang: animations.to_jar_caption(jar, lang=lang)  # noqa: E731
        words = ["瓶", "ブレンド", "減衰率"]
    else:
        runs, curves = planar.runs, planar.curves
        draw = lambda lang: animations.plot_paths(runs, curves, frames=3, lang=lang)  # noqa: E731
        caption = lambda lang: animations.to_paths_caption(runs, curves, lang=lang)  # noqa: E731
        words = ["経路", "フレーム"]
    with figure_font(ja), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = draw("ja")
    assert len(images) == 3
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert all(word in caption("ja") for word in words)
    english = ("path", "frame", "step", "jar", "blend", "decay", "drawn", "minimum")
    assert not [word for word in english if word in caption("ja").lower()]
    assert [word for word in english if word in caption("en").lower()]
    assert not any(word in caption("en") for word in words)
