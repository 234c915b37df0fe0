"""Compare optimizers fairly: an equal tuning budget each, selection on validation, fresh seeds.

python -m experiments.tune stall                     # experiments/protocols/stall.yaml
python -m experiments.tune shift --budget 8 --search grid
python -m experiments.tune my_protocol.yaml --tracking-uri sqlite:///tmp/m.db -- trainer.steps=500

One parent run (``optlab.protocol=tuning``) holds both phases: the **tune** phase runs every
arm's trials on the tuning seeds, the **verdict** phase re-runs each arm's selected trial on the
verdict seeds; each job is tagged ``phase``, ``arm`` and ``trial``. Then the report folder
(``report.md``, ``report.html``, ``tables/*.csv``) is written and logged under ``report/`` of
the parent. The same command continues the same parent: jobs that FINISHED under it are
skipped. Skipping is per parent, not per experiment as in a sweep, so that a protocol with
another budget re-runs a trial it shares with this one and each parent holds its whole study.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from hydra.errors import HydraException
from omegaconf import OmegaConf

from experiments.tuning import SEARCHES, Protocol, load_protocol
from harness.core.config import Config, ConfigError
from harness.tracking.sink import config_hash, flatten, run_name
from harness.tracking.store import PROJECT_ROOT, prepare_store, redact

#: Overrides the protocol sets itself, per job: refused among the extra overrides.
OWNED = ("optimizer", "seed", "experiment", "tracking", "lr_scale", "trainer.progress")


@dataclass
class Job:
    """A composed job and what identifies it under the parent."""

    cfg: Config
    files: dict[str, str]
    key: tuple[str, str, str, int]  # config hash, phase, arm, trial


def compose_jobs(protocol: Protocol, phase: str, picks: dict[str, list[int]], seeds, uri, parent):
    """Every job of a phase, composed and validated before any of them runs.

    ``picks`` maps each arm to the trial indices to run: all of them when tuning, the
    selected one for the verdict.
    """
    from hydra import initialize_config_dir

    import harness.cli.schemas  # noqa: F401 - registers the config schemas and the lr resolver

    jobs = []
    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
        for name, trials in picks.items():
            settings = protocol.trials(protocol.arm(name))
            for trial in trials:
                for seed in seeds:
                    jobs.append(
                        to_job(protocol, phase, name, trial, settings[trial], seed, uri, parent)
                    )
    return jobs


def to_job(protocol: Protocol, phase: str, arm: str, trial: int, setting, seed, uri, parent) -> Job:
    """One job: the trial's overrides composed under the preset, its tracking set in code."""
    from hydra import compose

    from harness.cli.app import to_config

    overrides = [
        f"experiment={protocol.preset}",
        *protocol.overrides,
        f"optimizer={arm}",
        *(f"{key}={value}" for key, value in setting.items()),
        f"seed={seed}",
        "trainer.progress=false",
    ]
    raw = compose(config_name="config", overrides=overrides)
    tracking = raw.tracking  # set here, not as overrides: a URI needs no Hydra quoting so
    tracking.uri, tracking.experiment, tracking.parent_run_id = uri, protocol.experiment, parent
    tracking.force = True  # skipping is per parent: see the module docstring
    tracking.tags = {**tracking.tags, "phase": phase, "arm": arm, "trial": str(trial)}
    cfg = to_config(raw)
    files = {
        "config.yaml": OmegaConf.to_yaml(raw, resolve=True),
        "overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(overrides)),
    }
    return Job(cfg, files, (config_hash(cfg), phase, arm, trial))


def run_one(cfg: Config, files: dict[str, str]) -> str:
    """Run one job (in a worker); its progress line. A failed job's run is already FAILED."""
    from harness.tracking.job import run_job

    try:
        outcome = run_job(cfg, files)
    except Exception as error:
        return f"FAILED {run_name(cfg)}: {type(error).__name__}: {error}"
    text = f"{outcome.status} {outcome.name} ({outcome.seconds:.1f}s)"
    result = outcome.result
    if result is not None and result.diverged:
        text += f" diverged at step {result.diverged_step}"
    elif result is not None and "final_val_loss" in result.summary:
        text += f" final_val_loss={result.summary['final_val_loss']:.4g}"
    return text


