"""The sweep's parent run tells its story in the MLflow UI: a description with the study's
question and findings, the swept values as params and the counts as metrics.

The description is MLflow's ``mlflow.note.content`` tag (Markdown, shown on the run's page).
Params cannot change once logged and a rerun of the same sweep reuses its parent, so a swept
key whose values changed is logged as a tag ``optlab.swept.<key>`` instead; counts are metrics
(re-logged on every report, so the latest wins).
"""

from __future__ import annotations

import pandas as pd
from mlflow import MlflowClient, MlflowException
from mlflow.entities import Metric, Param, RunTag

from analysis.findings import to_sentences
from analysis.load import Study, param_columns

__all__ = ["describe_sweep", "log_sweep_summary", "swept_values"]

NOTE_TAG = "mlflow.note.content"
QUESTIONS = {
    "stall": "Does Adagrad's step shrink until it stops learning, while RMSprop's does not, "
    "and what does that cost on held-out test loss?",
    "shift": "When the task changes mid-training, does RMSprop get back to its unshifted "
    "control's loss sooner than Adagrad?",
}


def swept_values(runs: pd.DataFrame) -> dict[str, str]:
    """Param → its values, comma-separated, for the params the sweep varied (seed included).

    >>> swept_values(pd.DataFrame({"run_id": ["a", "b"], "seed": [0, 1], "optimizer.lr": [0.1, 0.1]}))
    {'seed': '0, 1'}
    """  # noqa: E501
    out = {}
    for column in param_columns(runs):
        values = sorted(runs[column].dropna().astype(str).unique())
        if len(values) > 1:
            out[column] = ", ".join(values)
    return out


def _counts(runs: pd.DataFrame) -> dict[str, int]:
    status = runs["status"]
    return {
        "runs": len(runs),
        "finished": int(((status == "FINISHED") & ~runs["diverged"]).sum()),
        "diverged": int(runs["diverged"].sum()),
        "failed": int((status == "FAILED").sum()),
        "killed": int((status == "KILLED").sum()),
    }


def describe_sweep(study: Study, findings: pd.DataFrame, report_path: str) -> str:
    """The parent run's Markdown description."""
    name = study.experiment.name
    counts = _counts(study.runs)
    lines = [f"### {name}: {QUESTIONS.get(name, 'a sweep of the optimizer lab')}", ""]
    if findings.empty:
        lines.append("No claim of the lecture applies to this sweep.")
    else:
        lines += ["**Findings** (verdict, effect [interval], n):", ""]
        lines += [f"- {s}" for s in to_sentences(findings)]
    lines += ["", "**Swept:**", ""]
    lines += [f"- `{key}`: {values}" for key, values in swept_values(study.runs).items()]
    lines += [
        "",
        "**Runs:** " + ", ".join(f"{n} {what}" for what, n in counts.items()),
        "",
        f"**Report:** artifact `{report_path}` (open it under Artifacts).",
    ]
    return "\n".join(lines)


def log_sweep_summary(
    client: MlflowClient, study: Study, findings: pd.DataFrame, report_path: str
) -> None:
    """Write the description, swept params and counts onto the sweep's parent run."""
    run_id = study.parent.info.run_id
    logged = study.parent.data.params
    params, tags = [], [RunTag(NOTE_TAG, describe_sweep(study, findings, report_path))]
    for key, values in swept_values(study.runs).items():
        value = values[:6000]
        if key not in logged:
            params.append(Param(f"swept.{key}", value))
        tags.append(RunTag(f"optlab.swept.{key}", value))
    now = int(pd.Timestamp.now("UTC").timestamp() * 1000)
    metrics = [Metric(f"sweep_{k}", float(n), now, 0) for k, n in _counts(study.runs).items()]
    verdicts = findings["verdict"].value_counts() if not findings.empty else {}
    for verdict in ("held", "did not hold", "unresolved"):
        n = float(verdicts.get(verdict, 0)) if len(verdicts) else 0.0
        metrics.append(Metric(f"claims_{verdict.replace(' ', '_')}", n, now, 0))
    try:
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    except MlflowException:  # a param logged earlier with another value: keep it as a tag
        client.log_batch(run_id, metrics=metrics, tags=tags)
