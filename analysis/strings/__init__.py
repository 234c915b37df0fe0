"""Every word the report shows, one module per language (``en`` the default, ``ja``).

A language module defines:

- ``TEXT``: key → template, filled with :meth:`str.format` (so a template may carry a format
  spec such as ``{share:.0%}``); every language has the keys English has.
- ``HEADERS``: a data column's name (``n_runs``, ``label``) → its heading in a table; a column
  without an entry shows its name.
- ``TERMS``: a word of the data (a metric, a verdict, a split, a claim) → how the text says it;
  a word without an entry shows as is.
- ``STATEMENTS``: a claim of :data:`analysis.findings.STATEMENTS` → that claim in words.
- ``RULE``: the lines of :data:`analysis.verdicts.RULE`, in the language.
- ``HTML_LANG``, ``FIGURE_FONT`` (None, or the distribution, file and family of the font the
  figures use) and ``CSS_FONTS`` (the font stack the page names after the embedded font).

A third language is one more module here with those names; :func:`load` finds it by its name.

>>> en, ja = load("en"), load("ja")
>>> en("section.findings"), ja("section.findings")
('Findings', '所見')
>>> en.term("val_loss"), ja.term("val_loss")
('val_loss', '検証損失')
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

__all__ = ["DEFAULT", "Strings", "languages", "load"]

DEFAULT = "en"


def languages() -> list[str]:
    """The languages a report can be written in: the modules of this package.

    >>> languages()
    ['en', 'ja']
    """
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


@dataclass(frozen=True)
class Strings:
    """One language's words: ``strings(key, **fields)`` fills the template ``key``."""

    lang: str
    module: ModuleType

    def __call__(self, key: str, **fields) -> str:
        return self.module.TEXT[key].format(**fields)

    def term(self, word: str) -> str:
        """How the text says a word of the data (a metric, a verdict); the word itself else."""
        return self.module.TERMS.get(word, word)

    def header(self, column: str) -> str:
        return self.module.HEADERS.get(column, column)

    def headers(self, table):
        """``table`` with its columns renamed to their headings (a copy)."""
        return table.rename(columns={c: self.header(c) for c in table.columns})

    def statement(self, claim: str, default: str) -> str:
        return self.module.STATEMENTS.get(claim, default)

    @property
    def rule(self) -> tuple[str, ...]:
        return tuple(self.module.RULE)

    @property
    def html_lang(self) -> str:
        return self.module.HTML_LANG

    @property
    def figure_font(self) -> dict | None:
        return self.module.FIGURE_FONT

    @property
    def css_fonts(self) -> str | None:
        return self.module.CSS_FONTS


def load(lang: str = DEFAULT) -> Strings:
    """The words of ``lang`` (one of :func:`languages`); ValueError naming the choices else."""
    if lang not in languages():
        raise ValueError(f"--lang {lang!r} is not a report language; choose one of "
                         + ", ".join(languages()))  # fmt: skip
    return Strings(lang, importlib.import_module(f"{__name__}.{lang}"))
