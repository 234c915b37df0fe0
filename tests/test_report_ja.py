"""The report in Japanese (``--lang ja``): the same report in the lecture's words, its figures
in IPAexGothic with no missing glyph, its page carrying a subset of that font, and English left
as it was for everything drawn afterwards."""

from __future__ import annotations

import base64
import io
import re
import string
import sys
import warnings

import matplotlib as mpl
import pytest
from analysis_fixtures import MAIN_EXPERIMENT, shared_store
from browser import save_screenshot
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.figure import Figure

from analysis import findings as fnd
from analysis import strings
from analysis import verdicts as v
from analysis.figures import plot_loss_curves
from analysis.load import load_study
from analysis.render import to_text
from analysis.report import main
from analysis.strings import en, ja

MISSING_GLYPH = re.compile(r"Glyph \d+ .*missing from font")
FONT_FACE = re.compile(
    r'@font-face\{font-family:"([^"]+)";src:url\(data:font/woff;base64,([^)]+)\)'
)
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def run_report(*argv: str) -> tuple[int, list[str]]:
    """``python -m analysis.report`` in process; its exit code and every warning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(list(argv))
    return code, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def report_ja(store, tmp_path_factory):
    """The main fixture sweep's report in Japanese: its folder and the warnings raised."""
    out = tmp_path_factory.mktemp("reports-ja") / "main"
    uri = ["--tracking-uri", store.tracking_uri, "--out", str(out), "--no-log"]
    code, caught = run_report("--experiment", MAIN_EXPERIMENT, *uri, "--lang", "ja")
    assert code == 0
    return out, caught


# --- the words: one module per language, every key in each --------------------------------
def test_every_language_has_every_template_with_the_same_fields():
    assert strings.languages() == ["en", "ja"]
    for lang in strings.languages():
        module = strings.load(lang).module
        assert set(module.TEXT) == set(en.TEXT), lang
        for key, template in en.TEXT.items():
            assert fields(module.TEXT[key]) == fields(template), (lang, key)
        assert len(module.RULE) == len(v.RULE), lang
        assert set(module.STATEMENTS) <= set(fnd.STATEMENTS), lang


def test_japanese_says_every_claim_verdict_and_split_in_the_lectures_words():
    assert set(ja.STATEMENTS) == set(fnd.STATEMENTS)
    for word in (v.HELD, v.NOT_HELD, v.UNRESOLVED, "test", "train", "n/a"):
        assert CJK.search(ja.TERMS[word]), word
    assert "瓶" in ja.STATEMENTS["adagrad_decays"]  # the jar that only fills
    assert "ブレンド" in ja.STATEMENTS["rmsprop_steady"]  # the coffee blend
    assert ja.TEXT["fig.decay_rate"].startswith("減衰率")  # the lecture's word for decay_rate
    assert not any(CJK.search(t) for t in en.TEXT.values())


def test_an_unknown_language_is_one_line_exit_2_and_nothing_written(store, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["--experiment", MAIN_EXPERIMENT, "--tracking-uri", store.tracking_uri,
                 "--out", str(out), "--lang", "fr"])  # fmt: skip
    assert code == 2 and not out.exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: --lang 'fr' is not a report language; choose one of en, ja"]


