"""Hydra-composed jobs and multirun sweeps, tracked in MLflow.

Real parts only: Hydra's compose API over ``conf/``, ``python -m harness`` subprocesses under
the basic and the joblib launcher, a temporary SQLite MLflow store read back with
``MlflowClient`` (what a user, the UI and ``analysis`` read), and ``mlflow server`` for the UI.
"""

from __future__ import annotations

import itertools
import json
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf
from tracking_checks import free_port, serving

from analysis.load import load_study
from harness.cli import schemas  # noqa: F401  (registers the typed schemas before any compose)
from harness.cli.app import to_config
from harness.core.config import dataset_tasks
from harness.core.models import MODEL_TASKS
from harness.core.train import train
from harness.tracking.store import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"
GROUPS = ("optimizer", "model", "dataset", "trainer", "tracking")
STEPS, EVAL_EVERY, METRIC_EVERY = 30, 10, 4
SMALL = (
    f"trainer.steps={STEPS}",
    f"trainer.eval_every={EVAL_EVERY}",
    f"tracking.metric_every={METRIC_EVERY}",
)
JOB_TAGS = (
    "optlab.config_hash",
    "optlab.group",
    "optlab.git_commit",
    "optlab.git_dirty",
    "optlab.python",
    "optlab.numpy",
    "optlab.mlflow",
    "optlab.sweep_id",
    "optlab.optimizer",
    "optlab.label",
    "optlab.group_label",
)
# The main sweep: two optimizers × two seeds, and what each job must be recorded as.
SWEEP = ("optimizer=adagrad,rmsprop_a0.9", "seed=0,1")
ARMS = {"adagrad": ("adagrad", "Adagrad"), "rmsprop_a0.9": ("rmsprop", "RMSprop α=0.9")}
LAUNCHERS = {"basic": (), "joblib": ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")}


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def compose_config(overrides) -> DictConfig:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose(config_name="config", overrides=list(overrides))


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys, as a user reads them in the UI's params table."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


# --- the store ------------------------------------------------------------------------------
@dataclass
class Store:
    folder: Path
    uri: str
    client: MlflowClient

    def args(self, experiment: str) -> list[str]:
        return [f"tracking.uri={self.uri}", f"tracking.experiment={experiment}"]

    def runs(self, experiment: str) -> list:
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return self.client.search_runs([found.experiment_id], max_results=1000)

    def jobs(self, experiment: str) -> list:
        return [r for r in self.runs(experiment) if r.data.tags.get("optlab.role") == "job"]

    def parents(self, experiment: str) -> list:
        return [r for r in self.runs(experiment) if r.data.tags.get("optlab.role") == "sweep"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    """One SQLite store for the module (a fresh one costs ~2 s); each test has its experiment."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.search_experiments()  # creates and migrates the database once, before jobs race
    return Store(folder, uri, client)


@pytest.fixture(scope="module")
def launched(store, run_harness, tmp_path_factory) -> Callable[[str], subprocess.CompletedProcess]:
    """``launched(launcher)``: the main sweep, run once per launcher into experiment
    ``sweep-<launcher>``."""
    done = {}

    def launch(launcher: str) -> subprocess.CompletedProcess:
        if launcher not in done:
            folder = tmp_path_factory.mktemp(launcher)
            done[launcher] = run_harness(
                folder,
                "-m",
                *LAUNCHERS[launcher],
                *SMALL,
                *store.args(f"sweep-{launcher}"),
                f"hydra.sweep.dir={folder / 'sweep'}",
                *SWEEP,
            )
        return done[launcher]

    return launch


def sweep(run_harness, store: Store, folder: Path, experiment: str, *overrides: str):
    """A basic-launcher multirun of small jobs into ``experiment``, its sweep folder fixed."""
    return run_harness(
        folder,
        "-m",
        *SMALL,
        *store.args(experiment),
        f"hydra.sweep.dir={folder / 'sweep'}",
        *overrides,
    )


def by_param(runs, key: str) -> dict[str, object]:
    return {run.data.params[key]: run for run in runs}


def read_curves(client: MlflowClient, run_id: str, folder: Path) -> pd.DataFrame:
    path = client.download_artifacts(run_id, "curves/curves.parquet", str(folder))
    return pd.read_parquet(path).set_index("step")


def read_text(run, name: str) -> str:
    return mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{name}")


# --- composing every option -----------------------------------------------------------------
def overrides_for(group: str, option: str) -> list[str]:
    """``group=option``, with a partner of the same task: a data set for a model, and back."""
    overrides = [f"{group}={option}"]
    tasks = dataset_tasks()
    if group == "model":
        solves = MODEL_TASKS[compose_config(overrides).model.name]
        overrides.append("dataset=" + min(d for d, task in tasks.items() if task == solves))
    if group == "dataset":
        overrides.append(
            "model=" + min(m for m, task in MODEL_TASKS.items() if task == tasks[option])
        )
    return overrides


def check_user_keys(raw) -> None:
    """The keys that users, the README and the sweeps rely on, in the composed config."""
    for key in ("trainer.steps", "trainer.batch_size", "trainer.eval_every", "seed"):
        value = OmegaConf.select(raw, key)
        assert isinstance(value, int) and not isinstance(value, bool), key
    assert "uri" in raw.tracking
    assert OmegaConf.select(raw, "tracking.experiment")
    assert OmegaConf.select(raw, "optimizer.lr") > 0


@pytest.mark.parametrize(
    ("group", "option"),
    [(group, option) for group in GROUPS for option in options(group)],
)
def test_every_option_composes_into_a_valid_config(group, option):
    raw = compose_config(overrides_for(group, option))
    check_user_keys(raw)
    cfg = to_config(raw)
    if group in ("optimizer", "model", "dataset"):
        assert option.startswith(getattr(cfg, group).name)
    if group == "optimizer" and option.startswith("rmsprop"):
        assert "decay_rate" in raw.optimizer
        if "_a" in option:  # rmsprop_a0.9 is RMSprop with decay_rate 0.9
            assert cfg.optimizer.decay_rate == float(option.split("_a")[1])
    if group == "optimizer" and option == "adagrad":
        assert "decay_rate" not in raw.optimizer
    if group == "tracking":
        assert cfg.tracking.enabled is (option != "off")


def preset_points(preset: str) -> list[list[str]]:
    """The preset alone, then the preset with each value of each swept key, one at a time."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        raw = compose("config", [f"experiment={preset}"], return_hydra_config=True)
    params = raw.hydra.sweeper.get("params") or {}
    points = [[f"experiment={preset}"]]
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    for override in parsed:
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [override.get_value_element_as_str()]
        )
        points += [[f"experiment={preset}", f"{override.key_or_group}={v}"] for v in values]
    return points


@pytest.mark.parametrize("preset", options("experiment"))
def test_every_experiment_preset_composes_and_its_sweep_values_are_valid(preset):
    for overrides in preset_points(preset):
        raw = compose_config(overrides)
        check_user_keys(raw)
        to_config(raw)


@pytest.mark.slow
@pytest.mark.parametrize("preset", options("experiment"))
def test_every_experiment_preset_trains_a_few_steps(preset):
    raw = compose_config([f"experiment={preset}", "trainer.steps=3", "trainer.eval_every=1"])
    result = train(to_config(raw))
    assert result.steps_done == 3 or result.diverged
    assert np.isfinite(result.curves.column("val_loss")[0])


# --- the command line -----------------------------------------------------------------------
def test_help_lists_groups_and_cfg_job_prints_the_composed_config(
    run_harness, harness_env, tmp_path
):
    commands = [
        ["--help"],
        ["--cfg", "job", "--resolve", "optimizer=adagrad", "lr_scale=0.5", "seed=3"],
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        shown, job = pool.map(lambda args: run_harness(tmp_path, *args), commands)

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("optlab (python -m harness): "), shown.stdout[:200]
    groups_section = shown.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = dict(line.split(": ", 1) for line in groups_section.splitlines() if ": " in line)
    for group in (*GROUPS, "experiment"):
        assert listed[group].split(", ") == sorted(options(group)), group  # choices, no schemas

    assert job.returncode == 0, job.stderr
    config = OmegaConf.create(job.stdout)
    assert config.optimizer.name == "adagrad"
    assert config.optimizer.lr == pytest.approx(0.05)  # Adagrad's base 0.1 × lr_scale 0.5
    assert "decay_rate" not in config.optimizer
    assert config.seed == 3 and config.trainer.steps > 0
    assert "hydra" not in config
    assert not Path(harness_env(tmp_path)["OPTLAB_STORE_DIR"]).exists()


def test_help_and_a_refusal_import_neither_mlflow_nor_the_job(harness_env, tmp_path):
    """What every ``--help`` and every refusal pays at start-up stays Hydra's and the specs':
    MLflow and the job's tracking modules are imported once a config is valid. (numpy is
    imported: the typed schemas derive from the optimizer classes and the data-set loaders,
    which live with their numpy code.)"""
    script = (
        "import sys\n"
        "from harness.cli.main import main\n"
        "sys.argv[1:] = sys.argv[2:]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "heavy = [m for m in ('mlflow', 'harness.tracking.job') if m in sys.modules]\n"
        "print('exit', code, 'heavy', ','.join(heavy) or '-', file=sys.stderr)\n"
    )
    for args, code, heavy in ((["--help"], 0, "-"), (["optimizer.lr=-1"], 2, "-")):
        done = subprocess.run(
            [sys.executable, "-c", script, "--", *args],
            cwd=tmp_path,
            env=harness_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        last = done.stderr.splitlines()[-1]
        assert last == f"exit {code} heavy {heavy}", (args, done.stderr[-2000:])


def test_hydras_copies_of_the_config_store_share_it_and_composing_stays_independent():
    """``harness.cli.schemas`` lets Hydra's repository copies share the ConfigStore: a compose
    with overrides leaves the schemas, and so the next compose, as they were."""
    import copy

    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    assert copy.deepcopy(store) is store
    before = store.load("optimizer/adam_schema.yaml").node
    changed = compose_config(["optimizer=adam", "optimizer.lr=0.5", "+optimizer.schema_probe=1"])
    assert changed.optimizer.lr == 0.5
    default = compose_config(["optimizer=adam"])
    assert default.optimizer.lr != 0.5 and "schema_probe" not in default.optimizer
    assert store.load("optimizer/adam_schema.yaml").node == before


# --- sweeps ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "launcher", ["basic", pytest.param("joblib", marks=[pytest.mark.slow, pytest.mark.full])]
)
def test_sweep_is_one_parent_with_complete_children(launcher, launched, store, tmp_path):
    process = launched(launcher)
    assert process.returncode == 0, process.stderr
    experiment = f"sweep-{launcher}"

    (parent,) = store.parents(experiment)
    assert parent.info.status == "FINISHED"
    jobs = store.jobs(experiment)
    assert len(jobs) == 4
    expected_steps = sorted({*range(METRIC_EVERY, STEPS + 1, METRIC_EVERY), STEPS})
    hashes, groups = set(), {}
    for arm, seed in itertools.product(ARMS, (0, 1)):
        overrides = [f"optimizer={arm}", f"seed={seed}", *SMALL, *store.args(experiment)]
        wanted = flatten(OmegaConf.to_container(compose_config(overrides), resolve=True))
        wanted.pop("trainer.progress")  # a display setting: sweeps turn the bar off
        (run,) = [r for r in jobs if wanted.items() <= r.data.params.items()]
        name, label = ARMS[arm]
        tags, params = run.data.tags, run.data.params

        assert run.info.status == "FINISHED"
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["optlab.sweep_id"] == parent.data.tags["optlab.sweep_id"]
        assert set(JOB_TAGS) <= tags.keys()
        assert (tags["optlab.optimizer"], tags["optlab.label"]) == (name, label)
        assert tags["optlab.python"] == platform.python_version()
        assert tags["optlab.numpy"] == np.__version__
        assert tags["optlab.mlflow"] == mlflow.__version__
        assert re.fullmatch(r"[0-9a-f]{40}|unknown", tags["optlab.git_commit"])
        assert tags["optlab.git_dirty"] in ("true", "false", "unknown")
        assert tags["optlab.diverged"] == "false"
        assert {"optimizer.lr", "optimizer.name", "trainer.steps", "seed", "dataset.name"} <= set(
            params
        )
        assert ("optimizer.decay_rate" in params) is (name == "rmsprop")
        hashes.add(tags["optlab.config_hash"])
        groups.setdefault(arm, set()).add(tags["optlab.group"])

        history = store.client.get_metric_history(run.info.run_id, "train_loss")
        assert sorted(m.step for m in history) == expected_steps
        history = store.client.get_metric_history(run.info.run_id, "val_loss")
        assert sorted(m.step for m in history) == list(range(0, STEPS + 1, EVAL_EVERY))
        curves = read_curves(store.client, run.info.run_id, tmp_path / run.info.run_id)
        assert list(curves["train_loss"].dropna().index) == list(range(1, STEPS + 1))
        assert list(curves["val_loss"].dropna().index) == list(range(0, STEPS + 1, EVAL_EVERY))
        assert f"optimizer={arm}" in OmegaConf.create(read_text(run, "overrides.yaml"))
        assert OmegaConf.create(read_text(run, "config.yaml")).optimizer.name == name

    assert len(hashes) == 4  # every job its own config
    assert all(len(g) == 1 for g in groups.values())  # the seeds of one arm share a group
    assert groups["adagrad"] != groups["rmsprop_a0.9"]


@pytest.mark.slow
@pytest.mark.full  # make test-long and CI (about 27 s)
def test_relaunch_skips_finished_jobs_and_reruns_deleted_failed_or_forced(
    run_harness, store, tmp_path
):
    experiment = "skip"
    launch = ("optimizer=sgd", "seed=0,1,2")
    first = sweep(run_harness, store, tmp_path, experiment, *launch)
    assert first.returncode == 0, first.stderr
    assert len(store.jobs(experiment)) == 3

    # One relaunch shows all three fates: seed 2 FINISHED is skipped, seed 0 (deleted) and
    # seed 1 (FAILED) run again.
    seeds = by_param(store.jobs(experiment), "seed")
    store.client.delete_run(seeds["0"].info.run_id)
    store.client.set_terminated(seeds["1"].info.run_id, "FAILED")
    before = {run.info.run_id for run in store.jobs(experiment)}
    again = sweep(run_harness, store, tmp_path, experiment, *launch)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("SKIPPED") == 1
    assert "SKIPPED sgd-lr0.1-s2" in again.stderr, again.stderr
    assert "[3/3]" in again.stderr  # the count starts afresh in a reused sweep folder
    new = [run for run in store.jobs(experiment) if run.info.run_id not in before]
    assert sorted(run.data.params["seed"] for run in new) == ["0", "1"]
    assert all(run.info.status == "FINISHED" for run in new)
    (parent,) = store.parents(experiment)  # the same command continues the same parent
    assert all(run.data.tags["mlflow.parentRunId"] == parent.info.run_id for run in new)

    before = {run.info.run_id for run in store.jobs(experiment)}
    forced = sweep(run_harness, store, tmp_path, experiment, *launch, "tracking.force=true")
    assert forced.returncode == 0, forced.stderr
    assert "SKIPPED" not in forced.stderr
    new = [run for run in store.jobs(experiment) if run.info.run_id not in before]
    assert sorted(run.data.params["seed"] for run in new) == ["0", "1", "2"]


@pytest.mark.full  # make test-long and CI: 17 s, kept out of make test
def test_a_wider_sweep_reports_the_jobs_it_skipped_beside_the_ones_it_ran(
    run_harness, store, tmp_path
):
    experiment = "wider"
    for name in ("narrow", "wide"):
        (tmp_path / name).mkdir()
    first = sweep(run_harness, store, tmp_path / "narrow", experiment, "optimizer=sgd", "seed=0,1")
    assert first.returncode == 0, first.stderr
    (narrow,) = store.parents(experiment)

    wider = sweep(run_harness, store, tmp_path / "wide", experiment, "optimizer=sgd", "seed=0,1,2")
    assert wider.returncode == 0, wider.stderr
    assert wider.stderr.count("SKIPPED") == 2
    (wide,) = [p for p in store.parents(experiment) if p.info.run_id != narrow.info.run_id]
    assert len(store.jobs(experiment)) == 3  # nothing ran twice

    latest = load_study(experiment, tracking_uri=store.uri)  # what `analysis.report` reads
    assert latest.parent.info.run_id == wide.info.run_id
    assert sorted(latest.runs["seed"]) == [0, 1, 2]
    assert set(latest.curves["run_id"]) == set(latest.runs["run_id"])
    earlier = load_study(experiment, sweep=narrow.info.run_id, tracking_uri=store.uri)
    assert sorted(earlier.runs["seed"]) == [0, 1]  # the first sweep keeps its own jobs


def test_diverging_job_finishes_tagged_and_the_sweep_completes(run_harness, store, tmp_path):
    experiment = "diverge"
    process = sweep(
        run_harness, store, tmp_path, experiment, "optimizer=sgd", "optimizer.lr=1000,0.1"
    )
    assert process.returncode == 0, process.stderr
    runs = by_param(store.jobs(experiment), "optimizer.lr")
    diverged, fine = runs["1000.0"], runs["0.1"]

    assert diverged.info.status == fine.info.status == "FINISHED"
    assert diverged.data.tags["optlab.diverged"] == "true"
    step = int(diverged.data.tags["optlab.diverged_step"])
    assert 1 <= step < STEPS
    assert diverged.data.tags["optlab.diverged_reason"]
    assert "diverged" not in diverged.data.metrics  # a tag: as a metric the UI charts it
    curves = read_curves(store.client, diverged.info.run_id, tmp_path / "curves")
    assert curves.index.max() == step  # the curves stop where the run stopped
    assert fine.data.tags["optlab.diverged"] == "false"
    (parent,) = store.parents(experiment)
    assert parent.info.status == "FINISHED"


def test_failing_job_ends_failed_and_the_rest_of_the_sweep_goes_on(run_harness, store, tmp_path):
    experiment = "fail"
    # A valid config that fails once running: the first job's 466 TiB model cannot be allocated
    # (more than a process can address, whatever the machine)
    too_big = "[1000000000000]"
    process = sweep(
        run_harness, store, tmp_path, experiment, "optimizer=sgd", f"model.hidden={too_big},[16]"
    )
    assert process.returncode != 0
    assert "1 job(s) failed" in process.stderr
    runs = by_param(store.jobs(experiment), "model.hidden")
    failed, fine = runs[too_big], runs["[16]"]

    assert failed.info.status == "FAILED"
    assert "MemoryError" in failed.data.tags["optlab.error"]
    artifacts = {a.path for a in store.client.list_artifacts(failed.info.run_id)}
    assert {"error.txt", "config.yaml", "overrides.yaml"} <= artifacts
    assert fine.info.status == "FINISHED"
    (parent,) = store.parents(experiment)
    assert parent.info.status == "FAILED"


def wait_for(condition: Callable, process: subprocess.Popen, timeout: float = 120):
    """Poll ``condition()`` until it returns something truthy; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            pytest.fail(f"the job ended early:\n{process.communicate()[1]}")
        time.sleep(0.2)
    pytest.fail("the job did not start logging in time")


@pytest.mark.slow
def test_sigterm_ends_the_run_killed_and_keeps_its_metrics(store, harness_env, tmp_path):
    experiment = "sigterm"
    command = [
        *(sys.executable, "-m", "harness", "trainer.steps=200000", "trainer.progress=false"),
        *("trainer.eval_every=1000", "tracking.metric_every=10", *store.args(experiment)),
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=harness_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def logging_run():
        running = [r for r in store.jobs(experiment) if r.info.status == "RUNNING"]
        if running and store.client.get_metric_history(running[0].info.run_id, "train_loss"):
            return running[0]
        return None

    try:
        run_id = wait_for(logging_run, process).info.run_id
        logged = len(store.client.get_metric_history(run_id, "train_loss"))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode != 0
    assert "Traceback" not in stderr and "SIGTERM" in stderr
    run = store.client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["optlab.error"]
    assert len(store.client.get_metric_history(run_id, "train_loss")) >= logged > 0


def test_logging_presets_chosen_by_name_are_allowed(run_harness, tmp_path):
    """The allowlist refuses logging configs written on the command line, not the presets."""
    done = run_harness(
        tmp_path,
        *SMALL,
        "tracking.enabled=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        "hydra/job_logging=disabled",
        "hydra/hydra_logging=none",
        "hydra.verbose=false",
    )
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "run").glob("*.log"))  # the disabled preset wrote no log
    control = run_harness(tmp_path, *SMALL, "tracking.enabled=false", f"hydra.run.dir={tmp_path}/c")
    assert control.returncode == 0, control.stderr
    assert list((tmp_path / "c").glob("*.log"))  # the default preset writes the job's log


def test_tracking_off_touches_no_store(run_harness, harness_env, tmp_path):
    never = tmp_path / "never.db"
    commands = [
        [*SMALL, "tracking.enabled=false", f"tracking.uri=sqlite:///{never}"]
        + [f"hydra.run.dir={tmp_path / 'run'}"],
        ["-m", *SMALL, "tracking=off", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        single, multi = pool.map(lambda args: run_harness(tmp_path, *args), commands)

    assert single.returncode == 0, single.stderr
    assert single.stderr.count("FINISHED") == 1
    assert multi.returncode == 0, multi.stderr
    assert "2 finished" in multi.stderr
    assert not never.exists()
    assert not Path(harness_env(tmp_path)["OPTLAB_STORE_DIR"]).exists()


# --- the UI ---------------------------------------------------------------------------------
def fetch(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


@pytest.mark.slow
@pytest.mark.full  # make test-long and CI; test_server starts make ui's server in make test
def test_ui_serves_the_embedded_store(launched, store, harness_env, tmp_path):
    launched("basic")  # the store holds the basic sweep's runs
    (parent,) = store.parents("sweep-basic")
    port = free_port()
    env = {**harness_env(tmp_path), "OPTLAB_STORE_DIR": str(store.folder)}
    log = tmp_path / "ui.log"
    command = [sys.executable, "-m", "harness.tracking.ui", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with serving(command, base, log, 90, cwd=tmp_path, env=env):
        experiments = fetch(f"{base}/ajax-api/2.0/mlflow/experiments/search?max_results=100")
        found = {e["name"]: e for e in experiments["experiments"]}
        experiment = found["sweep-basic"]
        kinds = {t["key"]: t["value"] for t in experiment.get("tags", [])}
        assert kinds["mlflow.experimentKind"] == "custom_model_development"
        runs = fetch(
            f"{base}/ajax-api/2.0/mlflow/runs/search",
            {"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
        )
        ids = {run["info"]["run_id"] for run in runs["runs"]}
        assert parent.info.run_id in ids and len(ids) == 5
    assert f"{base}/#/experiments?workflowType=machine_learning" in log.read_text()
