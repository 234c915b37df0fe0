"""The MLflow sink: full curves cheaply, and what a run is tagged with.

Logging design: one ``log_metric`` call per point costs far more than the training itself
(benchmark P2, ``benchmarks/RESULTS.md``: "per-point log_metric"). So the training loop writes
every step into preallocated arrays (``harness.core.curves``), and this sink sends MLflow a
**UI-resolution copy**: every ``metric_every``-th step (auto: about ``UI_POINTS`` points per
curve) plus every evaluation (val_* and test_* are sparse already), batched into few
``log_batch`` calls (see ``MlflowSink``). MLflow stores each value through its ORM, so the
values, not the calls, are most of what tracking costs a short job (P2's notes in
``benchmarks/RESULTS.md``): ``UI_POINTS`` is what a chart in the UI needs to show a curve's
shape (a 2000-step job: every 40th step), not the 320 points MLflow's charts could sample.
The **full-resolution curves** go to one Parquet artifact, ``curves/curves.parquet``, at the
end of the run (until then a checkpoint keeps them); ``analysis`` reads that file, so no point
is lost and loading a sweep is one file per run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.core.config import Config
from harness.core.curves import Curves
from harness.core.optim import OPTIMIZERS
from harness.tracking.store import PROJECT_ROOT

UI_POINTS = 50
BATCH_POINTS = 1000
FLUSH_SECONDS = 10.0
#: Already sparse (every ``eval_every`` steps), so every evaluation is sent, off the stride too.
EVAL_COLUMNS = ("val_loss", "val_accuracy", "test_loss", "test_accuracy")
#: Summary values sent as tags, not metrics: a 0/1 flag charted as a metric is a bar of "0.00"
#: labels in the UI. ``optlab.diverged`` (``run_end_tags``) is what ``analysis.load`` reads.
TAG_ONLY_SUMMARY = frozenset({"diverged"})


def metric_stride(metric_every: int, steps: int) -> int:
    """``metric_every``, or with 0 the stride that keeps about ``UI_POINTS`` points per curve.

    >>> metric_stride(0, 2000), metric_stride(0, 40), metric_stride(5, 2000)
    (40, 1, 5)
    """
    return metric_every or max(1, math.ceil(steps / UI_POINTS))


class MlflowSink:
    """A ``harness.core.train.Sink`` logging strided metrics in batches, full curves as Parquet.

    Pending steps go out when they hold ``BATCH_POINTS`` values or ``FLUSH_SECONDS`` after the
    last call (so a long run shows up live in the UI), and at the end together with the summary
    metrics and tags; ``params`` ride in the first call: a 2000-step digits job makes one
    ``log_batch`` call. MLflow charges per call and per value (P2's notes in
    ``benchmarks/RESULTS.md``), so fewer, fuller calls are what keeps tracking cheap. A job
    stopped by a signal or an error flushes on its way out (``harness.tracking.job``), params
    included; one killed harder before its first call leaves a run with its tags alone, which
    its rerun closes. Each call carries whole steps, so a kill never leaves a step half logged
    (``harness.tracking.checkpoint`` resumes from the last complete step; a checkpoint is
    saved after a flush, so a resumed run has its params).
    """

    def __init__(self, client, run_id: str, stride: int, params: dict[str, str] | None = None):
        self.client, self.run_id, self.stride = client, run_id, stride
        self.params = dict(params or {})  # unsent: they ride in the first call that goes out
        self.pending: dict[int, list[tuple[str, float]]] = {}  # step → the values it sends
        self.pending_points = 0
        self.flushed_upto = 0
        self.flushed_at = time.monotonic()
        self.curves: Curves | None = None
        self._val_column: int | None = None

    def attach(self, curves: Curves) -> None:
        """Hold the run's curves and what ``on_step`` reads from them on every step."""
        self.curves = curves
        self._val_column = curves.index.get("val_loss")

    def on_start(self, curves: Curves) -> None:
        self.attach(curves)
        if not self.flushed_upto:
            self.add(0)  # step 0 holds the first evaluation

    def on_step(self, step: int, curves: Curves) -> None:
        if step % self.stride == 0 or self._evaluated(curves, step):
            self.add(step)
            full = self.pending_points + len(curves.columns) > BATCH_POINTS
            if full or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
                self.flush()

    def add(self, step: int) -> None:
        """Queue ``step``'s values (final once the step is done) for the next ``log_batch``."""
        self.pending[step] = values = self._values(step)
        self.pending_points += len(values)

    def _evaluated(self, curves: Curves, step: int) -> bool:
        """Did the loop evaluate at ``step``? (Every evaluation is logged, whatever the stride.)"""
        i = self._val_column
        return i is not None and not math.isnan(curves.data[step, i])

    def _values(self, step: int) -> list[tuple[str, float]]:
        """What ``step`` sends: every value on the stride and at the last step, else evaluations."""
        data, columns = self.curves.data, self.curves.columns
        if step >= data.shape[0]:
            return []
        every = step % self.stride == 0 or step == data.shape[0] - 1
        return [
            (name, float(data[step, i]))
            for i, name in enumerate(columns)
            if not np.isnan(data[step, i]) and (every or name in EVAL_COLUMNS)
        ]

    def flush(self, metrics=(), tags=()) -> None:
        """Send the params not yet sent and the pending steps, whole steps to a call of at most
        ``BATCH_POINTS`` entities (MLflow's limit for metrics, params and tags together).

        The params ride in the first call, ``metrics`` and ``tags`` (MLflow entities) in the
        last. If a call fails, what it carried stays unsent for whoever flushes next.
        """
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in self.params.items()]
        calls = [_Call(params=params)]
        for step, pairs in self.pending.items():
            values = [Metric(name, value, now, step) for name, value in pairs]
            if calls[-1].size and calls[-1].size + len(values) > BATCH_POINTS:
                calls.append(_Call())
            calls[-1].steps.append(step)
            calls[-1].metrics.extend(values)
        if calls[-1].size + len(metrics) + len(tags) > BATCH_POINTS:
            calls.append(_Call())
        calls[-1].metrics.extend(metrics)
        calls[-1].tags.extend(tags)
        for call in calls:
            if call.size:
                self.client.log_batch(
                    self.run_id, metrics=call.metrics, params=call.params, tags=call.tags
                )
            self.params = {} if call.params else self.params
            if call.steps:
                self.flushed_upto = max(self.flushed_upto, call.steps[-1])
                for step in call.steps:
                    del self.pending[step]
        self.pending_points = 0
        self.flushed_at = time.monotonic()

    def on_checkpoint(self, state) -> None:
        self.flush()

    def on_end(self, result) -> None:
        """The final point, whatever the stride, with the summary metrics and divergence tags."""
        from mlflow.entities import Metric

        last = result.curves.last_step
        if last not in self.pending and last > self.flushed_upto:
            self.add(last)
        now = int(time.time() * 1000)
        summary = [
            Metric(k, v, now, 0)
            for k, v in result.summary.items()
            if math.isfinite(v) and k not in TAG_ONLY_SUMMARY
        ]
        self.flush(summary, run_end_tags(result))


