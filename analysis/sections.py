"""The statistics of a study and the report sections that present them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from analysis import findings as fnd
from analysis import stats
from analysis import verdicts as v
from analysis.captions import caption
from analysis.load import Study, param_columns
from analysis.render import FigureRef, Lead, Section

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


def _study_section(study: Study, analysis: Analysis) -> Section:
    runs, parent = study.runs, study.parent
    sweep = (
        f"`{parent.info.run_id}` (sweep id `{parent.data.tags.get('optlab.sweep_id', '?')}`)"
        if parent
        else "none: every job run of the experiment"
    )
    commits = sorted(runs.get("optlab.git_commit", pd.Series(dtype=str)).dropna().unique())
    dirty = (runs.get("optlab.git_dirty", pd.Series(dtype=str)) == "true").any()
    statuses = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().items())
    seeds = runs.groupby("group")["seed"].nunique()
    lines = [
        f"- Experiment: `{study.experiment.name}` (id {study.experiment.experiment_id})",
        f"- Sweep parent run: {sweep}",
        f"- Tracking URI: `{study.tracking_uri}`",
        f"- Git commit: {', '.join(f'`{c}`' for c in commits) or 'unknown'}"
        + (" (dirty working tree)" if dirty else ""),
        f"- Runs: {len(runs)} ({statuses}); diverged: {int(runs['diverged'].sum())}",
        f"- Configurations: {len(analysis.groups)}; seeds per configuration: "
        + (f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()}"),
        f"- Problems: {', '.join(f'`{p}`' for p in sorted(runs['problem'].unique()))}",
        "- Tables as CSV in `tables/` (the findings in `tables/findings.csv`); figures as PNG, "
        "SVG and PDF in `figures/`",
        f"- Generated: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
    ]
    return Section("Study", ["\n".join(lines)])


#: Params that say how the lab ran, not what the study measured.
NOT_STUDY_PARAMS = ("tracking.", "trainer.progress", "trainer.checkpoint_every")


def _config_section(runs: pd.DataFrame) -> Section:
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
    blocks = [
        f"Swept (seeds: {seeds}):",
        pd.DataFrame(swept, columns=["param", "values"]),
    ]
    if per_optimizer:
        blocks += [
            "Set per optimizer (each optimizer's own default, not swept):",
            pd.DataFrame(per_optimizer, columns=["param", "values"]),
        ]
    blocks += ["Fixed:", pd.DataFrame(fixed, columns=["param", "value"])]
    return Section("Configuration", blocks)


def _end_section(analysis: Analysis) -> Section:
    table = analysis.end_of_training
    shown = _described(analysis, analysis.groups[["group", "n_runs", "n_diverged", "n_failed"]])
    for metric in ("final_val_loss", "final_test_loss", "final_test_accuracy"):
        if f"{metric}_mean" in table:
            shown[metric] = _pm(table[f"{metric}_mean"], table[f"{metric}_ci"]).to_numpy()
    text = (
        "Mean ± 95 % t-interval half-width over the finished, non-diverged seeds of each "
        "configuration (`n_runs` less `n_diverged` and `n_failed`; one seed: no interval). "
        "Selection uses validation, verdicts the held-out test split. Every column, with the "
        "best-so-far values, is in `tables/end_of_training.csv`."
    )
    return Section("End of training", [text, shown])


def _time_section(analysis: Analysis) -> Section:
    per_run = analysis.time_to_target
    summary = stats.to_group_summary(per_run, "time_to_target")
    summary["reached"] = _reached(summary)
    shown = _described(analysis, summary[["group", "median", "reached"]])
    shown = shown.rename(columns={"median": "median steps"})
    targets = per_run.groupby("problem")["target"].first()
    text = (
        "Target per problem: the best configuration's median final validation loss (over "
        f"finished, non-diverged seeds) × (1 + {stats.TARGET_REL}): "
        + "; ".join(f"`{p}` {t:.4g}" for p, t in targets.items())
        + ". Steps to the first evaluation at or below it; never reached, diverged or "
        "failed counts as ∞ (AlgoPerf); median over seeds."
    )
    return Section("Time to target", [text, shown])


def _decay_section(analysis: Analysis) -> Section:
    summary = stats.to_group_summary(analysis.decay_exponents, "decay_exponent")
    summary["decay exponent (mean ± CI)"] = _pm(summary["mean"], summary["ci"], ".3f")
    shown = _described(analysis, summary.drop(columns=["n_inf", "median", "mean", "ci"]))
    text = (
        "Slope of log(effective_lr_median) against log(step) over the second half of "
        "training: Adagrad ≈ -0.5, RMSprop ≈ 0."
    )
    return Section("Effective learning-rate decay", [text, shown])


def _stall_section(analysis: Analysis) -> Section:
    summary = stats.to_stall_summary(analysis.stalls)
    if summary.empty:
        return Section("Stalls", ["No adaptive optimizer in this study: nothing can stall."])
    summary["stalled"] = [
        f"{k}/{n}" + (f" [{lo:.2f}, {hi:.2f}]" if n else "")
        for k, n, lo, hi in summary[["k", "n", "ci_low", "ci_high"]].itertuples(False)
    ]
    summary = summary.rename(columns={"median_stall_step": "median stall step (stalled)"})
    shown = _described(analysis, summary[["group", "stalled", "median stall step (stalled)"]])
    text = (
        "A run stalls when the optimizer's own step shrinks (decay exponent of its "
        f"bias-corrected effective step < {stats.STALL_EXPONENT}) while its smoothed train "
        "loss ends above the problem's train-loss target; a loss plateau alone is not a stall. "
        "Per configuration: stalled seeds k/n with the exact (Clopper-Pearson) 95 % interval of "
        "the fraction; diverged or failed seeds are left out. The stall step (where the loss "
        "flattened) is a median over the stalled seeds only. SGD, Momentum and Nesterov have a "
        "fixed step and are not listed."
    )
    return Section("Stalls", [text, shown])


def _recovery_section(analysis: Analysis) -> Section:
    if analysis.recovery.empty:
        return Section(
            "Recovery after a distribution shift",
            ["No run has `dataset.shift_step` set: the study is stationary."],
        )
    recovery = analysis.recovery
    defined = recovery[recovery["reason"].isna()]
    summary = stats.to_group_summary(defined, "recovery_time")
    summary["recovered"] = _reached(summary)
    shown = _described(analysis, summary[["group", "median", "recovered"]])
    shown = shown.rename(columns={"median": "median steps"})
    text = (
        "On the training loss (logged every step), against the unshifted control of the same "
        "configuration and seed: steps after `dataset.shift_step` until the smoothed loss is "
        f"back within {stats.RECOVERY_FRACTION:.0%} of the jump above the control's; median "
        "over seeds, ∞ when never."
    )
    blocks = [text, shown]
    undefined = recovery[recovery["reason"].notna()]
    if not undefined.empty:
        counts = undefined.groupby("reason").size()
        blocks.append(
            "Undefined and left out: "
            + "; ".join(f"{n} run(s): {reason}" for reason, n in counts.items())
            + "."
        )
    return Section("Recovery after a distribution shift", blocks)


def _comparison(runs: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    """One row per label (and kind of change) at its selected lr: seeds and final losses."""
    shifts = pd.to_numeric(runs.get("dataset.shift_step", pd.Series(dtype=float)), "coerce")
    by = ["problem", "dataset.shift_kind", "label"] if shifts.notna().any() else None
    chosen = fnd.select_groups(runs, by=by or ("problem", "label"))
    end = analysis.end_of_training.set_index("group").loc[chosen["group"]]
    table = pd.DataFrame(
        {
            "problem": chosen["problem"].to_numpy(),
            "label": chosen["label"].to_numpy(),
            "lr (selected on val)": [
                f"{lr:g}" + (" (grid edge)" if fnd.at_grid_edge(runs, label, lr) else "")
                for label, lr in zip(chosen["label"], chosen["optimizer.lr"], strict=True)
            ],
        }
    )
    if by:
        table.insert(1, "change", chosen["dataset.shift_kind"].astype(str).to_numpy())
    table["seeds ok"] = [
        f"{n - d - f}/{n}"
        for n, d, f in end[["n_runs", "n_diverged", "n_failed"]].itertuples(False)
    ]
    for metric, title in (("final_val_loss", "val loss"), ("final_test_loss", "test loss")):
        if f"{metric}_mean" in end:
            table[f"final {title} (mean ± 95 % CI)"] = _pm(
                end[f"{metric}_mean"], end[f"{metric}_ci"]
            ).to_numpy()
    return table


def _findings_section(study: Study, analysis: Analysis, figures: dict[str, str]) -> Section:
    table = analysis.findings
    if table.empty:
        return Section(
            "Findings",
            ["This study makes none of the lecture's claims (it needs Adagrad and RMSprop)."],
        )
    blocks: list = [Lead(fnd.to_sentences(table))]
    blocks.append(_comparison(study.runs, analysis))
    cited = [name for name in dict.fromkeys(table["figure"]) if name in figures]
    blocks += [_figure(study, name, figures[name]) for name in cited[:2]]
    blocks.append("Rule, stated before the data:\n" + "\n".join(f"- {r}" for r in v.RULE))
    return Section("Findings", blocks)


def _problems_section(runs: pd.DataFrame) -> Section:
    bad = runs[runs["diverged"] | (runs["status"] != "FINISHED")]
    if bad.empty:
        return Section("Diverged and failed runs", ["None: every run finished without diverging."])
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
    return Section("Diverged and failed runs", [shown])


def _methods_section() -> Section:
    lines = [
        "- Confidence intervals: Student-t, 95 %, over seeds (per step for curves); values "
        "that are not finite are left out.",
        f"- Time to target: target = best configuration's median final × "
        f"(1 + {stats.TARGET_REL}) per problem; "
        "∞ when never reached, diverged or not FINISHED.",
        f"- Smoothing of train_loss: trailing mean over {stats.SMOOTH_FRACTION:.0%} of the run.",
        "- Decay exponent: least-squares slope of log(effective_lr_median) vs log(step) over "
        "the second half of each run (Adagrad ≈ -0.5, RMSprop ≈ 0).",
        f"- Stall step: first step from which the smoothed train loss improves by less than "
        f"{stats.STALL_THRESHOLD:.0%} over the next {stats.STALL_WINDOW_FRACTION:.0%} of the "
        "run while staying above the train-loss target.",
        "- Recovery time: smoothing restarts at the shift; ∞ when the pre-shift level is "
        "never reached again.",
    ]
    return Section("Methods", ["\n".join(lines)])


def _figure(study: Study, name: str, path: str) -> FigureRef:
    return FigureRef(path, caption(name, study.runs, study.curves))


def to_sections(study: Study, analysis: Analysis, figures: dict[str, str]) -> list[Section]:
    """The report, section by section; ``figures`` maps figure name → relative PNG path."""
    figure_blocks = [_figure(study, name, path) for name, path in figures.items()]
    return [
        _findings_section(study, analysis, figures),
        _study_section(study, analysis),
        _config_section(study.runs),
        _end_section(analysis),
        _time_section(analysis),
        _decay_section(analysis),
        _stall_section(analysis),
        _recovery_section(analysis),
        Section("Figures", figure_blocks or ["No figure applies to this study."]),
        _problems_section(study.runs),
        _methods_section(),
    ]
