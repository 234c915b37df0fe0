"""Bad configs and overrides: one line naming the key, exit code 2, and nothing tracked.

Every case is a real ``python -m harness`` subprocess pointed at a store of its own. The
cases exit before training, so they run side by side in threads (one fixture runs them all,
one test per case reads the outcome).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.tracking.store import PROJECT_ROOT

STORE = "mlflow.db"  # each case's store file, under the case's folder
PLANTED = "planted"  # a folder that an override tries to create through an import string


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Case:
    id: str
    overrides: tuple[str, ...]
    key: str  # must appear in the one error line

    def arguments(self, folder: Path) -> list[str]:
        """Small, contained defaults first; the case's overrides last, so they win."""
        arguments = [
            f"tracking.uri=sqlite:///{folder / STORE}",
            "trainer.steps=30",
            f"hydra.run.dir={folder / 'run'}",
            f"hydra.sweep.dir={folder / 'sweep'}",
        ]
        conf = PROJECT_ROOT / "conf"
        given = [a.format(folder=folder, port=closed_port(), conf=conf) for a in self.overrides]
        flags = [a for a in given if a.startswith("-")]  # Hydra wants -m before the overrides
        return flags + arguments + [a for a in given if not a.startswith("-")]


CASES = [
    # unknown config-group options
    Case("unknown-optimizer", ("optimizer=foo",), "optimizer"),
    Case("unknown-dataset-option", ("dataset=mnist",), "dataset"),
    # unknown keys
    Case("unknown-key", ("foo=1",), "foo"),
    Case("unknown-key-added", ("+foo=1",), "foo"),
    Case("decay-rate-on-adagrad", ("optimizer=adagrad", "optimizer.decay_rate=0.9"), "decay_rate"),
    Case("deleted-group", ("~optimizer",), "optimizer"),
    # wrong types
    Case("lr-not-a-number", ("optimizer.lr=abc",), "optimizer.lr"),
    Case("steps-not-an-integer", ("trainer.steps=1.5",), "trainer.steps"),
    Case("seed-not-a-number", ("seed=abc",), "seed"),
    Case("lr-scale-not-a-number", ("lr_scale=abc",), "lr_scale"),
    Case("unparsable-override", ("optimizer.lr=[1",), "optimizer.lr"),
    # out of range
    Case("lr-negative", ("optimizer.lr=-1",), "optimizer.lr"),
    Case("lr-zero", ("optimizer.lr=0",), "optimizer.lr"),
    Case("lr-scale-zero", ("lr_scale=0",), "lr_scale"),
    Case("decay-rate-one", ("optimizer.decay_rate=1.0",), "optimizer.decay_rate"),
    Case("decay-rate-negative", ("optimizer.decay_rate=-0.1",), "optimizer.decay_rate"),
    Case("beta1-one", ("optimizer=adam", "optimizer.beta1=1"), "optimizer.beta1"),
    Case("steps-zero", ("trainer.steps=0",), "trainer.steps"),
    Case("batch-size-negative", ("trainer.batch_size=-5",), "trainer.batch_size"),
    Case("eval-every-zero", ("trainer.eval_every=0",), "trainer.eval_every"),
    Case("hidden-layer-zero", ("model.hidden=[0]",), "model.hidden"),
    Case("unknown-activation", ("model.activation=sigmoid",), "model.activation"),
    Case("unknown-dataset-name", ("dataset.name=mnist",), "dataset.name"),
    Case("seed-negative", ("seed=-1",), "seed"),
    # models and data that do not fit together
    Case("2d-model-with-data", ("model=rosenbrock",), "dataset"),
    Case("regression-model-on-classes", ("model=linear", "dataset=digits"), "model=linear"),
    Case("classifier-on-regression-data", ("model=softmax", "dataset=linreg"), "model=softmax"),
    Case("sweep-one-model-off-task", ("-m", "model=softmax,linear"), "model=linear"),
    Case("blobs-one-class", ("dataset=blobs", "dataset.n_classes=1"), "dataset.n_classes"),
    Case(
        "sweep-blobs-one-class",
        ("-m", "dataset=blobs", "dataset.n_classes=3,1"),
        "dataset.n_classes",
    ),
    Case("batch-larger-than-data", ("trainer.batch_size=5000",), "trainer.batch_size"),
    Case(
        "batch-larger-than-small-data",
        ("dataset=spirals", "dataset.n_samples=50", "trainer.batch_size=45"),
        "trainer.batch_size",
    ),
    # import strings
    Case("callback-target", ("+hydra.callbacks.x._target_=os.system",), "_target_"),
    Case("optimizer-target", ("optimizer._target_=os.system",), "_target_"),
    Case(
        "target-in-a-dict-value",
        ("+hydra.callbacks={{x:{{_target_:os.makedirs,name:{folder}/" + PLANTED + "}}}}",),
        "hydra.callbacks",
    ),
    Case(
        "logging-handler-runs-a-command",
        (
            "+hydra.job_logging.handlers.x={{class:subprocess.Popen,args:[mkdir,{folder}/"
            + PLANTED
            + "]}}",
        ),
        "hydra.job_logging.handlers.x",
    ),
    Case(
        "logging-class-through-an-alias",  # logging imports os: logging.os.system is os.system
        ("hydra.job_logging.handlers.console.class=logging.os.system",),
        "hydra.job_logging.handlers.console.class",
    ),
    Case(
        "logging-factory",
        ("+hydra.hydra_logging.formatters.simple.()=builtins.exec",),
        "hydra.hydra_logging.formatters.simple.()",
    ),
    Case("config-search-path", ("hydra.searchpath=[file:///tmp]",), "hydra.searchpath"),
    Case("config-dir-flag", ("--config-dir=/tmp",), "--config-dir"),
    # the allowlist: Hydra's keys beyond the few a user needs are refused
    Case(
        "env-set-runs-a-git-hook",  # git status would run core.fsmonitor as a command
        (
            "++hydra.job.env_set.GIT_CONFIG_COUNT=1",
            "++hydra.job.env_set.GIT_CONFIG_KEY_0=core.fsmonitor",
            "++hydra.job.env_set.GIT_CONFIG_VALUE_0='mkdir {folder}/" + PLANTED + "'",
        ),
        "hydra.job.env_set.GIT_CONFIG_COUNT",
    ),
    Case(
        "logging-stream-imports-a-module",
        ("hydra.job_logging.handlers.console.stream=ext://os.system",),
        "hydra.job_logging.handlers.console.stream",
    ),
    Case("output-subdir", ("hydra.output_subdir={folder}/conf",), "hydra.output_subdir"),
    Case("package-override", ("optimizer@hydra.callbacks.x=adam",), "optimizer@hydra.callbacks.x"),
    Case("hydra-sweeper-choice", ("hydra/sweeper=basic",), "hydra/sweeper"),
    Case(
        "rerun-a-pickle", ("--experimental-rerun={folder}/config.pickle",), "--experimental-rerun"
    ),
    Case("another-primary-config", ("--config-name=other",), "--config-name"),
    Case(
        "sweeper-params-search-path",
        ("-m", "+hydra.sweeper.params.hydra.searchpath=[file://{folder}]"),
        "hydra.sweeper.params.hydra.searchpath",
    ),
    Case(
        "sweeper-params-logging-handler",
        ("-m", "++hydra.sweeper.params={{hydra.job.env_set.A:'1'}}"),
        "hydra.sweeper.params.hydra.job.env_set.A",
    ),
    Case(  # the key is allowed; the value, once Hydra expands it into jobs, is not
        "sweeper-params-expand-to-a-path",
        ("-m", "+hydra.sweeper.params.study='ok,../../x'"),
        "study",
    ),
    # names are names, never paths
    Case("study-a-path", ("study=../../x",), "study"),
    Case("study-too-long", ("study=" + "s" * 600,), "study"),
    Case("experiment-a-path", ("tracking.experiment=a/b",), "tracking.experiment"),
    Case("option-a-path", ("optimizer=../../x",), "optimizer"),
    Case("sweep-study-a-path", ("-m", "study=ok,../../x"), "study"),
    Case("run-dir-in-conf", ("hydra.run.dir={conf}/optimizer",), "hydra.run.dir"),
    # finite numbers, and runs that fit in memory
    Case("lr-infinite", ("optimizer.lr=inf",), "optimizer.lr"),
    Case("lr-overflows", ("optimizer.lr=1e400",), "optimizer.lr"),
    Case("lr-scale-infinite", ("lr_scale=inf",), "lr_scale"),
    Case("lr-nan", ("optimizer.lr=nan",), "optimizer.lr"),
    Case("steps-too-many-for-memory", ("trainer.steps=100000000000",), "trainer.steps"),
    Case("sweep-steps-too-many", ("-m", "trainer.steps=10,100000000000"), "trainer.steps"),
    Case("added-trainer-key", ("+trainer.new_key=1",), "trainer.new_key"),
    # stores that cannot be used
    Case("store-not-writable", ("tracking.uri=sqlite:////proc/nope/x.db",), "tracking.uri"),
    Case("server-unreachable", ("tracking.uri=http://127.0.0.1:{port}",), "tracking.uri"),
    Case("store-in-memory", ("tracking.uri=sqlite:///",), "tracking.uri"),
    Case("store-scheme-unknown", ("tracking.uri=nosuch://x",), "tracking.uri"),
    Case("store-a-file-store", ("tracking.uri=file:{folder}/mlruns",), "tracking.uri"),
    Case(
        "sweep-store-unreachable",
        ("-m", "seed=0,1", "tracking.uri=http://127.0.0.1:{port}"),
        "tracking.uri",
    ),
    # one study per sweep: its parent run lives in one experiment
    Case("sweep-over-two-studies", ("-m", "study=s1,s2"), "study"),
    Case("sweep-over-two-experiments", ("-m", "tracking.experiment=e1,e2"), "tracking.experiment"),
    # a sweep in which one job is bad: caught before any job runs
    Case("sweep-one-bad-lr", ("-m", "optimizer.lr=0.1,-1"), "optimizer.lr"),
    Case("sweep-joblib-one-bad-seed", ("-m", "hydra/launcher=joblib", "seed=0,-1"), "seed"),
    Case(
        "sweep-joblib-unknown-backend",
        ("-m", "hydra/launcher=joblib", "hydra.launcher.backend=dask", "seed=0,1"),
        "hydra.launcher.backend",
    ),
    Case("sweep-one-batch-too-large", ("-m", "trainer.batch_size=10,5000"), "trainer.batch_size"),
]