@dataclass
class _Call:
    """One ``log_batch`` call being packed, and the pending steps it carries."""

    params: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.params) + len(self.metrics) + len(self.tags)


def run_end_tags(result) -> list:
    """Where and why the run diverged, as MLflow tags; none when it did not: every job's run
    starts tagged ``optlab.diverged=false`` (``run_tags``), so a run that ends well needs no
    tag at its end."""
    from mlflow.entities import RunTag

    if not result.diverged:
        return []
    return [
        RunTag("optlab.diverged", "true"),
        RunTag("optlab.diverged_step", str(result.diverged_step)),
        RunTag("optlab.diverged_reason", result.diverged_reason),
    ]


#: The full curves, as the artifact ``analysis`` reads (``analysis.contract.CURVES_ARTIFACT``).
CURVES_FOLDER, CURVES_FILE = "curves", "curves.parquet"


def log_run_end(
    client, run_id: str, result, files: dict[str, str], artifact_uri: str | None = None
) -> None:
    """The artifacts: the full curves as Parquet, and ``files`` (the config).

    A local artifact location (the embedded store's) gets each file written in place through
    MLflow's own atomic writer (``log_artifact_from_stream``: a hidden temporary file, then a
    rename); another (a server's) gets them in one upload of a temporary folder.
    ``artifact_uri``, the run's, when known (``create_run`` returned it), saves MLflow a
    ``get_run`` to look it up.
    """
    import io

    from mlflow.store.artifact.artifact_repo import StreamUploadMixin
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    if artifact_uri is None:
        artifact_uri = client.get_run(run_id).info.artifact_uri
    repository = get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)
    parquet = io.BytesIO()
    result.curves.to_frame().to_parquet(parquet)
    if isinstance(repository, StreamUploadMixin):
        parquet.seek(0)
        repository.log_artifact_from_stream(parquet, CURVES_FILE, CURVES_FOLDER)
        for name, text in files.items():
            repository.log_artifact_from_stream(io.BytesIO(text.encode()), name)
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / CURVES_FOLDER).mkdir()
        (Path(folder) / CURVES_FOLDER / CURVES_FILE).write_bytes(parquet.getvalue())
        for name, text in files.items():
            (Path(folder) / name).write_text(text)
        repository.log_artifacts(folder)


# --- identity of a run ----------------------------------------------------------------------
def result_relevant(cfg: Config) -> dict:
    """The parts of a config that change a run's numbers (not where it is tracked or shown)."""
    trainer = asdict(cfg.trainer)
    for key in ("progress", "checkpoint_every"):
        trainer.pop(key)
    return {
        "optimizer": asdict(cfg.optimizer),
        "model": asdict(cfg.model),
        "dataset": asdict(cfg.dataset),
        "trainer": trainer,
        "seed": cfg.seed,
    }


