"""The statistics of a study and the report sections that present them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from analysis import findings as fnd
from analysis import stats
from analysis.captions import caption
from analysis.load import Study, param_columns
from analysis.render import FigureRef, Lead, Section
from analysis.strings import DEFAULT, Strings, load

__all__ = ["Analysis", "to_analysis", "to_csv_tables", "to_sections"]


@dataclass
class Analysis:
    """Every statistic the report shows; per-run tables keep one row per run."""

    groups: pd.DataFrame
    end_of_training: pd.DataFrame
    time_to_target: pd.DataFrame
    decay_exponents: pd.DataFrame
    stalls: pd.DataFrame
    recovery: pd.DataFrame
    findings: pd.DataFrame


def to_analysis(study: Study, target_metric: str = "val_loss", rel: float = stats.TARGET_REL):
    """Compute the report's statistics from a loaded study."""
    runs, curves = study.runs, study.curves
    return Analysis(
        groups=stats.to_group_table(runs),
        end_of_training=stats.to_end_of_training(runs),
        time_to_target=stats.to_time_to_target(curves, runs, target_metric, rel),
        decay_exponents=stats.to_decay_exponents(curves, runs),
        stalls=stats.to_stall_steps(curves, runs, rel),
        recovery=stats.to_recovery_times(curves, runs),
        findings=fnd.to_findings([(study.experiment.name, runs, curves)]),
    )


def to_csv_tables(study: Study, analysis: Analysis) -> dict[str, pd.DataFrame]:
    """File stem → table, for the report's ``tables/`` folder."""
    return {
        "runs": study.runs,
        "end_of_training": analysis.end_of_training,
        "time_to_target_runs": analysis.time_to_target,
        "time_to_target": stats.to_group_summary(analysis.time_to_target, "time_to_target"),
        "decay_exponents_runs": analysis.decay_exponents,
        "decay_exponents": stats.to_group_summary(analysis.decay_exponents, "decay_exponent"),
        "stalls_runs": analysis.stalls,
        "stalls": stats.to_stall_summary(analysis.stalls),
        "recovery_runs": analysis.recovery,
        "findings": analysis.findings,
    }


def _described(analysis: Analysis, summary: pd.DataFrame) -> pd.DataFrame:
    """Group summary rows with the label, problem and swept params in front."""
    keys = analysis.groups.drop(columns=["optimizer", "optimizer.name"], errors="ignore")
    keys = keys.drop(columns=["n_runs", "n_diverged", "n_failed"])
    table = keys.merge(summary.drop(columns=["label", "problem"], errors="ignore"), on="group")
    return table.drop(columns="group")  # a hash: label and swept params say which it is


def _pm(mean: pd.Series, half: pd.Series, spec: str = ".4g") -> pd.Series:
    """``mean ± half`` as text, formatted with ``spec`` (half-widths to 2 significant digits)."""
    half_spec = ".2g" if spec.endswith("g") else spec
    if spec.endswith("f"):  # no "-0.000": round first, then drop the sign of zero
        digits = int(spec.strip(".f"))
        mean, half = mean.round(digits) + 0.0, half.round(digits) + 0.0
    half = half.where(~(half.abs() <= 1e-9 * mean.abs()), 0.0)  # "± 3.4e-16" is rounding
    text = [
        "—" if pd.isna(m) else f"{m:{spec}}" if pd.isna(h) else f"{m:{spec}} ± {h:{half_spec}}"
        for m, h in zip(mean, half, strict=True)
    ]
    return pd.Series(text, index=mean.index)


def _reached(summary: pd.DataFrame) -> list[str]:
    return [f"{n - k}/{n}" for n, k in zip(summary["n"], summary["n_inf"], strict=True)]