def run_phase(client, experiment_id: str, parent_id: str, jobs: list[Job], n_jobs: int) -> int:
    """Run the jobs not yet FINISHED under the parent, one progress line each; the failures."""
    from joblib import Parallel, delayed

    done_keys = finished_keys(client, experiment_id, parent_id)
    todo = [job for job in jobs if job.key not in done_keys]
    total, done = len(jobs), len(jobs) - len(todo)
    phase = jobs[0].key[1] if jobs else "?"
    if done:
        print(f"[{phase}] {done}/{total} already finished under this parent", file=sys.stderr)
    failed = 0
    pool = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    for line in pool(delayed(run_one)(job.cfg, job.files) for job in todo):
        done += 1
        failed += line.startswith("FAILED")
        print(f"[{phase} {done}/{total}] {line}", file=sys.stderr, flush=True)
    return failed


def finished_keys(client, experiment_id: str, parent_id: str) -> set[tuple]:
    from analysis.load import iter_runs

    query = f"tags.`mlflow.parentRunId` = '{parent_id}' and attributes.status = 'FINISHED'"
    keys = set()
    for run in iter_runs(client, experiment_id, query):
        tags = run.data.tags
        if {"optlab.config_hash", "phase", "arm", "trial"} <= tags.keys():
            trial = int(tags["trial"])
            keys.add((tags["optlab.config_hash"], tags["phase"], tags["arm"], trial))
    return keys


def open_parent(client, experiment_id: str, protocol: Protocol) -> str:
    """The protocol's parent run: found by its key (a rerun continues it), else created."""
    from mlflow.entities import Param

    key = protocol.key()
    found = client.search_runs(
        [experiment_id],
        f"tags.`optlab.sweep_id` = '{key}' and tags.`optlab.role` = 'sweep'",
        max_results=1,
    )
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    tags = {
        "optlab.role": "sweep",
        "optlab.sweep_id": key,
        "optlab.study": protocol.name,
        "optlab.protocol": "tuning",
    }
    run = client.create_run(experiment_id, run_name=f"tune-{protocol.name}-{key[:6]}", tags=tags)
    params = flatten({"tuning": asdict(protocol)})
    client.log_batch(run.info.run_id, params=[Param(k, v[:6000]) for k, v in params.items()])
    return run.info.run_id


def run_protocol(
    protocol: Protocol,
    tracking_uri: str | None = None,
    out: Path | None = None,
    n_jobs: int | None = None,
) -> tuple[Path, int]:
    """Tune, select, judge and report; the path of ``report.md`` and the number of failed jobs."""
    from mlflow.tracking import MlflowClient

    uri, experiment_id = prepare_store(tracking_uri, protocol.experiment)
    first = {arm.optimizer: [0] for arm in protocol.arms}  # a bad override fails before any run
    compose_jobs(protocol, "tune", first, protocol.tune_seeds[:1], uri, "not-yet-created")
    client = MlflowClient(tracking_uri=uri)
    parent_id = open_parent(client, experiment_id, protocol)
    print(
        f"[tune] protocol {protocol.name} ({protocol.key()}) → parent run {parent_id} "
        f"in experiment {protocol.experiment!r} at {redact(uri)}",
        file=sys.stderr,
    )
    n_jobs = n_jobs or os.cpu_count() or 1
    try:
        every = {arm.optimizer: range(protocol.budget) for arm in protocol.arms}
        tune = compose_jobs(protocol, "tune", every, protocol.tune_seeds, uri, parent_id)
        failed = run_phase(client, experiment_id, parent_id, tune, n_jobs)
        selected = select(protocol, uri, parent_id)
        picks = {row.arm: [int(row.trial)] for row in selected.itertuples()}
        verdict = compose_jobs(protocol, "verdict", picks, protocol.verdict_seeds, uri, parent_id)
        failed += run_phase(client, experiment_id, parent_id, verdict, n_jobs)
        report = write_report(protocol, uri, parent_id, out)
    except BaseException as error:
        client.set_terminated(
            parent_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        )
        raise
    client.set_terminated(parent_id, "FAILED" if failed else "FINISHED")
    if failed:
        print(f"[tune] {failed} job(s) failed (see their runs' optlab.error tag)", file=sys.stderr)
    return report, failed


