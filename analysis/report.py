"""Write a study's report folder and log it to the sweep's parent run.

    python -m analysis.report --experiment NAME [--sweep latest|all|PARENT_RUN_ID]
                              [--tracking-uri URI] [--out DIR] [--no-log] [--lang en|ja]

The folder holds ``report.md`` (figures linked relatively), ``report.html`` (self-contained:
figures embedded, tables inline), ``figures/`` (PNG, SVG and PDF; a study with 2-D paths adds
its animations as GIF) and ``tables/`` (CSV). It is built in a hidden sibling folder and moved
into place whole, so a failure leaves nothing half-written. A report already in the folder is
kept as ``<folder>.previous`` (the one kept before it is removed, and the command says so); any
other existing folder is left alone. Progress (runs loaded, figure k/N) goes to stderr. Bad
input prints one line on stderr and exits with status 2. ``--lang ja`` writes the report in
Japanese (:mod:`analysis.strings`), its figures and page in IPAexGothic
(:mod:`analysis.i18n_fonts`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient, MlflowException

from analysis.animations import write_animations
from analysis.contract import REPORT_ARTIFACT_DIR, SWEEP_ID_TAG
from analysis.figures import write_figures
from analysis.findings import read_findings
from analysis.i18n_fonts import figure_font
from analysis.load import AnalysisError, Study, load_study
from analysis.parent import log_sweep_summary
from analysis.render import to_html, to_markdown
from analysis.sections import to_analysis, to_csv_tables, to_sections
from analysis.strings import DEFAULT, Strings, languages, load

__all__ = ["default_out_dir", "log_report", "main", "write_report"]


def default_out_dir(study: Study) -> Path:
    """``reports/<experiment>/<sweep id>`` (``all`` when the study is not one sweep).

    >>> from types import SimpleNamespace as NS
    >>> study = NS(experiment=NS(name="lr sweep/1"), parent=None)
    >>> default_out_dir(study).as_posix()
    'reports/lr-sweep-1/all'
    """
    sweep = "all"
    if study.parent is not None:
        sweep = study.parent.data.tags.get(SWEEP_ID_TAG) or study.parent.info.run_id
    slug = lambda text: re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "study"  # noqa: E731
    return Path("reports") / slug(study.experiment.name) / slug(sweep)


def write_report(
    study: Study,
    out_dir: Path,
    log_to_parent: bool = True,
    progress: Callable[[str], None] | None = None,
    lang: str = DEFAULT,
) -> Path:
    """Write the report folder atomically, in ``lang``; log it under ``report/`` of the parent
    run.

    A report already in ``out_dir`` moves to ``<out_dir>.previous``. ``progress`` receives a
    line per step (figure k/N, where the previous report went). Returns the path of
    ``report.md``. The tables' CSV files keep the data's own column names in every language.
    """
    strings = load(lang)  # an unknown language fails before anything is written
    say = progress or (lambda line: None)
    out_dir = Path(out_dir).resolve()
    previous = _previous(out_dir)
    for folder in (out_dir, previous):
        if folder.exists() and not _is_replaceable(folder):
            raise AnalysisError(f"{folder} exists and is not a report folder; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    older = previous.exists()
    try:
        _write_into(study, staging, say, strings)
        kept = _move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if kept:
        say(f"previous report kept as {kept}" + (" (the older one there removed)" if older else ""))
    if log_to_parent and study.parent is not None:
        log_report(study, out_dir)
    return out_dir / "report.md"


def _previous(out_dir: Path) -> Path:
    return out_dir.with_name(f"{out_dir.name}.previous")


def _is_replaceable(path: Path) -> bool:
    return path.is_dir() and (not any(path.iterdir()) or (path / "report.md").is_file())


def _write_into(study: Study, folder: Path, say: Callable[[str], None], strings: Strings) -> None:
    lang = strings.lang
    analysis = to_analysis(study)
    figures = write_figures(study.runs, study.curves, folder / "figures", progress=say, lang=lang)
    relative = {name: path.relative_to(folder).as_posix() for name, path in figures.items()}
    (folder / "tables").mkdir()
    for stem, table in to_csv_tables(study, analysis).items():
        table.to_csv(folder / "tables" / f"{stem}.csv", index=False)
    sections = to_sections(study, analysis, relative, lang)
    with figure_font(strings):
        animations = write_animations(study.runs, study.curves, folder, say, lang)
    next(s for s in sections if s.title == strings("section.figures")).blocks.extend(animations)
    title = strings("report.title", name=study.experiment.name)
    (folder / "report.md").write_text(to_markdown(title, sections), encoding="utf-8")
    page = to_html(title, sections, folder, lang)
    (folder / "report.html").write_text(page, encoding="utf-8")


def _move_into_place(staging: Path, out_dir: Path) -> Path | None:
    """Rename ``staging`` to ``out_dir``; a report there becomes ``<out_dir>.previous``.

    Returns that previous folder, or None when ``out_dir`` held no report.
    """
    if not out_dir.exists() or not any(out_dir.iterdir()):
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
        return None
    previous, trash = _previous(out_dir), out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if previous.exists():
        previous.rename(trash)
    out_dir.rename(previous)
    staging.rename(out_dir)
    shutil.rmtree(trash, ignore_errors=True)
    return previous


def log_report(study: Study, out_dir: Path) -> None:
    """Log the report folder as artifacts under ``report/`` of the sweep's parent run, and
    write the sweep's story onto that run (description, swept params, counts)."""
    client = MlflowClient(tracking_uri=study.tracking_uri)
    client.log_artifacts(study.parent.info.run_id, str(out_dir), REPORT_ARTIFACT_DIR)
    findings_csv = Path(out_dir) / "tables" / "findings.csv"
    findings = read_findings(findings_csv) if findings_csv.is_file() else pd.DataFrame()
    log_sweep_summary(client, study, findings, f"{REPORT_ARTIFACT_DIR}/report.html")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.report",
        description="Turn an MLflow optimizer-lab study into tables, figures and a report.",
    )
    parser.add_argument("--experiment", required=True, help="MLflow experiment (study) name")
    parser.add_argument(
        "--sweep",
        default="latest",
        help="parent run id of a sweep, 'latest' (default; every job run when the experiment "
        "has no sweep) or 'all' (every job run of the experiment)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: the lab's embedded store, <project>/store/mlflow.db; "
        "OPTLAB_STORE_DIR moves it)",
    )
    parser.add_argument("--out", type=Path, help="report folder (default reports/<exp>/<sweep>)")
    parser.add_argument(
        "--no-log", action="store_true", help="do not log the report to the sweep's parent run"
    )
    parser.add_argument(
        "--lang",
        default=DEFAULT,
        help=f"language of the report: {', '.join(languages())} (default {DEFAULT})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: load, write, log and print where the report is; 2 on bad input."""
    args = _parser().parse_args(argv)
    if args.lang not in languages():
        print(f"error: --lang {args.lang!r} is not a report language; choose one of "
              + ", ".join(languages()), file=sys.stderr)  # fmt: skip
        return 2
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # the lab works offline
    sweep = None if args.sweep == "all" else args.sweep
    say = lambda line: sys.stderr.write(line + "\n")  # noqa: E731  (stdout: where it wrote)
    try:
        started = time.perf_counter()
        study = load_study(args.experiment, sweep, args.tracking_uri)
        say(
            f"loaded {len(study.runs)} runs, {len(study.curves)} curve points "
            f"in {time.perf_counter() - started:.1f} s"
        )
        out_dir = args.out or default_out_dir(study)
        report = write_report(study, out_dir, log_to_parent=False, progress=say, lang=args.lang)
    except (AnalysisError, MlflowException) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(f"report: {report.parent / 'report.html'}")
    print(f"        {report}")
    if study.parent is not None and not args.no_log:
        log_report(study, report.parent)
        print(f"logged to run {study.parent.info.run_id} under {REPORT_ARTIFACT_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