def _study_section(study: Study, analysis: Analysis, tr: Strings) -> Section:
    runs, parent = study.runs, study.parent
    sweep = (
        tr(
            "study.sweep",
            run_id=parent.info.run_id,
            sweep_id=parent.data.tags.get("optlab.sweep_id", "?"),
        )
        if parent
        else tr("study.no_sweep")
    )
    commits = sorted(runs.get("optlab.git_commit", pd.Series(dtype=str)).dropna().unique())
    dirty = (runs.get("optlab.git_dirty", pd.Series(dtype=str)) == "true").any()
    statuses = tr("cap.list").join(
        tr("study.status", n=n, status=s) for s, n in runs["status"].value_counts().items()
    )
    seeds = runs.groupby("group")["seed"].nunique()
    experiment = study.experiment
    lines = [
        tr("study.experiment", name=experiment.name, id=experiment.experiment_id),
        tr("study.parent", sweep=sweep),
        tr("study.uri", uri=study.tracking_uri),
        tr("study.commit", commits=", ".join(f"`{c}`" for c in commits) or tr("study.unknown"))
        + (tr("study.dirty") if dirty else ""),
        tr("study.runs", n=len(runs), statuses=statuses, diverged=int(runs["diverged"].sum())),
        tr(
            "study.configurations",
            n=len(analysis.groups),
            seeds=f"{seeds.min()}"
            if seeds.min() == seeds.max()
            else f"{seeds.min()}–{seeds.max()}",
        ),
        tr(
            "study.problems", problems=", ".join(f"`{p}`" for p in sorted(runs["problem"].unique()))
        ),
        tr("study.files"),
        tr("study.generated", now=datetime.now(UTC)),
    ]
    return Section(tr("section.study"), ["\n".join(lines)])


#: Params that say how the lab ran, not what the study measured.
NOT_STUDY_PARAMS = ("tracking.", "trainer.progress", "trainer.checkpoint_every")


def _config_section(runs: pd.DataFrame, tr: Strings | None = None) -> Section:
    """Swept: what varies within an optimizer (its lr grid, RMSprop's α) and the optimizer
    itself; per optimizer: defaults that differ between optimizers but are fixed for each
    (Adam's eps); fixed: the rest that matters to the study (no tracking settings, no shift
    settings when nothing shifts)."""
    params = [p for p in param_columns(runs) if p != "seed" and not p.startswith(NOT_STUDY_PARAMS)]
    shifts = pd.to_numeric(runs.get("dataset.shift_step", pd.Series(dtype=float)), "coerce")
    if not shifts.notna().any():
        params = [p for p in params if not p.startswith("dataset.shift_")]
    values = {p: sorted(runs[p].dropna().astype(str).unique()) for p in params}
    by_optimizer = runs.groupby("optimizer")
    within = {p: bool((by_optimizer[p].nunique() > 1).any()) for p in params}
    swept = [(p, ", ".join(v)) for p, v in values.items() if len(v) > 1 and within[p]]
    swept += [("optimizer", ", ".join(sorted(runs["optimizer"].dropna().unique())))]
    per_optimizer = [
        (p, "; ".join(f"{o}: {', '.join(map(str, sorted(g.dropna().astype(str).unique())))}"
                      for o, g in by_optimizer[p]))
        for p, v in values.items()
        if len(v) > 1 and not within[p] and p != "optimizer.name"
    ]  # fmt: skip
    fixed = [(p, v[0] if v else "None") for p, v in values.items() if len(v) <= 1]
    seeds = ", ".join(str(s) for s in sorted(runs["seed"].dropna().unique()))
    tr = tr or load(DEFAULT)
    blocks = [
        tr("config.swept", seeds=seeds),
        pd.DataFrame(swept, columns=["param", "values"]),
    ]
    if per_optimizer:
        blocks += [
            tr("config.per_optimizer"),
            pd.DataFrame(per_optimizer, columns=["param", "values"]),
        ]
    blocks += [tr("config.fixed"), pd.DataFrame(fixed, columns=["param", "value"])]
    return Section(tr("section.configuration"), blocks)