@dataclass
class Outcome:
    folder: Path
    process: subprocess.CompletedProcess


#: The cases ``make test`` runs, the first two of each kind above (each launch costs a Python
#: start-up, ~1.5 s of CPU); ``make test-long`` and CI run every case.
IN_MAKE_TEST = {
    "unknown-optimizer",
    "unknown-dataset-option",
    "unknown-key",
    "unknown-key-added",
    "lr-not-a-number",
    "steps-not-an-integer",
    "lr-negative",
    "lr-zero",
    "2d-model-with-data",
    "regression-model-on-classes",
    "callback-target",
    "optimizer-target",
    "env-set-runs-a-git-hook",
    "logging-stream-imports-a-module",
    "study-a-path",
    "study-too-long",
    "lr-infinite",
    "lr-overflows",
    "store-not-writable",
    "server-unreachable",
    "sweep-over-two-studies",
    "sweep-over-two-experiments",
    "sweep-one-bad-lr",
    "sweep-joblib-one-bad-seed",
}
PARAMS = [
    pytest.param(c, id=c.id, marks=() if c.id in IN_MAKE_TEST else pytest.mark.full) for c in CASES
]


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, run_harness) -> dict[str, Outcome]:
    """Run each selected case once, four at a time (they wait mostly on Python start-up)."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    }
    cases = [c for c in CASES if c.id in selected]

    def run(case: Case) -> Outcome:
        folder = tmp_path_factory.mktemp(case.id)
        return Outcome(folder, run_harness(folder, *case.arguments(folder), timeout=300))

    tmp_path_factory.getbasetemp()  # made once here: threads making it at once make two
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([c.id for c in cases], pool.map(run, cases), strict=True))


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_fails_in_one_line_and_tracks_nothing(case: Case, outcomes, harness_env):
    outcome = outcomes[case.id]
    process, folder = outcome.process, outcome.folder
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{process.stderr}"
    assert case.key in lines[0]
    assert lines[0].startswith("error: ")
    assert process.returncode == 2, process.stderr
    assert not (folder / STORE).exists(), "a store was created"
    embedded = Path(harness_env(folder)["OPTLAB_STORE_DIR"])
    assert not embedded.exists(), "the embedded store was touched"
    assert not (folder / PLANTED).exists(), "an override ran code"


# --- a refusal writes nothing; conf files that do not parse name their file and line ----------
def test_a_refused_launch_writes_nothing(outcomes):
    """Exit 2 leaves the case's folder as it was: no run or sweep folder (Hydra makes one only
    after the config passed), no store, no checkpoint folder, no log."""
    written = {
        case_id: sorted(str(p.relative_to(o.folder)) for p in o.folder.rglob("*"))
        for case_id, o in outcomes.items()
    }
    assert {case_id: files for case_id, files in written.items() if files} == {}


def scratch_project(folder: Path) -> Path:
    """A copy of the harness, its Hydra plugins and ``conf/`` in ``folder``: a broken conf file
    goes there, never into the real ``conf/``; ``python -m harness`` run in it imports it."""
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("harness", "hydra_plugins", "conf"):
        shutil.copytree(PROJECT_ROOT / part, folder / part, ignore=ignore)
    return folder


BROKEN_CONF = {
    "experiment/flow.yaml": "# @package _global_\nstudy: flow\noptimizer:\n  lr: [1\nseed: 3\n",
    "experiment/nohead.yaml": "trainer:\n  steps: 7\n",
    "optimizer/twice.yaml": "defaults: [adam_schema, _self_]\nlr: 0.1\nbeta1: 0.8\nlr: 0.2\n",
    "optimizer/untyped.yaml": "lr: 0.1\n",
    "trainer/tabbed.yaml": "defaults: [trainer_schema, _self_]\nsteps: 10\n\tbatch_size: 5\n",
    "experiment/latin.yaml": "# @package _global_\nstudy: café\n".encode("latin-1"),
}
YAML_CASES = [
    # (arguments, the one line's start)
    (["experiment=flow"], "conf/experiment/flow.yaml line 5: expected ',' or ']'"),
    (["-m", "seed=0,1", "experiment=flow"], "conf/experiment/flow.yaml line 5: "),
    (["-m", "optimizer=adam,twice"], "conf/optimizer/twice.yaml line 4: found duplicate key lr"),
    (["trainer=tabbed"], "conf/trainer/tabbed.yaml line 3: found character '\\t'"),
    (["experiment=nohead"], "experiment=['trainer']: an experiment sets the lab's keys"),
    (["-m", "optimizer=adam,untyped"], "optimizer=['lr']: untyped"),
    (["experiment=latin"], "conf/experiment/latin.yaml: not UTF-8 (byte 0xe9 at offset 30)"),
]


#: Output folders that reach ``conf/`` only once resolved (the command line's check reads the
#: literal text): checked again on the composed config, before Hydra writes there.
INTO_CONF_CASES = [
    (["hydra.run.dir=${hydra:runtime.cwd}/conf"], "hydra.run.dir='{project}/conf': outputs go"),
    (["-m", "hydra.sweep.dir=${hydra:runtime.cwd}/conf/x"], "hydra.sweep.dir='{project}/conf/x'"),
]


@pytest.fixture(scope="module")
def project_outcomes(tmp_path_factory, run_harness) -> tuple[Path, list]:
    """Every case of ``YAML_CASES`` and ``INTO_CONF_CASES`` run in one scratch project (whose
    files must be left as they were); returns it and the processes, in that order."""
    project = scratch_project(tmp_path_factory.mktemp("project"))
    for name, text in BROKEN_CONF.items():
        (project / "conf" / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    before = sorted(project.rglob("*"))

    def run(arguments: list[str]) -> subprocess.CompletedProcess:
        flags = [a for a in arguments if a.startswith("-")]
        rest = [a for a in arguments if not a.startswith("-")]
        defaults = ["hydra.run.dir=run", "hydra.sweep.dir=sweep", "trainer.steps=30"]
        return run_harness(project, *flags, *defaults, *rest, timeout=300)

    cases = [arguments for arguments, _ in YAML_CASES + INTO_CONF_CASES]
    with ThreadPoolExecutor(max_workers=3) as pool:
        processes = list(pool.map(run, cases))
    assert sorted(project.rglob("*")) == before, "a refused launch wrote into the project"
    return project, processes


def assert_one_line_exit_2(process: subprocess.CompletedProcess, start: str) -> None:
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("error: " + start), lines[0]
    assert process.returncode == 2


@pytest.mark.parametrize("index", range(len(YAML_CASES)), ids=[" ".join(a) for a, _ in YAML_CASES])
def test_a_conf_file_that_does_not_parse_is_named_with_its_line(index, project_outcomes):
    _, processes = project_outcomes
    assert_one_line_exit_2(processes[index], YAML_CASES[index][1])


@pytest.mark.parametrize("index", range(len(INTO_CONF_CASES)), ids=["run", "sweep"])
def test_an_output_folder_that_resolves_into_conf_is_refused(index, project_outcomes):
    project, processes = project_outcomes
    start = INTO_CONF_CASES[index][1].format(project=project)
    assert_one_line_exit_2(processes[len(YAML_CASES) + index], start)
