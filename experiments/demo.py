"""``make demo``: both of the lecture's claims, sized down, on the embedded store, with verdicts.

Runs ``conf/experiment/stall_demo.yaml`` (does Adagrad's step shrink, RMSprop's not, and what
does it cost on test loss?) and ``shift_demo.yaml`` (does RMSprop recover faster after a
change?) with the joblib launcher on every core, writes each study's report, then the demo's
summary in ``reports/demo/``: ``findings.csv`` (one row per claim and condition, with the
effect, its interval, n, the split, the test, the Holm-adjusted p, the verdict and the seeds
that would resolve it), ``findings.md`` (the same in sentences) and the figures they cite.
``reports/demo/`` is rewritten by every demo run and says when and from which sweeps.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from experiments.run import run_study
from harness.tracking.progress import format_eta
from harness.tracking.store import resolve_uri

DEMO_STUDIES = {"stall_demo": "stall", "shift_demo": "shift"}  # preset → experiment
SUMMARY_DIR = Path("reports") / "demo"


def write_summary(
    out_dir: Path = SUMMARY_DIR,
    tracking_uri: str | None = None,
    experiments: tuple[str, ...] = tuple(DEMO_STUDIES.values()),
) -> Path:
    """Judge the latest sweep of each of ``experiments`` together (one Holm family) and write
    ``out_dir`` whole: built beside it, then swapped in, so a failure leaves the old one."""
    from analysis.findings import COLUMNS, to_findings, to_sentences
    from analysis.load import load_study
    from analysis.report import default_out_dir

    studies, sources = [], []
    for experiment in experiments:
        study = load_study(experiment, "latest", tracking_uri)
        studies.append((experiment, study.runs, study.curves))
        sources.append((experiment, study, default_out_dir(study)))
    findings = to_findings(studies)[COLUMNS]
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the summary is for reading
    try:
        findings.to_csv(staging / "findings.csv", index=False)
        figures = _copy_figures(findings, sources, staging / "figures")
        (staging / "findings.md").write_text(
            to_markdown(findings, to_sentences(findings), sources, figures), encoding="utf-8"
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _copy_figures(findings: pd.DataFrame, sources, folder: Path) -> dict[str, str]:
    """Copy each cited figure (PNG) of each study's report; ``study:figure`` → relative path."""
    folder.mkdir()
    copied = {}
    for experiment, _, report_dir in sources:
        cited = findings.loc[findings["study"] == experiment, "figure"].dropna().unique()
        for name in cited:
            source = report_dir / "figures" / f"{name}.png"
            if source.is_file():
                target = folder / f"{experiment}-{name}.png"
                shutil.copyfile(source, target)
                copied[f"{experiment}:{name}"] = f"figures/{target.name}"
    return copied


def to_markdown(findings: pd.DataFrame, sentences: list[str], sources, figures) -> str:
    """``findings.md``: when, from which sweeps, then one sentence per claim, by study."""
    lines = [
        "# Findings of `make demo`",
        "",
        f"Made {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by `make demo`; rewritten by every demo run.",
        "",
    ]
    for experiment, study, report_dir in sources:
        sweep = study.parent.info.run_id if study.parent is not None else "every run"
        lines.append(
            f"- `{experiment}`: sweep parent run `{sweep}`, {len(study.runs)} runs; "
            f"report `{report_dir.as_posix()}/report.html`"
        )
    for experiment, _, _ in sources:
        mine = findings["study"] == experiment
        lines += ["", f"## {experiment}", ""]
        lines += [f"- {s}" for s, keep in zip(sentences, mine, strict=True) if keep]
        for key, path in figures.items():
            if key.startswith(f"{experiment}:"):
                lines += ["", f"![{key}]({path})"]
    from analysis.verdicts import RULE

    lines += ["", "## The rule", ""] + [f"- {r}" for r in RULE]
    return "\n".join(lines) + "\n"


def main() -> int:
    print(f"[demo] the lecture's two claims, sized down → {resolve_uri(None)}", flush=True)
    started = time.perf_counter()
    for preset in DEMO_STUDIES:
        code = run_study(preset)
        if code != 0:
            took = format_eta(time.perf_counter() - started)
            print(f"[demo] {preset} failed after {took} (exit {code})", file=sys.stderr)
            return code
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    out_dir = write_summary()
    from analysis.findings import read_findings

    findings = read_findings(out_dir / "findings.csv")
    counts = findings["verdict"].value_counts()
    print(
        f"[demo] findings: {len(findings)} claims ("
        + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        + f") → {out_dir / 'findings.md'} and findings.csv"
    )
    print(f"[demo] done in {format_eta(time.perf_counter() - started)}.")
    print("[demo] browse the runs: make ui, then open (the runs tables and each report):")
    from harness.tracking.ui import TOGGLE_HINT, study_links

    for line in study_links(resolve_uri(None), "http://127.0.0.1:5000"):
        print(f"[demo]   {line}")
    print(f"[demo] {TOGGLE_HINT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
