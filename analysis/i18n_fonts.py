"""The font of a report language that needs one (Japanese: IPAexGothic), for its figures and
its HTML page, without touching anything else the process draws.

The font is read as a file from its wheel (``matplotlib-fontja``): importing that package would
set matplotlib's font family for the whole process. :func:`figure_font` registers the file with
matplotlib's font manager (which only makes it findable) and selects it inside an
``rc_context``, so only what is drawn and saved inside it uses the font; DejaVu Sans follows it
in the family list, for the few symbols it lacks. :func:`font_face_css` subsets the font to the
characters of a page (fontTools) and embeds it as a WOFF data URI in an ``@font-face``, so the
page renders its Japanese wherever it is opened, with no font installed and nothing fetched.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib.metadata
import io
from collections.abc import Iterator
from pathlib import Path

import matplotlib as mpl
from fontTools import subset
from fontTools.ttLib import TTFont
from matplotlib import font_manager

from analysis.load import AnalysisError
from analysis.strings import Strings

__all__ = ["FALLBACK_FAMILY", "figure_font", "font_face_css", "font_file", "web_family"]

FALLBACK_FAMILY = "DejaVu Sans"  # matplotlib's own: the symbols a CJK font may lack
LIST_MARKER = "\u2022"  # a list's bullet: drawn by the browser, not in the page's text


def font_file(font: dict) -> Path:
    """The font file ``font["file"]`` inside the installed distribution ``font["distribution"]``
    (found through its metadata; the package is never imported).

    >>> from analysis.strings import load
    >>> font_file(load("ja").figure_font).name
    'ipaexg.ttf'
    """
    try:
        path = Path(importlib.metadata.distribution(font["distribution"]).locate_file(font["file"]))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise AnalysisError(
            f"the {font['family']} font comes with {font['distribution']}, which is not "
            "installed; run make venv (or pip install -e .)"
        )
    return path


@functools.cache
def _registered(path: Path) -> str:
    """Add the font file to matplotlib's font manager once; the family name it goes by."""
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


@contextlib.contextmanager
def figure_font(strings: Strings) -> Iterator[None]:
    """Inside: figures drawn and saved use the language's font (nothing changes for a language
    without one). Seaborn's styles name the generic ``sans-serif``, so both that list and
    ``font.family`` start with the font."""
    if strings.figure_font is None:
        yield
        return
    family = _registered(font_file(strings.figure_font))
    families = [family, FALLBACK_FAMILY]
    with mpl.rc_context({"font.family": families, "font.sans-serif": families}):
        yield


def web_family(strings: Strings) -> str:
    """The CSS name of the embedded subset (the figure font's family and ``subset``)."""
    return f"{strings.figure_font['family']} subset"


def font_face_css(strings: Strings, text: str) -> str:
    """CSS for a page whose text is ``text``: an ``@font-face`` with the language's font cut
    down to the characters of ``text`` (WOFF, base64 data URI), then the page's font stack: that
    face first, the language's system fonts after it. Empty for a language without a font."""
    if strings.figure_font is None:
        return ""
    characters = frozenset(text) | set(LIST_MARKER)
    data = base64.b64encode(_subset_woff(font_file(strings.figure_font), characters))
    face = web_family(strings)
    return (
        f'@font-face{{font-family:"{face}";'
        f'src:url(data:font/woff;base64,{data.decode("ascii")}) format("woff")}}\n'
        f'body{{font-family:"{face}",{strings.css_fonts}}}\n'
    )


def _subset_woff(path: Path, characters: frozenset[str]) -> bytes:
    """The font at ``path`` with only the glyphs of ``characters`` (those it has), as WOFF."""
    options = subset.Options()
    options.flavor = "woff"  # zlib: no brotli needed (WOFF2 would need it)
    options.layout_features = ["*"]
    font = TTFont(str(path), recalcTimestamp=False)  # same bytes for the same text
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(map(ord, characters)))  # the space too: text has it
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()
