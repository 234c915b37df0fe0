"""Render a report's sections as Markdown and as self-contained HTML.

A section holds blocks: a paragraph (str, with ``code`` spans), a table (DataFrame, shown as
formatted text) or a figure (:class:`FigureRef`, a path relative to the report folder).
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["FigureRef", "Section", "to_display", "to_html", "to_markdown", "to_markdown_table"]


@dataclass(frozen=True)
class FigureRef:
    """A figure of the report: PNG path relative to the report folder, and its caption."""

    path: str
    caption: str


@dataclass
class Section:
    title: str
    blocks: list[str | pd.DataFrame | FigureRef] = field(default_factory=list)


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
                pdf = block.path.removesuffix(".png") + ".pdf"
                parts.append(
                    f"![{block.caption}]({block.path})\n\n*{block.caption}* ([PDF]({pdf}))"
                )
            else:
                parts.append(block)
    return "\n\n".join(parts) + "\n"


CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1.5rem 0}
figcaption{color:#555;font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _block_html(block: str | pd.DataFrame | FigureRef) -> str:
    if isinstance(block, pd.DataFrame):
        return to_display(block).to_html(index=False, border=0, escape=True)
    if isinstance(block, FigureRef):
        pdf = html.escape(block.path.removesuffix(".png") + ".pdf")
        src, caption = html.escape(block.path), _inline_html(block.caption)
        return (
            f'<figure><img src="{src}" alt="{html.escape(block.caption)}">'
            f'<figcaption>{caption} (<a href="{pdf}">PDF</a>)</figcaption></figure>'
        )
    lines = block.splitlines()
    if all(line.startswith("- ") for line in lines):
        items = "".join(f"<li>{_inline_html(line[2:])}</li>" for line in lines)
        return f"<ul>{items}</ul>"
    return f"<p>{_inline_html(block)}</p>"


def to_html(title: str, sections: list[Section]) -> str:
    """The whole report as one HTML page; figures are linked relatively, tables inline."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [_block_html(block) for block in section.blocks]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
