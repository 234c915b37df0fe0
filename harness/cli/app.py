"""From a composed Hydra config to a job: conversion, validation, sweep context, progress lines."""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from harness.cli.errors import one_line
from harness.core.config import Config, ConfigError
from harness.tracking.progress import count_done, format_eta
from harness.tracking.sweep import PROGRESS_FILE, eta_seconds, load_sweep_info

if TYPE_CHECKING:
    from harness.tracking.job import JobOutcome

GROUPS = ("optimizer", "model", "dataset", "trainer", "tracking")
TOP_LEVEL = {*GROUPS, "seed", "lr_scale", "study"}


def to_config(raw: DictConfig) -> Config:
    """Typed, validated ``Config`` from a composed config; ``ConfigError`` names what is wrong."""
    lr_scale = raw.get("lr_scale", 1.0)  # checked first: every optimizer's lr is derived from it
    if not isinstance(lr_scale, int | float) or isinstance(lr_scale, bool) or not lr_scale > 0:
        raise ConfigError("lr_scale", lr_scale, "must be a number > 0")
    if not math.isfinite(lr_scale):
        raise ConfigError("lr_scale", lr_scale, "must be a finite number")
    tree = OmegaConf.to_object(raw)
    tree.pop("hydra", None)
    _check_conf_files(tree)
    for key, value in tree.items():
        if key not in TOP_LEVEL:
            raise ConfigError(key, value, "unknown key; allowed: " + ", ".join(sorted(TOP_LEVEL)))
    for group in GROUPS:  # `~optimizer` would silently fall back to the dataclass defaults
        if group not in tree:
            raise ConfigError(group, None, f"is required: choose one of conf/{group}/")
    for key in ("seed",):
        if key in tree and (not isinstance(tree[key], int) or isinstance(tree[key], bool)):
            raise ConfigError(key, tree[key], "must be an integer >= 0")
    for key, value in _leaves(tree):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, value, "must be a finite number")
    _check_curves_fit(tree["trainer"])
    return Config(**tree)


def _check_conf_files(tree: dict) -> None:
    """A conf file Hydra loads without complaint can still be wrong: an experiment without
    ``# @package _global_`` files its keys under ``experiment`` (never read); a group's option
    without its schema is an untyped dict."""
    experiment = tree.pop("experiment", None)
    if experiment is not None:
        shown = list(experiment) if isinstance(experiment, dict) else experiment
        raise ConfigError(
            "experiment",
            shown,
            "an experiment sets the lab's keys: its file must start with '# @package _global_' "
            "and hold a mapping (see conf/experiment/stall.yaml)",
        )
    for group in GROUPS:
        if isinstance(tree.get(group), dict):
            raise ConfigError(
                group,
                sorted(map(str, tree[group])),
                f"untyped: its conf/{group}/ file must start with "
                "'defaults: [<option>_schema, _self_]' (or another option of the group)",
            )


def _leaves(tree, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted key, value) of every leaf; a key a dataclass does not declare (``+trainer.x=1``,
    which Hydra adds and ``OmegaConf.to_object`` keeps as an attribute) is a ``ConfigError``."""
    if dataclasses.is_dataclass(tree):
        declared = {f.name for f in dataclasses.fields(tree)}
        for name in vars(tree).keys() - declared:
            allowed = ", ".join(sorted(declared))
            raise ConfigError(
                f"{prefix}{name}", getattr(tree, name), f"unknown key; keys: {allowed}"
            )
        tree = {name: getattr(tree, name) for name in declared}
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), tree


def _check_curves_fit(trainer) -> None:
    """A run's curves are allocated whole at its start: refuse one that cannot fit."""
    from harness.core.curves import MAX_BYTES, table_bytes
    from harness.core.train import EVAL_METRICS, STEP_METRICS

    columns = len(STEP_METRICS + EVAL_METRICS) + 2  # + a 2-D function's x and y
    steps = trainer.steps
    if isinstance(steps, int) and table_bytes(steps, columns) > MAX_BYTES:
        most = MAX_BYTES // (8 * columns) - 1
        raise ConfigError(
            "trainer.steps", steps, f"must be at most {most:,} (its curves must fit in 1 GiB)"
        )