def _end_section(analysis: Analysis, tr: Strings) -> Section:
    table = analysis.end_of_training
    shown = _described(analysis, analysis.groups[["group", "n_runs", "n_diverged", "n_failed"]])
    for metric in ("final_val_loss", "final_test_loss", "final_test_accuracy"):
        if f"{metric}_mean" in table:
            shown[metric] = _pm(table[f"{metric}_mean"], table[f"{metric}_ci"]).to_numpy()
    return Section(tr("section.end"), [tr("end.text"), shown])


def _time_section(analysis: Analysis, tr: Strings) -> Section:
    per_run = analysis.time_to_target
    summary = stats.to_group_summary(per_run, "time_to_target")
    summary["reached"] = _reached(summary)
    shown = _described(analysis, summary[["group", "median", "reached"]])
    shown = shown.rename(columns={"median": "median_steps"})
    targets = per_run.groupby("problem")["target"].first()
    text = tr(
        "time.text",
        rel=stats.TARGET_REL,
        targets=tr("sentence.join").join(
            tr("time.target", problem=p, target=t) for p, t in targets.items()
        ),
    )
    return Section(tr("section.time"), [text, shown])


def _decay_section(analysis: Analysis, tr: Strings) -> Section:
    summary = stats.to_group_summary(analysis.decay_exponents, "decay_exponent")
    summary["decay_exponent_ci"] = _pm(summary["mean"], summary["ci"], ".3f")
    shown = _described(analysis, summary.drop(columns=["n_inf", "median", "mean", "ci"]))
    return Section(tr("section.decay"), [tr("decay.text"), shown])


def _stall_section(analysis: Analysis, tr: Strings) -> Section:
    summary = stats.to_stall_summary(analysis.stalls)
    if summary.empty:
        return Section(tr("section.stalls"), [tr("stalls.none")])
    summary["stalled"] = [
        f"{k}/{n}" + (f" [{lo:.2f}, {hi:.2f}]" if n else "")
        for k, n, lo, hi in summary[["k", "n", "ci_low", "ci_high"]].itertuples(False)
    ]
    shown = _described(analysis, summary[["group", "stalled", "median_stall_step"]])
    text = tr("stalls.text", exponent=stats.STALL_EXPONENT)
    return Section(tr("section.stalls"), [text, shown])


def _recovery_section(analysis: Analysis, tr: Strings) -> Section:
    if analysis.recovery.empty:
        return Section(tr("section.recovery"), [tr("recovery.none")])
    recovery = analysis.recovery
    defined = recovery[recovery["reason"].isna()]
    summary = stats.to_group_summary(defined, "recovery_time")
    summary["recovered"] = _reached(summary)
    shown = _described(analysis, summary[["group", "median", "recovered"]])
    shown = shown.rename(columns={"median": "median_steps"})
    blocks = [tr("recovery.text", share=stats.RECOVERY_FRACTION), shown]
    undefined = recovery[recovery["reason"].notna()]
    if not undefined.empty:
        counts = undefined.groupby("reason").size()
        reasons = tr("sentence.join").join(
            tr("recovery.reason", n=n, reason=reason) for reason, n in counts.items()
        )
        blocks.append(tr("recovery.undefined", reasons=reasons))
    return Section(tr("section.recovery"), blocks)


def _comparison(runs: pd.DataFrame, analysis: Analysis, tr: Strings) -> pd.DataFrame:
    """One row per label (and kind of change) at its selected lr: seeds and final losses."""
    shifts = pd.to_numeric(runs.get("dataset.shift_step", pd.Series(dtype=float)), "coerce")
    by = ["problem", "dataset.shift_kind", "label"] if shifts.notna().any() else None
    chosen = fnd.select_groups(runs, by=by or ("problem", "label"))
    end = analysis.end_of_training.set_index("group").loc[chosen["group"]]
    table = pd.DataFrame(
        {
            "problem": chosen["problem"].to_numpy(),
            "label": chosen["label"].to_numpy(),
            "lr_selected": [
                f"{lr:g}" + (tr("findings.grid_edge") if fnd.at_grid_edge(runs, label, lr) else "")
                for label, lr in zip(chosen["label"], chosen["optimizer.lr"], strict=True)
            ],
        }
    )
    if by:
        table.insert(1, "change", chosen["dataset.shift_kind"].astype(str).to_numpy())
    table["seeds_ok"] = [
        f"{n - d - f}/{n}"
        for n, d, f in end[["n_runs", "n_diverged", "n_failed"]].itertuples(False)
    ]
    for metric in ("final_val_loss", "final_test_loss"):
        if f"{metric}_mean" in end:
            table[f"{metric}_ci"] = _pm(end[f"{metric}_mean"], end[f"{metric}_ci"]).to_numpy()
    return table