def config_hash(cfg: Config, with_seed: bool = True) -> str:
    """A short stable hash of ``result_relevant(cfg)``: equal hashes, equal runs."""
    relevant = result_relevant(cfg)
    if not with_seed:
        relevant.pop("seed")
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def label(cfg: Config) -> str:
    """A label for plots and the UI: ``RMSprop α=0.9``, ``Adagrad`` (the optimizer class's
    ``label`` and the hyperparameters that name a group, ``harness.core.optim.spec``)."""
    return OPTIMIZERS[cfg.optimizer.name].group_label(cfg.optimizer.hyperparams())


def problem(cfg: Config) -> str:
    """``dataset/model``, or the model alone for a 2-D function (``analysis.load`` agrees)."""
    if cfg.dataset.name == "none":
        return cfg.model.name
    return f"{cfg.dataset.name}/{cfg.model.name}"


def group_label(cfg: Config) -> str:
    """What a group of seeds is, for a person: the value of the ``optlab.group_label`` tag
    that the MLflow UI groups runs by (``optlab.group`` is the exact hash of the same).

    ``RMSprop α=0.99 · lr 0.001 · mnist1d/mlp``, and `` · <shift kind>@<step>`` when the
    dataset has a shift step (``none@800`` is a shift study's unshifted control). Configs that
    differ only elsewhere (``model.hidden``, say) share a label but not a group.
    """
    parts = [label(cfg), f"lr {cfg.optimizer.lr:g}", problem(cfg)]
    if cfg.dataset.shift_step is not None:
        parts.append(f"{cfg.dataset.shift_kind}@{cfg.dataset.shift_step}")
    return " · ".join(parts)


SHIFT_NAMES = {"scale_inputs": "scale", "permute_labels": "perm", "none": "noshift"}


def run_name(cfg: Config) -> str:
    """A name short enough for the UI's runs table: ``rmsprop-a0.99-lr0.001-s0``.

    The parts that vary within a study: optimizer (and the hyperparameters that name its
    group, as α), lr, kind of shift, seed. The problem and the shift step are in the group label
    and the params.
    """
    spec = OPTIMIZERS[cfg.optimizer.name]
    parts = [cfg.optimizer.name, *spec.group_name_parts(cfg.optimizer.hyperparams())]
    parts.append(f"lr{cfg.optimizer.lr:g}")
    if cfg.dataset.shift_step is not None:
        parts.append(SHIFT_NAMES.get(cfg.dataset.shift_kind, cfg.dataset.shift_kind))
    parts.append(f"s{cfg.seed}")
    return "-".join(parts)


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys for MLflow params: ``{"optimizer": {"lr": 0.1}}`` → ``{"optimizer.lr": "0.1"}``.

    >>> flatten({"optimizer": {"lr": 0.1, "name": "sgd"}, "seed": 0})
    {'optimizer.lr': '0.1', 'optimizer.name': 'sgd', 'seed': '0'}
    """
    out = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = str(value)
    return out


@functools.cache
def git_state() -> dict[str, str]:
    """The project's commit and whether the work tree has uncommitted changes."""

    # git runs commands named in its config (core.fsmonitor during status): none from the
    # environment (GIT_CONFIG_*, GIT_DIR, ...), and no file-system monitor
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def git(*args):
        command = ["git", "-c", "core.fsmonitor=false", "-C", str(PROJECT_ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=10, env=env)

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {"optlab.git_commit": "unknown", "optlab.git_dirty": "unknown"}
    commit = head.stdout.strip() if head.returncode == 0 else "unknown"
    return {
        "optlab.git_commit": commit,
        "optlab.git_dirty": str(bool(dirty.stdout.strip())).lower(),
    }


def run_tags(cfg: Config) -> dict[str, str]:
    """Tags every job carries. No environment variable is ever copied here."""
    import mlflow

    return {
        "optlab.role": "job",
        "optlab.diverged": "false",  # until the run diverges (``run_end_tags``)
        "optlab.study": cfg.study,
        "optlab.optimizer": cfg.optimizer.name,
        "optlab.label": label(cfg),
        "optlab.group_label": group_label(cfg),
        "optlab.config_hash": config_hash(cfg),
        "optlab.group": config_hash(cfg, with_seed=False),
        "optlab.python": platform.python_version(),
        "optlab.numpy": np.__version__,
        "optlab.mlflow": mlflow.__version__,
        **git_state(),
        **{str(k): str(v) for k, v in cfg.tracking.tags.items()},
        **(
            {"mlflow.parentRunId": cfg.tracking.parent_run_id} if cfg.tracking.parent_run_id else {}
        ),
    }
