"""A multirun sweep as one MLflow parent run, shared by every job under any launcher.

``SweepCallback`` runs in the process that launches the sweep, before the launcher fans out:
it validates every job's config, prepares the store once (no migration race), finds or creates
the parent run, and writes ``<sweep dir>/.optlab/sweep.json`` that every job reads (joblib,
submitit and Slurm jobs all see the sweep folder). The parent is keyed by the sweep's command
(experiment and overrides), so running the same command again continues the same parent, and
jobs already FINISHED are skipped by config hash (``harness.tracking.job``).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import hashlib
import json
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from harness.tracking.sweep import (
    forget_sweep_files,
    load_sweep_info,
    open_parent,
    progress_lines,
    summarize,
    write_sweep_info,
)


class SweepAbort(BaseException):  # noqa: N818 - a BaseException: Hydra's callback runner swallows Exception
    """Stop a launch (a sweep, or a run refused before it starts) with a one-line message and an
    exit code (2: bad input, 1: failed jobs)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def sweep_folder(config: DictConfig) -> Path:
    return Path(config.hydra.sweep.dir)


def job_overrides(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides as the basic sweeper will launch them (None for other sweepers)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(arguments)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def sweep_key(config: DictConfig, jobs: list[list[str]] | None) -> str:
    """Same experiment and same jobs → same key → the same parent run."""
    identity = {
        "experiment": config.tracking.experiment,
        "jobs": sorted(" ".join(sorted(j)) for j in jobs)
        if jobs is not None
        else sorted(config.hydra.overrides.task),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


#: Jobs ``validate_jobs`` has passed in this process (the sweeper asks again: see its plugin).
_VALID: set[tuple[str | None, ...]] = set()


def validate_jobs(config_name: str | None, jobs: list[list[str]]) -> None:
    """Check every job's config, and that its batch fits its data, now, so a bad one fails
    before any run exists.

    Composing a job is costly, nearly all of it the defaults tree, which only the config-group
    choices shape. So each distinct set of choices is composed once, and each job's plain value
    overrides are applied to a copy of it by the function Hydra applies them with after composing:
    the same config and the same first error as composing the job whole.
    """
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from harness.cli.errors import is_input_error, one_line

    loader = GlobalHydra.instance().config_loader()
    _, repo = loader._parse_overrides_and_create_caching_repo(config_name, [])
    parser = OverridesParser.create()
    composed: dict[tuple[str, ...], DictConfig | None] = {}
    for overrides in jobs:
        job = (config_name, *overrides)
        if job in _VALID:
            continue
        try:
            choices, values = _split_overrides(parser.parse_overrides(overrides), repo)
            _check_job(config_name, overrides, choices, values, composed)
        except Exception as error:  # bad input: 2; the machine failing (disk, memory): 1
            raise SweepAbort(one_line(error), 2 if is_input_error(error) else 1) from error
        _VALID.add(job)


def check_jobs(jobs: list[list[str]]) -> None:
    """Every job's overrides, ``hydra.sweeper.params`` expanded, against the command line's
    allowlist (``harness.cli.overrides``): a sweep written as config is held to the same rules."""
    from harness.cli.overrides import check_overrides
    from harness.core.config import ConfigError

    try:
        for overrides in {tuple(job) for job in jobs}:
            check_overrides(list(overrides))
    except ConfigError as error:
        raise SweepAbort(str(error), 2) from error


#: Overrides that choose where a job's run is filed: a sweep's parent run lives in one place.
STUDY_KEYS = ("study", "tracking.experiment", "experiment")


def check_one_study(jobs: list[list[str]]) -> None:
    """One study per sweep: its parent run lives in one experiment, with every job under it.

    >>> check_one_study([["study=a", "seed=0"], ["study=a", "seed=1"]])
    >>> try:
    ...     check_one_study([["study=a"], ["study=b"]])
    ... except SweepAbort as refused:
    ...     print(refused.code, str(refused).split(":")[0])
    2 study='a,b'
    """
    from harness.core.config import ConfigError

    for key in STUDY_KEYS:
        values = {
            value
            for job in jobs
            for override in job
            for named, _, value in [override.lstrip("+").partition("=")]
            if named == key
        }
        if len(values) > 1:
            allowed = "one study per sweep (its parent run lives in one experiment)"
            error = ConfigError(key, ",".join(sorted(values)), allowed)
            raise SweepAbort(f"{error}; run one sweep per study", 2)


def _check_job(
    config_name: str | None,
    overrides: list[str],
    choices: tuple[str, ...],
    values: list,
    composed: dict[tuple[str, ...], DictConfig | None],
) -> None:
    """One job: its choices composed (once, kept in ``composed``), its values applied, checked."""
    from hydra import compose
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import OmegaConfBaseException

    from harness.cli.app import to_config
    from harness.core.train import job_dataset

    if choices not in composed:
        try:
            composed[choices] = compose(config_name=config_name, overrides=list(choices))
        except Exception:
            composed[choices] = None
    if composed[choices] is None:  # composed whole: its first error may be in `values`
        job_dataset(to_config(compose(config_name=config_name, overrides=overrides)))
        return
    cfg = copy.deepcopy(composed[choices])
    try:
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    except OmegaConfBaseException as error:  # wrapped as Hydra's load_configuration does
        raise ConfigCompositionException() from error
    job_dataset(to_config(cfg))


def _split_overrides(overrides: list, repo) -> tuple[tuple[str, ...], list]:
    """(what Hydra composes the defaults from, plain value overrides it applies afterwards).

    A plain value override is what Hydra's ``Overrides`` puts in ``config_overrides`` (a dict or
    a key that is no config group), outside ``hydra``; sweeps are left to Hydra to refuse. A job
    that names ``hydra.searchpath`` changes where groups are found: it is composed whole.
    """
    if any(o.key_or_group == "hydra.searchpath" for o in overrides):
        return tuple(o.input_line for o in overrides), []
    choices, values = [], []
    for override in overrides:
        key = override.key_or_group
        plain = isinstance(override.value(), dict) or not repo.group_exists(key)
        of_hydra = key == "hydra" or override.is_hydra_override()
        if plain and not of_hydra and not override.is_sweep_override():
            values.append(override)
        else:
            choices.append(override.input_line)
    return tuple(choices), values


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.client = self.parent_run_id = None

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        """A single run is checked before Hydra makes its output folder, as a sweep's jobs are
        before the launcher makes theirs: a refused run writes nothing."""
        from harness.cli.app import check_run
        from harness.cli.errors import is_input_error, one_line

        try:
            check_run(config)
        except Exception as error:
            if is_input_error(error):
                raise SweepAbort(one_line(error), 2) from error
            # anything else the job meets again, in its run, and reports the usual way

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from hydra.core.hydra_config import HydraConfig

        from harness.cli.overrides import check_output_folder
        from harness.core.config import ConfigError
        from harness.tracking.store import prepare_store, redact

        try:
            HydraConfig.instance().set_config(config)  # ${hydra:runtime.cwd} resolves
            check_output_folder("hydra.sweep.dir", config.hydra.sweep.dir)
        except ConfigError as error:
            raise SweepAbort(str(error), 2) from error
        jobs = job_overrides(config)
        if jobs is not None:  # composed as the launcher will: Hydra's own overrides first
            check_jobs(jobs)
            check_one_study(jobs)
            hydra_overrides = list(config.hydra.overrides.hydra)
            validate_jobs(kwargs.get("config_name"), [[*hydra_overrides, *j] for j in jobs])
        forget_sweep_files(sweep_folder(config))
        if not config.tracking.enabled:
            return
        from mlflow.tracking import MlflowClient

        try:
            uri, experiment_id = prepare_store(config.tracking.uri, config.tracking.experiment)
        except ConfigError as error:
            raise SweepAbort(str(error), 2) from error
        self.client = MlflowClient(tracking_uri=uri)
        key = sweep_key(config, jobs)
        given = config.tracking.get("parent_run_id")
        if given:  # filed under a parent someone else owns (the tuning protocol): leave it open
            self.parent_run_id, self.owns_parent = given, False
        else:
            study = config.get("study", "adhoc")
            self.parent_run_id = open_parent(self.client, experiment_id, key, study)
        info = {
            "parent_run_id": self.parent_run_id,
            "sweep_id": key,
            "total": len(jobs) if jobs is not None else None,
            "tracking_uri": redact(uri),
            "started": time.time(),
        }
        write_sweep_info(sweep_folder(config), info)
        atexit.register(self._close_parent_at_exit)
        total = f"{len(jobs)} jobs" if jobs is not None else "jobs"
        print(
            f"[optlab] sweep {key}: {total} → parent run {self.parent_run_id} "
            f"in experiment {config.tracking.experiment!r}",
            file=sys.stderr,
        )

    def _close_parent(self, status: str) -> None:
        if not getattr(self, "owns_parent", True):
            return
        if self.client is not None and self.parent_run_id is not None:
            parent_run_id, self.parent_run_id = self.parent_run_id, None  # tried once only
            self.client.set_terminated(parent_run_id, status)

    def _close_parent_at_exit(self) -> None:
        """A sweep that ends without ``on_multirun_end`` leaves its parent KILLED, if it can."""
        with contextlib.suppress(Exception):
            self._close_parent("KILLED")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Close the parent run and print a summary; any job that failed or never reported, or
        a store that can no longer be written, ends the sweep with exit code 1 and says so."""
        from harness.cli.errors import one_line

        folder = sweep_folder(config)
        lines = progress_lines(folder)
        summary, problems = summarize(lines, (load_sweep_info(folder) or {}).get("total"))
        failed = any(" FAILED " in line for line in lines)
        try:
            self._close_parent("FAILED" if failed else "FINISHED")
        except Exception as error:
            problems.insert(
                int(failed), f"the store could not record the sweep's end ({one_line(error)})"
            )
        newline = "\n" if sys.stderr.isatty() else ""  # end the line progress updated in place
        print(f"{newline}[optlab] sweep done: {summary}", file=sys.stderr)
        if problems:
            rerun = "run the same command again: what finished is skipped"
            raise SweepAbort("; ".join(problems) + f"; {rerun}", 1)


__all__ = ["SweepCallback", "SweepAbort", "OmegaConf"]
