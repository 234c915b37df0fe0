"""A benchmark's outcome, saved per benchmark as JSON and rendered together as RESULTS.md.

Each run of ``python -m benchmarks`` rewrites the JSON of the benchmarks it ran
(``benchmarks/results/P1.json`` …) and renders every saved one, so ``--only P2`` refreshes P2
and keeps the last figures of the others, each stamped with when and how it was measured.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.timing import Ratio

FOLDER = Path(__file__).resolve().parent
RESULTS_DIR = FOLDER / "results"
RESULTS_MD = FOLDER / "RESULTS.md"


@dataclass
class Comparison:
    """One ratio and, when it is judged, its goal: ``median >= goal`` (or ``<=`` when lower)."""

    label: str
    ratio: Ratio
    goal: float | None = None
    lower_is_better: bool = False
    check_failed: str = ""  # a condition of the goal besides the ratio, when it failed

    @property
    def status(self) -> str:
        if self.goal is None:
            return "—"
        if self.check_failed:
            return f"MISSED ({self.check_failed})"
        median = self.ratio.median
        met = median <= self.goal if self.lower_is_better else median >= self.goal
        return "met" if met else "MISSED"

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return "(reference)"
        return f"{'≤' if self.lower_is_better else '≥'} {self.goal:g}×"


@dataclass
class Section:
    """What one benchmark (P1 … P6) found."""

    key: str
    title: str
    commands: list[str]
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured_at: str = ""
    quick: bool = False
    seconds: float = 0.0
    machine: dict[str, str] = field(default_factory=dict)

    def save(self) -> Path:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.key}.json"
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Section:
        raw = json.loads(path.read_text())
        comparisons = [
            Comparison(**{**c, "ratio": Ratio(**c["ratio"])}) for c in raw.pop("comparisons")
        ]
        return cls(comparisons=comparisons, **raw)


def load_sections() -> list[Section]:
    return [Section.load(path) for path in sorted(RESULTS_DIR.glob("P*.json"))]


def to_markdown(sections: list[Section], machine: dict[str, str]) -> str:
    """RESULTS.md: the machine, a summary of every judged goal, then each benchmark."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (`make bench`); do not edit by hand. Every ratio is",
        "the median over repeats of a ratio measured within one repeat, the two sides",
        "interleaved (A B, then B A) on the same machine; the spread is the min–max over",
        "repeats. The machine is shared and noisy (2 cores, other work running: see each",
        "section's load average), so absolute times move between runs; compare ratios.",
        "",
        "## Machine",
        "",
        *[f"- **{key}**: {value}" for key, value in machine.items()],
        "",
        "## Goals",
        "",
        "| benchmark | comparison | median | spread | goal | status |",
        "|---|---|---|---|---|---|",
    ]
    for section in sections:
        for comparison in section.comparisons:
            if comparison.goal is not None:
                lines.append(_row(section.key, *_cells(comparison)))
    for section in sections:
        lines += ["", *_section_markdown(section)]
    return "\n".join(lines) + "\n"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _cells(comparison: Comparison) -> list[str]:
    ratio = comparison.ratio
    spread = f"{ratio.low:.3g}–{ratio.high:.3g} (n={ratio.repeats})"
    status = comparison.status
    status = f"**{status}**" if status.startswith("MISSED") else status
    return [comparison.label, f"{ratio.median:.3g}×", spread, comparison.goal_text, status]


def _section_markdown(section: Section) -> list[str]:
    mode = "quick" if section.quick else "full"
    load = section.machine.get("load average (1, 5, 15 min) at start", "?")
    lines = [
        f"## {section.key} — {section.title}",
        "",
        f"Measured {section.measured_at} ({mode} run, {section.seconds:.0f} s; load average "
        f"1/5/15 min at its start: {load} on {section.machine.get('cores', '?')} cores).",
        "",
        "```bash",
        *section.commands,
        "```",
    ]
    if section.comparisons:
        lines += ["", "| comparison | median | spread | goal | status |", "|---|---|---|---|---|"]
        lines += [_row(*_cells(comparison)) for comparison in section.comparisons]
    if section.notes:
        lines += ["", *[f"- {note}" for note in section.notes]]
    return lines
