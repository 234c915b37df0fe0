"""The report in English (the default): every heading, sentence, caption and figure label."""

from __future__ import annotations

from analysis.verdicts import RULE as RULE  # the rule's own words: analysis.verdicts states it

HTML_LANG = "en"
FIGURE_FONT = None  # matplotlib's default family
CSS_FONTS = None  # the page's system-ui stack

TEXT = {
    # report
    "report.title": "Optimizer lab report: {name}",
    # section titles
    "section.findings": "Findings",
    "section.study": "Study",
    "section.configuration": "Configuration",
    "section.end": "End of training",
    "section.time": "Time to target",
    "section.decay": "Effective learning-rate decay",
    "section.stalls": "Stalls",
    "section.recovery": "Recovery after a distribution shift",
    "section.figures": "Figures",
    "section.problems": "Diverged and failed runs",
    "section.methods": "Methods",
    # study
    "study.sweep": "`{run_id}` (sweep id `{sweep_id}`)",
    "study.no_sweep": "none: every job run of the experiment",
    "study.experiment": "- Experiment: `{name}` (id {id})",
    "study.parent": "- Sweep parent run: {sweep}",
    "study.uri": "- Tracking URI: `{uri}`",
    "study.commit": "- Git commit: {commits}",
    "study.unknown": "unknown",
    "study.dirty": " (dirty working tree)",
    "study.runs": "- Runs: {n} ({statuses}); diverged: {diverged}",
    "study.status": "{n} {status}",
    "study.configurations": "- Configurations: {n}; seeds per configuration: {seeds}",
    "study.problems": "- Problems: {problems}",
    "study.files": "- Tables as CSV in `tables/` (the findings in `tables/findings.csv`); "
    "figures as PNG, SVG and PDF in `figures/`",
    "study.generated": "- Generated: {now:%Y-%m-%d %H:%M UTC}",
    # configuration
    "config.swept": "Swept (seeds: {seeds}):",
    "config.per_optimizer": "Set per optimizer (each optimizer's own default, not swept):",
    "config.fixed": "Fixed:",
    # end of training
    "end.text": "Mean ± 95 % t-interval half-width over the finished, non-diverged seeds of each "
    "configuration (`n_runs` less `n_diverged` and `n_failed`; one seed: no interval). "
    "Selection uses validation, verdicts the held-out test split. Every column, with the "
    "best-so-far values, is in `tables/end_of_training.csv`.",
    # time to target
    "time.text": "Target per problem: the best configuration's median final validation loss "
    "(over finished, non-diverged seeds) × (1 + {rel}): {targets}. Steps to the first "
    "evaluation at or below it; never reached, diverged or failed counts as ∞ (AlgoPerf); "
    "median over seeds.",
    "time.target": "`{problem}` {target:.4g}",
    # decay
    "decay.text": "Slope of log(effective_lr_median) against log(step) over the second half of "
    "training: Adagrad ≈ -0.5, RMSprop ≈ 0.",
    # stalls
    "stalls.none": "No adaptive optimizer in this study: nothing can stall.",
    "stalls.text": "A run stalls when the optimizer's own step shrinks (decay exponent of its "
    "bias-corrected effective step < {exponent}) while its smoothed train loss ends above the "
    "problem's train-loss target; a loss plateau alone is not a stall. Per configuration: "
    "stalled seeds k/n with the exact (Clopper-Pearson) 95 % interval of the fraction; "
    "diverged or failed seeds are left out. The stall step (where the loss flattened) is a "
    "median over the stalled seeds only. SGD, Momentum and Nesterov have a fixed step and are "
    "not listed.",
    # recovery
    "recovery.none": "No run has `dataset.shift_step` set: the study is stationary.",
    "recovery.text": "On the training loss (logged every step), against the unshifted control "
    "of the same configuration and seed: steps after `dataset.shift_step` until the smoothed "
    "loss is back within {share:.0%} of the jump above the control's; median over seeds, ∞ "
    "when never.",
    "recovery.undefined": "Undefined and left out: {reasons}.",
    "recovery.reason": "{n} run(s): {reason}",
    # findings
    "findings.none": "This study makes none of the lecture's claims (it needs Adagrad and "
    "RMSprop).",
    "findings.rule": "Rule, stated before the data:",
    "findings.grid_edge": " (grid edge)",
    # findings sentences (analysis.findings.to_sentences)
    "sentence": "**{verdict}** — {statement} ({arm}): {quantity} {effect}; {tail}.",
    "sentence.effect": "{effect} [{low}, {high}], {level:.3g} % interval, n={n}",
    "sentence.no_interval": "{effect} (n={n}, no interval)",
    "sentence.margin": "margin {margin}",
    "sentence.holm": "Holm-adjusted p {p:.2g}",
    "sentence.sign_flip": " (exact sign-flip p {p:.2g}, not adjusted)",
    "sentence.split": "split: {split}",
    "sentence.excluded": "{n} seed(s) excluded (diverged, failed or undefined)",
    "sentence.seeds_needed": "about {n} seeds would resolve it",
    "sentence.recovery_quantity": "steps to recover ({censored} run(s) never did: counted as "
    "the steps left, a lower bound), paired by seed",
    "sentence.join": "; ",
    # problems
    "problems.none": "None: every run finished without diverging.",
    # figures
    "figures.none": "No figure applies to this study.",
    # methods
    "methods.ci": "- Confidence intervals: Student-t, 95 %, over seeds (per step for curves); "
    "values that are not finite are left out.",
    "methods.target": "- Time to target: target = best configuration's median final × "
    "(1 + {rel}) per problem; ∞ when never reached, diverged or not FINISHED.",
    "methods.smoothing": "- Smoothing of train_loss: trailing mean over {share:.0%} of the run.",
    "methods.exponent": "- Decay exponent: least-squares slope of log(effective_lr_median) vs "
    "log(step) over the second half of each run (Adagrad ≈ -0.5, RMSprop ≈ 0).",
    "methods.stall": "- Stall step: first step from which the smoothed train loss improves by "
    "less than {threshold:.0%} over the next {window:.0%} of the run while staying above the "
    "train-loss target.",
    "methods.recovery": "- Recovery time: smoothing restarts at the shift; ∞ when the pre-shift "
    "level is never reached again.",
    # captions: pieces
    "cap.seeds": "n = {n} seeds",
    "cap.seed": "n = {n} seed",
    "cap.seeds_range": "n = {lo}–{hi} seeds",
    "cap.over": "{mean} over {seeds}",
    "cap.one_seed": " (one seed: no interval, no band)",
    "cap.with_band": " with {band}",
    "cap.none_single": ", none for a single seed",
    "cap.stopped": " {n} of the runs drawn stopped early (diverged or failed): past their last "
    "step the band is over the remaining seeds.",
    "cap.shift": " Dotted line: distribution shift at step {steps}.",
    "cap.left_out": " Left out, {why}: {labels}.",
    "cap.list": ", ",
    "cap.geometric_mean": "geometric mean",
    "cap.mean": "mean",
    "cap.band": "a 95 % t-interval band",
    "cap.band_log": "a 95 % t-interval band of the log",
    "cap.band_log_loss": "a 95 % t-interval band of the log loss",
    # captions, one per figure
    "cap.train_loss": "train loss (trailing mean over {percent:g} % of each run)",
    "cap.val_loss": "validation loss",
    "cap.and": " and ",
    "cap.loss": "{what}, log scale, of each label's best-tuned learning rate (lr in the legend): "
    "{over}.{notes}",
    "cap.accuracy": "Validation accuracy of each label's best-tuned learning rate (lr in the "
    "legend): {over}.{notes}",
    "cap.effective_lr": "Median effective step size over the parameters (log-log) of each "
    "label's best-tuned learning rate: geometric mean over {seeds}; {band}. Dashed: ∝ "
    "t^(-1/2), the decay of Adagrad's step on a constant gradient, through the first point of "
    "Adagrad's curve.{left_out}",
    "cap.effective_lr.quantiles": "band: p10 to p90 over the parameters (geometric mean over "
    "seeds)",
    "cap.effective_lr.ci": "band: 95 % t-interval of the log over seeds",
    "cap.effective_lr.why": "no adaptive accumulator (their step is lr)",
    "cap.accumulator": "Mean of the squared-gradient accumulator (h for Adagrad and RMSprop, v "
    "for Adam), log scale, of each label's best-tuned learning rate: {over}. Adagrad sums "
    "every squared gradient; RMSprop and Adam keep a moving average.{left_out}",
    "cap.accumulator.why": "no accumulator",
    "cap.sensitivity": "Final validation loss against learning rate (log-log): a dot per "
    "finished, non-diverged seed ({seeds} per learning rate), a line through their medians; "
    "{crosses}.",
    "cap.sensitivity.crosses": "{n} crosses along the top: diverged or failed seeds",
    "cap.sensitivity.none": "none diverged",
    "cap.heatmap": "RMSprop: median final validation loss over learning rate × decay rate α, "
    "over the finished, non-diverged seeds of each cell ({seeds} per cell).",
    "cap.trajectories": "Paths of each optimizer on the 2-D test functions: one run per label, "
    "the lowest seed of its learning rate with the lowest final loss; star: the minimum.",
    "cap.profile": "Performance profile over {problems} problems: the fraction of problems on "
    "which a label's fastest learning rate (in the legend) reaches the target (validation "
    "loss ≤ the best configuration's median final × {factor:g}) within τ times the fastest "
    "label's steps, a median over seeds; never reaching it counts as ∞.",
    # figure labels
    "fig.step": "step",
    "fig.step_t": "step t",
    "fig.smoothed": "{metric} (smoothed)",
    "fig.effective_lr": "median effective step size",
    "fig.accumulator": "accumulator mean (h or v)",
    "fig.lr": "learning rate",
    "fig.failed": "diverged/failed",
    "fig.median": "median {metric}",
    "fig.decay_rate": "decay rate α",
    "fig.tau": "τ (time to target / fastest)",
    "fig.fraction": "fraction of problems",
    "fig.profile": "performance profile ({metric} target)",
    # animations
    "anim.step_of": "step {step} of {last}",
    "anim.h": "accumulator h",
    "anim.effective_step": "effective step lr/(√h + ε)",
    "anim.entry": "{label}: {what}",
    "anim.entry.adagrad": "the jar: h ← h + g²",
    "anim.entry.rmsprop": "the blend: h ← αh + (1 − α)g²",
    "anim.paths": "{labels}: each one's path over the contours of {functions} (★ the minimum), "
    "step 0 to {last}, drawn as it was taken. Each is the run the trajectory figure shows, at "
    "the lr in its legend entry (lowest final value among the lrs tried; diverged runs last). "
    "{frames} frames: every step to step {dense}, then spaced geometrically; the last frame "
    "holds {hold:g} s.",
    "anim.quiet": ", × {scale:g} from step {step} on (dotted line)",
    "anim.end": "{label} h = {h:.3g}, step {step:.3g}",
    "anim.jar": "The jar filling: Adagrad's accumulator h only fills (h ← h + g²); RMSprop's is "
    "a coffee blend (h ← αh + (1 − α)g², decay rate α = {alphas}). All arms see one gradient "
    "stream of {last} steps ({stream}); beneath, each one's effective step size lr/(√h + ε) at "
    "lr = {lr:g}. At step {last}: {ends}. {frames} frames, evenly spaced.",
}

HEADERS = {  # a column made for a table → its heading; the data's columns show their names
    "median_steps": "median steps",
    "median_stall_step": "median stall step (stalled)",
    "decay_exponent_ci": "decay exponent (mean ± CI)",
    "lr_selected": "lr (selected on val)",
    "seeds_ok": "seeds ok",
    "final_val_loss_ci": "final val loss (mean ± 95 % CI)",
    "final_test_loss_ci": "final test loss (mean ± 95 % CI)",
}
TERMS: dict[str, str] = {}  # the data's words as they are
STATEMENTS: dict[str, str] = {}  # analysis.findings.STATEMENTS