def select(protocol: Protocol, uri: str, parent_id: str):
    """Each arm's selected trial, read back from the store as the report will, and printed."""
    from mlflow.tracking import MlflowClient

    from analysis import tuning as t
    from analysis.load import load_curves, load_experiment, load_runs

    client = MlflowClient(tracking_uri=uri)
    experiment = load_experiment(client, protocol.experiment)
    runs = t.to_phase_runs(load_runs(client, experiment, client.get_run(parent_id)), t.TUNE)
    curves = None
    if protocol.criterion == "time_to_target":
        curves = load_curves(runs, tracking_uri=uri, metrics=["val_loss"])
    criterion = t.to_run_criterion(runs, protocol.criterion, curves, protocol.target)
    selected = t.select_trials(t.to_trial_scores(runs, criterion))
    seeds = ", ".join(map(str, protocol.tune_seeds))
    print(f"[tune] selected, lowest mean {protocol.criterion} over seeds {seeds}:", file=sys.stderr)
    for row in selected.itertuples():
        trial = protocol.trials(protocol.arm(row.arm))[row.trial]
        setting = " ".join(f"{k.removeprefix('optimizer.')}={v:.4g}" for k, v in trial.items())
        line = f"  {row.arm:<10} trial {row.trial:<3} {setting:<32} {row.score:.4g}"
        print(line, file=sys.stderr)
    return selected


def write_report(protocol: Protocol, uri: str, parent_id: str, out: Path | None) -> Path:
    """Write ``report.md``, ``report.html`` and ``tables/*.csv``; log them to the parent."""
    from mlflow.tracking import MlflowClient

    from analysis.contract import REPORT_ARTIFACT_DIR
    from analysis.load import load_study
    from analysis.render import to_html, to_markdown
    from analysis.tuning import to_tuning_report

    study = load_study(protocol.experiment, sweep=parent_id, tracking_uri=uri)
    about = {**asdict(protocol), "parent_run_id": parent_id}
    sections, tables = to_tuning_report(study.runs, study.curves, about)
    out = Path(out or Path("reports") / protocol.experiment / protocol.key()).resolve()
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for stem, table in tables.items():
        table.to_csv(out / "tables" / f"{stem}.csv", index=False)
    title = f"Tuned comparison: {protocol.name}"
    (out / "report.md").write_text(to_markdown(title, sections))
    (out / "report.html").write_text(to_html(title, sections))
    MlflowClient(tracking_uri=uri).log_artifacts(parent_id, str(out), REPORT_ARTIFACT_DIR)
    tuned = tables["tuned"]
    print(
        f"[verdict] {protocol.criterion} over seeds {list(protocol.verdict_seeds)}:",
        file=sys.stderr,
    )
    for row in tuned.to_dict("records"):
        mean, ci = row[f"{protocol.criterion}_mean"], row[f"{protocol.criterion}_ci"]
        print(f"  {row['label']:<18} lr={row['lr']:<10.4g} {mean:.4g} ± {ci:.2g}", file=sys.stderr)
    print(f"[tune] report: {out / 'report.md'}", file=sys.stderr)
    return out / "report.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.tune", description=__doc__.splitlines()[0]
    )
    parser.add_argument("study", help="experiments/protocols/NAME.yaml (stall, shift) or a path")
    parser.add_argument("--budget", type=int, help="trials per arm (default: the protocol's)")
    parser.add_argument("--search", choices=SEARCHES, help="grid or halton")
    parser.add_argument("--tracking-uri", help="default: the embedded store")
    parser.add_argument("--out", type=Path, help="report folder (default reports/<exp>/<key>)")
    parser.add_argument("--jobs", type=int, help="parallel jobs (default: every core)")
    parser.epilog = "Extra Hydra overrides for every job go after --."
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, overrides = parser.parse_args(argv[:split]), argv[split + 1 :]
    owned = [o for o in overrides if o.lstrip("+~").split("=")[0].startswith(OWNED)]
    if owned:
        print(f"error: {owned[0]}: the protocol sets {', '.join(OWNED)}", file=sys.stderr)
        return 2
    changes = {k: v for k, v in (("budget", args.budget), ("search", args.search)) if v is not None}
    try:
        protocol = load_protocol(args.study, **changes)
        if overrides:
            protocol = replace(protocol, overrides=(*protocol.overrides, *overrides))
        _, failed = run_protocol(protocol, args.tracking_uri, args.out, args.jobs)
    except (ValueError, ConfigError, HydraException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