def check_run(raw: DictConfig) -> None:
    """What a single run would refuse, checked before Hydra makes its output folder (from
    ``SweepCallback.on_run_start``): that folder, resolved; the config; its batch against its
    data; its store."""
    import copy

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    from harness.cli.overrides import check_output_folder
    from harness.core.train import job_dataset
    from harness.tracking.store import check_reachable, check_scheme, check_writable, resolve_uri

    HydraConfig.instance().set_config(raw)  # as Hydra does next: ${hydra:...} resolves
    check_output_folder("hydra.run.dir", raw.hydra.run.dir)
    job = copy.deepcopy(raw)
    with read_write(job), open_dict(job):
        del job["hydra"]
    cfg = to_config(job)
    job_dataset(cfg)
    if cfg.tracking.enabled:
        uri = resolve_uri(cfg.tracking.uri)
        check_scheme(uri)
        check_reachable(uri)
        check_writable(uri)


def hydra_context() -> tuple[str, Path | None, list[str]]:
    """(mode, sweep folder or None, this job's overrides) from Hydra's runtime config."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return "multirun", Path(hydra_cfg.sweep.dir), overrides
    return "run", None, overrides


def run_from_hydra(raw: DictConfig) -> JobOutcome:
    """The task function's body: one job, reported as a sweep member when in a multirun."""
    cfg = to_config(raw)
    # Imported once the config is valid: MLflow and the job's tracking modules are not needed to
    # refuse a bad config or to print --help.
    from harness.tracking.job import JobOutcome, SweepInfo, run_job
    from harness.tracking.sink import run_name

    mode, folder, overrides = hydra_context()
    files = {
        "config.yaml": OmegaConf.to_yaml(raw, resolve=True),
        "overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(overrides)),
    }
    if mode == "run":
        outcome = run_job(cfg, files)
        print(_describe(outcome), file=sys.stderr)
        return outcome
    info = load_sweep_info(folder) or {}
    sweep = (
        SweepInfo(info["parent_run_id"], info["sweep_id"]) if info.get("parent_run_id") else None
    )
    if cfg.trainer.progress:
        cfg.trainer.progress = False  # one line per job in a sweep, not a bar per job
    reason = None
    try:
        outcome = run_job(cfg, files, sweep)
    except Exception as error:  # its run, if it has one, is FAILED already; the sweep goes on
        outcome = JobOutcome("FAILED", run_name(cfg))
        reason = one_line(error)[:300]
    _report_progress(folder, info, outcome, reason)
    return outcome


def _describe(outcome: JobOutcome) -> str:
    text = f"{outcome.status} {outcome.name} ({outcome.seconds:.1f}s)"
    result = outcome.result
    if result is not None:
        if result.diverged:
            text += f" diverged at step {result.diverged_step}: {result.diverged_reason}"
        elif "final_val_loss" in result.summary:
            text += f" val_loss={result.summary['final_val_loss']:.4g}"
    if outcome.status == "SKIPPED":
        text += f" — already finished as run {outcome.run_id} (tracking.force=true reruns it)"
    return text


def _report_progress(folder: Path, info: dict, outcome: JobOutcome, reason: str | None) -> None:
    """One line in the sweep's progress file (a failed job's says why) and on stderr."""
    line = f"{outcome.seconds:.2f} {outcome.status} {outcome.name}"
    done = count_done(folder / PROGRESS_FILE, line + (f" ({reason})" if reason else ""))
    total = info.get("total")
    text = f"[{done}/{total or '?'}] {_describe(outcome)}" + (f": {reason}" if reason else "")
    if total and info.get("started"):
        eta = eta_seconds(folder, info["started"], done, total, time.time())
        text += f" | ETA {format_eta(eta)}"
    if sys.stderr.isatty() and outcome.status != "FAILED":
        width = shutil.get_terminal_size().columns - 1
        sys.stderr.write("\r\033[K" + text[:width])  # one line that updates in place
        sys.stderr.flush()
    else:
        print(text, file=sys.stderr, flush=True)