def test_without_the_font_package_the_japanese_report_is_one_line_exit_2(
    store, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(ja.FIGURE_FONT, "distribution", "no-such-font-package")
    out = tmp_path / "report"
    code = main(["--experiment", MAIN_EXPERIMENT, "--tracking-uri", store.tracking_uri,
                 "--out", str(out), "--lang", "ja", "--no-log"])  # fmt: skip
    assert code == 2 and not out.exists() and not list(tmp_path.iterdir())  # no staging left
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == (
        "error: the IPAexGothic font comes with no-such-font-package, which is not installed; "
        "run make venv (or pip install -e .)"
    )


# --- the report ----------------------------------------------------------------------------
def test_the_japanese_report_has_every_section_and_sentence_in_japanese(report_ja):
    out, _ = report_ja
    markdown = (out / "report.md").read_text(encoding="utf-8")
    titles = [ja.TEXT[k] for k in ja.TEXT if k.startswith("section.")]
    assert re.findall(r"^## (.+)$", markdown, flags=re.M) == titles
    assert markdown.startswith(f"# オプティマイザ・ラボ報告：{MAIN_EXPERIMENT}\n")
    lead = re.findall(r"^> - (.+)$", markdown, flags=re.M)
    assert lead and all(re.match(r"\*\*(成立|不成立|未決着)\*\* — ", s) for s in lead), lead
    assert not any(word in markdown for word in ("## Findings", "Rule, stated", "held**"))
    for column in ("ラベル", "問題", "学習率（検証で選択）", "ステップ数の中央値"):
        assert f"| {column} |" in markdown, column


def test_the_japanese_report_keeps_its_csv_tables_in_the_datas_own_words(report_ja):
    findings = fnd.read_findings(report_ja[0] / "tables" / "findings.csv")
    assert list(findings.columns) == fnd.COLUMNS
    assert set(findings["verdict"]) <= {v.HELD, v.NOT_HELD, v.UNRESOLVED}


def test_the_japanese_figures_miss_no_glyph_and_embed_ipaexgothic(report_ja):
    out, caught = report_ja
    assert not [w for w in caught if MISSING_GLYPH.search(w)]
    figures = out / "figures"
    assert b"IPAexGothic" in (figures / "loss.pdf").read_bytes()  # the PDF embeds the font


def test_a_missing_glyph_is_caught_where_the_font_is_not_used():
    """The check above can fail: a Japanese title in matplotlib's default font warns."""
    fig = Figure()
    fig.subplots().set_title("瓶がいっぱい")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    assert [w for w in caught if MISSING_GLYPH.search(str(w.message))]


def test_english_figures_keep_the_default_font_after_a_japanese_report(report_ja, store):
    assert "matplotlib_fontja" not in sys.modules  # its import would set the font everywhere
    assert mpl.rcParams["font.family"] == mpl.rcParamsDefault["font.family"]
    default = font_manager.findfont(font_manager.FontProperties())
    assert default == font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    study = load_study(MAIN_EXPERIMENT, None, store.tracking_uri)
    fig = plot_loss_curves(study.runs, study.curves)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    assert b"IPAexGothic" not in buffer.getvalue() and b"DejaVuSans" in buffer.getvalue()


def test_the_japanese_page_embeds_a_font_subset_covering_its_text(report_ja):
    page = (report_ja[0] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in page
    face = FONT_FACE.search(page)
    assert face and face.group(1) == "IPAexGothic subset"
    assert f'body{{font-family:"{face.group(1)}","Hiragino Sans"' in page  # a stack after it
    font = TTFont(io.BytesIO(base64.b64decode(face.group(2))))
    covered = set(map(chr, font.getBestCmap()))
    text = to_text(page.split("<body>", 1)[1])
    japanese = set(CJK.findall(text))
    assert len(japanese) > 100 and japanese <= covered, sorted(japanese - covered)
    assert {" ", "•"} <= covered  # spaces and list bullets in the same font as the words
    assert len(covered) < 2 * len(set(text))  # a subset: not the font's 10 000+ glyphs


# --- in a browser ----------------------------------------------------------------------------
#: The fonts Chromium drew an element's text with (CDP), and the page's layout.
FONTS_AND_LAYOUT = """async () => {
    await document.fonts.ready;
    const faces = [...document.fonts].map(f => ({family: f.family, status: f.status}));
    const root = document.documentElement;
    return {faces, check: document.fonts.check('16px "IPAexGothic subset"', '瓶'),
            scrollWidth: root.scrollWidth, clientWidth: root.clientWidth};
}"""


def rendered_fonts(page, selector: str) -> list[dict]:
    """The platform fonts Chromium used for the text of the first ``selector`` (DevTools)."""
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument")["root"]["nodeId"]
    node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


@pytest.mark.browser
@pytest.mark.slow
def test_chromium_draws_the_japanese_report_with_the_embedded_font(
    chromium,
    report_ja,
    tmp_path,
):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto((report_ja[0] / "report.html").as_uri())
        try:
            state = page.evaluate(FONTS_AND_LAYOUT)
            loaded = [f["family"].strip('"') for f in state["faces"] if f["status"] == "loaded"]
            assert loaded == ["IPAexGothic subset"], state["faces"]
            assert state["check"] is True
            assert state["scrollWidth"] <= state["clientWidth"], state
            for selector in ("h1", "h2", "ul.lead li", "figcaption", "th"):
                fonts = rendered_fonts(page, selector)
                assert fonts and all(f["isCustomFont"] for f in fonts), (selector, fonts)
                assert {f["familyName"] for f in fonts} == {"IPAexGothic"}, (selector, fonts)
        finally:
            save_screenshot(page, tmp_path, "report-ja-1280")
    finally:
        context.close()
