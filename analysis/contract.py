"""Names of the tracking contract: the tags, params, metrics and artifact the harness writes.

Kept in one place so the loader, the statistics and the tests agree on spelling.

>>> SWEEP_ROLE, JOB_ROLE
('sweep', 'job')
>>> "final_val_loss" in SUMMARY_METRICS
True
"""

from __future__ import annotations

from harness.core.optim import OPTIMIZERS
from harness.core.train import EVAL_METRICS, STEP_METRICS
from harness.tracking.job import (
    IN_SWEEP_TAG as IN_SWEEP_TAG,  # + a sweep's parent id: a job it skipped
)

PARENT_TAG = "mlflow.parentRunId"
ROLE_TAG = "optlab.role"
SWEEP_ID_TAG = "optlab.sweep_id"
STUDY_TAG = "optlab.study"
OPTIMIZER_TAG = "optlab.optimizer"
LABEL_TAG = "optlab.label"
GROUP_TAG = "optlab.group"
CONFIG_HASH_TAG = "optlab.config_hash"
DIVERGED_TAG = "optlab.diverged"
DIVERGED_STEP_TAG = "optlab.diverged_step"
DIVERGED_REASON_TAG = "optlab.diverged_reason"
GIT_COMMIT_TAG = "optlab.git_commit"
GIT_DIRTY_TAG = "optlab.git_dirty"

SWEEP_ROLE = "sweep"
JOB_ROLE = "job"

CURVES_ARTIFACT = "curves/curves.parquet"
REPORT_ARTIFACT_DIR = "report"

SUMMARY_METRICS = (
    "final_val_loss",
    "best_val_loss",
    "final_val_accuracy",
    "best_val_accuracy",
    "final_test_loss",
    "final_test_accuracy",
    "diverged",
)
CURVE_METRICS = STEP_METRICS + EVAL_METRICS  # what the training loop records
TRAJECTORY_COLUMNS = ("x", "y")
TRAJECTORY_MODELS = ("quadratic2d", "rosenbrock", "beale")

OPTIMIZER_ORDER = tuple(OPTIMIZERS)  # the registry's order: SGD … Adam, AMSGrad


def default_tracking_uri() -> str:
    """The harness's embedded SQLite store, where runs go when ``tracking.uri`` is null.

    ``<project>/store/mlflow.db``, or under ``OPTLAB_STORE_DIR`` when that is set.
    """
    from harness.tracking.store import resolve_uri

    return resolve_uri(None)