def _findings_section(
    study: Study, analysis: Analysis, figures: dict[str, str], tr: Strings
) -> Section:
    table = analysis.findings
    if table.empty:
        return Section(tr("section.findings"), [tr("findings.none")])
    blocks: list = [Lead(fnd.to_sentences(table, tr.lang))]
    blocks.append(_comparison(study.runs, analysis, tr))
    cited = [name for name in dict.fromkeys(table["figure"]) if name in figures]
    blocks += [_figure(study, name, figures[name], tr) for name in cited[:2]]
    blocks.append(tr("findings.rule") + "\n" + "\n".join(f"- {r}" for r in tr.rule))
    return Section(tr("section.findings"), blocks)


def _problems_section(runs: pd.DataFrame, tr: Strings) -> Section:
    bad = runs[runs["diverged"] | (runs["status"] != "FINISHED")]
    if bad.empty:
        return Section(tr("section.problems"), [tr("problems.none")])
    columns = [
        "run_name",
        "run_id",
        "label",
        "optimizer.lr",
        "seed",
        "status",
        "diverged",
        "diverged_step",
    ]
    shown = bad[[c for c in columns if c in bad.columns]].copy()
    reason = pd.Series(pd.NA, index=bad.index, dtype="object")
    for tag in ("optlab.diverged_reason", "optlab.error"):  # why it diverged, else its error
        if tag in bad:
            reason = reason.fillna(bad[tag].astype("object").str.split("\n").str[0])
    shown["reason"] = reason
    return Section(tr("section.problems"), [shown])


def _methods_section(tr: Strings) -> Section:
    lines = [
        tr("methods.ci"),
        tr("methods.target", rel=stats.TARGET_REL),
        tr("methods.smoothing", share=stats.SMOOTH_FRACTION),
        tr("methods.exponent"),
        tr(
            "methods.stall",
            threshold=stats.STALL_THRESHOLD,
            window=stats.STALL_WINDOW_FRACTION,
        ),
        tr("methods.recovery"),
    ]
    return Section(tr("section.methods"), ["\n".join(lines)])


def _figure(study: Study, name: str, path: str, tr: Strings) -> FigureRef:
    return FigureRef(path, caption(name, study.runs, study.curves, tr.lang))


def to_sections(
    study: Study, analysis: Analysis, figures: dict[str, str], lang: str = DEFAULT
) -> list[Section]:
    """The report, section by section, in ``lang`` (:func:`analysis.strings.languages`);
    ``figures`` maps figure name → relative PNG path. Tables show their columns under the
    language's headings."""
    tr = load(lang)
    figure_blocks = [_figure(study, name, path, tr) for name, path in figures.items()]
    sections = [
        _findings_section(study, analysis, figures, tr),
        _study_section(study, analysis, tr),
        _config_section(study.runs, tr),
        _end_section(analysis, tr),
        _time_section(analysis, tr),
        _decay_section(analysis, tr),
        _stall_section(analysis, tr),
        _recovery_section(analysis, tr),
        Section(tr("section.figures"), figure_blocks or [tr("figures.none")]),
        _problems_section(study.runs, tr),
        _methods_section(tr),
    ]
    for section in sections:
        section.blocks = [
            tr.headers(b) if isinstance(b, pd.DataFrame) else b for b in section.blocks
        ]
    return sections
