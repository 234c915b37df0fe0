"""Render a report's sections as Markdown and as one self-contained HTML page.

A section holds blocks: a paragraph (str, with ``code`` spans and ``**bold**``; lines that all
start with ``- `` make a list), a table (DataFrame, shown as formatted text), a figure
(:class:`FigureRef`, a path relative to the report folder) or a :class:`Lead` (the few findings
a reader should take away, set apart at the top of a section).

The HTML embeds every figure as a base64 data URI (PNG; an animation as GIF, its only format),
so it renders where relative links do not: MLflow's artifact viewer (a sandboxed iframe) and a
mail attachment. PNG rather than inline SVG because a curve figure's SVG carries every point of
every curve: on a 36-run, 3000-step study the curve figures' SVGs were 0.8–1.0 MB each against
0.10–0.16 MB as PNG, and the whole report.html 0.88 MB. At 2000 px for a 1152 px column the PNG
stays sharp on a 1.7× screen; SVG and PDF are kept beside it in ``figures/``. Tables scroll
sideways inside their own box, so the page never does. The Markdown links the figures
relatively.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.i18n_fonts import font_face_css
from analysis.strings import DEFAULT, load

__all__ = [
    "CSS",
    "FigureRef",
    "Lead",
    "MIME_TYPES",
    "Section",
    "to_display",
    "to_html",
    "to_markdown",
    "to_markdown_table",
    "to_text",
]


#: Image suffix → the MIME type its data URI names.
MIME_TYPES = {".png": "image/png", ".gif": "image/gif"}


@dataclass(frozen=True)
class FigureRef:
    """A figure of the report: PNG (or GIF) path relative to the report folder, and its caption.

    A PNG has SVG and PDF siblings; a GIF (an animation) stands alone.
    """

    path: str
    caption: str

    @property
    def animated(self) -> bool:
        return self.path.endswith(".gif")


@dataclass(frozen=True)
class Lead:
    """A section's short list of findings, each a sentence (``code`` and ``**bold**`` allowed).

    >>> print(to_markdown("t", [Section("Findings", [Lead(["**Adagrad** stalls.", "n = 5."])])]))
    # t
    <BLANKLINE>
    ## Findings
    <BLANKLINE>
    > - **Adagrad** stalls.
    > - n = 5.
    <BLANKLINE>
    """

    items: tuple[str, ...] | list[str]


Block = str | pd.DataFrame | FigureRef | Lead


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def to_display(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Format every cell as text: floats to ``digits`` significant digits, inf as ∞, NaN as —.

    >>> to_display(pd.DataFrame({"a": [0.123456, float("inf"), None], "b": ["x", "y", None]}))
            a  b
    0  0.1235  x
    1       ∞  y
    2       —  —
    """
    return table.apply(lambda column: column.map(lambda v: _cell(v, digits))).astype(str)


def _cell(value, digits: int) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.{digits}g}"
    return str(value)


def to_markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table`` (formatted with :func:`to_display`).

    >>> print(to_markdown_table(pd.DataFrame({"label": ["Adam"], "lr": [0.001]})))
    | label | lr |
    | --- | --- |
    | Adam | 0.001 |
    """
    shown = to_display(table)
    escape = lambda text: str(text).replace("|", r"\|")  # noqa: E731
    lines = ["| " + " | ".join(escape(c) for c in shown.columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in shown.columns) + " |")
    lines += ["| " + " | ".join(escape(v) for v in row) + " |" for row in shown.itertuples(False)]
    return "\n".join(lines)


def to_markdown(title: str, sections: list[Section]) -> str:
    """The whole report as Markdown."""
    parts = [f"# {title}"]
    for section in sections:
        parts.append(f"## {section.title}")
        for block in section.blocks:
            if isinstance(block, pd.DataFrame):
                parts.append(to_markdown_table(block))
            elif isinstance(block, FigureRef):
                parts.append(_figure_markdown(block))
            elif isinstance(block, Lead):
                parts.append("\n".join(f"> - {item}" for item in block.items))
            else:
                parts.append(block)
    return "\n\n".join(parts) + "\n"


def _figure_markdown(figure: FigureRef) -> str:
    """The image, its caption and links to its other formats (an animation has none).

    >>> print(_figure_markdown(FigureRef("figures/paths.gif", "Paths.")))
    ![Paths.](figures/paths.gif)
    <BLANKLINE>
    *Paths.*
    """
    image = f"![{figure.caption}]({figure.path})\n\n*{figure.caption}*"
    if figure.animated:
        return image
    stem = figure.path.removesuffix(".png")
    return f"{image} ([SVG]({stem}.svg), [PDF]({stem}.pdf))"


CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222;
line-height:1.45;overflow-wrap:anywhere}
.table-box{overflow-x:auto;max-width:100%;margin:1rem 0}
table{border-collapse:collapse;font-size:.9rem;overflow-wrap:normal}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{display:block;max-width:100%;height:auto}figure{margin:1.5rem 0}
figcaption{color:#555;font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}
.lead{border-left:4px solid #3b73b9;background:#f4f8fd;margin:1rem 0;padding:.6rem 1rem .6rem 2rem}
.lead li{margin:.25rem 0}
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _figure_html(figure: FigureRef, folder: Path | None) -> str:
    """The figure embedded as a PNG or GIF data URI (linked relatively without ``folder``)."""
    src = html.escape(figure.path)
    if folder is not None:
        path = Path(folder) / figure.path
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        src = f"data:{MIME_TYPES[path.suffix.lower()]};base64,{data}"
    return (
        f'<figure><img src="{src}" alt="{html.escape(figure.caption)}">'
        f"<figcaption>{_inline_html(figure.caption)}</figcaption></figure>"
    )


def _list_html(items, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<ul{attribute}>" + "".join(f"<li>{_inline_html(i)}</li>" for i in items) + "</ul>"


def _block_html(block: Block, folder: Path | None = None) -> str:
    if isinstance(block, pd.DataFrame):
        table = to_display(block).to_html(index=False, border=0, escape=True)
        return f'<div class="table-box">{table}</div>'
    if isinstance(block, FigureRef):
        return _figure_html(block, folder)
    if isinstance(block, Lead):
        return _list_html(block.items, "lead")
    lines = block.splitlines()
    if all(line.startswith("- ") for line in lines):
        return _list_html(line[2:] for line in lines)
    return f"<p>{_inline_html(block)}</p>"


def to_text(page: str) -> str:
    """The text a reader sees in HTML ``page``: tags (and the images inside them) left out,
    entities decoded.

    >>> to_text('<p title="x">a &amp; <img src="data:image/png;base64,AAAA">b</p>')
    'a & b'
    """
    return html.unescape(re.sub(r"<[^>]*>", "", page))


def to_html(
    title: str, sections: list[Section], folder: Path | None = None, lang: str = DEFAULT
) -> str:
    """The whole report as one HTML page: tables inline, figures read from ``folder`` (the
    report folder their paths are relative to) and embedded; without it, linked relatively.
    A page in a language with a font of its own embeds that font, cut to the page's characters
    (:func:`analysis.i18n_fonts.font_face_css`), and names the language's system fonts after it.

    >>> page = to_html("t", [Section("s", [pd.DataFrame({"a": [1]}), Lead(["x"])])])
    >>> '<div class="table-box"><table' in page, '<ul class="lead"><li>x</li></ul>' in page
    (True, True)
    """
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [_block_html(block, folder) for block in section.blocks]
    strings = load(lang)
    css = CSS + font_face_css(strings, title + to_text("\n".join(body)))
    return (
        f'<!DOCTYPE html>\n<html lang="{strings.html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
