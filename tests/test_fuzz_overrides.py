"""Property-based fuzz of the command line: overrides drawn from a grammar that mixes the lab's
keys and values with hostile ones (``hydra.*`` keys, ``ext://``, ``${...}``, quotes, long
strings, unicode, paths with ``..``, ``=`` ``,`` ``[]`` ``{}``).

Most examples run in-process: the allowlist (``check_arguments``), Hydra's own parser, then
Hydra's compose and the lab's ``to_config``, the three steps ``python -m harness`` takes before
a job starts. A few run ``python -m harness`` itself in a scratch folder with a scratch home and
store. ``make test`` runs a few dozen; ``make test-full`` (and CI, through ``make test-long``)
a few hundred. Examples are derandomized and no database is kept, so every run draws the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tracking_checks import TOOL_ENTRIES

from harness.cli.errors import is_input_error, one_line
from harness.cli.overrides import check_arguments
from harness.core.config import ConfigError
from harness.tracking.store import PROJECT_ROOT

# --- the grammar ------------------------------------------------------------------------------
LAB_KEYS = [
    "optimizer",
    "optimizer.lr",
    "optimizer.decay_rate",
    "model",
    "model.hidden",
    "dataset",
    "trainer.steps",
    "trainer.batch_size",
    "trainer.progress",
    "seed",
    "lr_scale",
    "study",
    "experiment",
    "tracking.experiment",
    "tracking.uri",
    "tracking.enabled",
]
HYDRA_KEYS = [  # the few a user needs, then the rest of Hydra's surface
    "hydra/launcher",
    "hydra/job_logging",
    "hydra.launcher.n_jobs",
    "hydra.launcher.setup",
    "hydra.run.dir",
    "hydra.sweep.dir",
    "hydra.verbose",
    "hydra.sweeper.params",
    "hydra.sweeper.params.seed",
    "hydra.sweeper.params.hydra.searchpath",
    "hydra.job.env_set.GIT_CONFIG_COUNT",
    "hydra.job_logging.handlers.console.stream",
    "hydra.job_logging.handlers.x",
    "hydra.hydra_logging.formatters.simple.()",
    "hydra.output_subdir",
    "hydra.searchpath",
    "hydra.callbacks.x._target_",
    "hydra.job.chdir",
    "hydra.sweep.subdir",
    "hydra.mode",
    "hydra/sweeper",
    "hydra/output",
    "hydra",
    "_target_",
    "optimizer._target_",
    "trainer.new_key",
]
PLAIN_VALUES = [
    "0",
    "1",
    "3",
    "0.01",
    "1,2",
    "range(2)",
    "adam",
    "rmsprop_a0.9",
    "sgd,adam",
    "spirals",
    "none",
    "[16,16]",
    "true",
    "null",
    "joblib",
    "disabled",
    "stall",
    "s1,s2",
    "out/run",
]
HOSTILE_VALUES = [
    "ext://os.system",
    "ext://sys.stdout",
    "${oc.env:HOME}",
    "${now:%H-%M}",
    "${hydra:runtime.cwd}/conf",
    "${oops",
    "${study}",
    "'quoted value'",
    '"double quoted"',
    "'unterminated",
    "../../x",
    "../conf",
    "a/b",
    "a=b",
    "a,b,=",
    "[1,{_target_:os.system}]",
    "{class:subprocess.Popen,args:[touch,planted]}",
    "{seed:'0,1'}",
    "{hydra.output_subdir:x}",
    "[file:///tmp]",
    "inf",
    "-inf",
    "nan",
    "1e400",
    "-1",
    "100000000000",
    "file:/tmp/mlruns",
    "http://alice:pa/ss@127.0.0.1:9",
    "sqlite:///",
    "x" * 300,
    "é東京\u202e",
]
#: Values that fit their key, so that whole command lines pass now and then.
FITTING = {
    "optimizer": ["adam", "rmsprop_a0.9", "sgd,adam"],
    "optimizer.lr": ["0.01", "0.1,0.01"],
    "optimizer.decay_rate": ["0.9"],
    "model": ["mlp", "softmax"],
    "model.hidden": ["[16,16]", "[8]"],
    "dataset": ["spirals", "digits"],
    "trainer.steps": ["3", "10,20"],
    "trainer.batch_size": ["10"],
    "trainer.progress": ["false"],
    "seed": ["0", "3", "range(2)"],
    "lr_scale": ["0.3", "1,3"],
    "study": ["fuzz", "stall_2.b-1"],
    "experiment": ["stall", "shift"],
    "tracking.experiment": ["fuzz"],
    "tracking.enabled": ["false"],
    "hydra/launcher": ["joblib"],
    "hydra/job_logging": ["disabled"],
    "hydra.launcher.n_jobs": ["2"],
    "hydra.verbose": ["[harness]"],
    "hydra.sweeper.params.seed": ["'0,1'"],
}
#: Any character a command line can hold (no NUL, no lone surrogate).
CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PREFIXES = ["", "", "", "", "+", "++", "~"]


@st.composite
def overrides(draw) -> str:
    """``[prefix]key[@package]=value``: mostly the lab's keys and plain values, so that some
    command lines pass the allowlist and reach Hydra's compose and the lab's checks."""
    key = draw(st.sampled_from(LAB_KEYS if draw(st.integers(0, 9)) < 7 else HYDRA_KEYS))
    prefix = draw(st.sampled_from(PREFIXES))
    if draw(st.integers(0, 9)) == 0:
        key += "@" + draw(st.sampled_from(["hydra.callbacks.x", "_global_", "optimizer"]))
    if prefix == "~" and draw(st.booleans()):
        return prefix + key
    kind = draw(st.integers(0, 9))
    if kind < 3 and key in FITTING:
        value = draw(st.sampled_from(FITTING[key]))
    elif kind < 5:
        value = draw(st.sampled_from(PLAIN_VALUES))
    elif kind < 8:
        value = draw(st.sampled_from(HOSTILE_VALUES))
    elif kind < 9:
        value = draw(st.text(CHARACTERS, max_size=20))  # anything at all, unicode included
    else:
        pieces = st.sampled_from(["a", ".", "/", "..", ",", "$", "{", "}", "[", "]", "=", "'"])
        value = "".join(draw(st.lists(pieces, max_size=12)))
    return f"{prefix}{key}={value}"


FLAGS = [[], [], [], ["-m"], ["--cfg", "job"], ["--config-dir=/tmp"], ["-cn", "other"]]
FLAGS += [["-cp", "/tmp"], ["--experimental-rerun=x.pickle"]]
command_lines = st.builds(
    lambda flags, rest: [*flags, *rest],
    st.sampled_from(FLAGS),
    st.lists(overrides(), min_size=1, max_size=3),
)

SETTINGS = {
    "derandomize": True,  # the same examples on every run and machine
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


# --- in-process: the allowlist, Hydra's parser, compose and the lab's config ----------------
#: The test's own statement of what may pass (README, "What the command line may do").
LAB_HEADS = {
    "optimizer",
    "model",
    "dataset",
    "trainer",
    "tracking",
    "seed",
    "lr_scale",
    "study",
    "experiment",
}
HYDRA_ALLOWED = {
    "hydra/launcher",
    "hydra/job_logging",
    "hydra/hydra_logging",
    "hydra.run.dir",
    "hydra.sweep.dir",
    "hydra.verbose",
}
LAUNCHER_ALLOWED = re.compile(
    r"hydra\.launcher\.(n_jobs|partition|timeout_min|cpus_per_task|mem_gb|array_parallelism"
    r"|max_num_timeout|setup|additional_parameters(\..+)?)"
)
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
NAMED = {"study", "tracking.experiment", *LAB_HEADS - {"seed", "lr_scale", "study"}}
NAMED |= {"hydra/launcher", "hydra/job_logging", "hydra/hydra_logging"}


def may_pass(override) -> bool:
    """Whether the README lets ``override`` (parsed by Hydra) through the command line."""
    key = override.key_or_group
    if override.package is not None or "_target_" in key.split("."):
        return False
    if key.startswith("hydra.sweeper.params"):
        inner = key.removeprefix("hydra.sweeper.params").lstrip(".")
        names = [inner] if inner else list(v) if isinstance(v := override.value(), dict) else []
        return bool(names) and all(str(n).lstrip("+~").split(".")[0] in LAB_HEADS for n in names)
    if key.split(".")[0] in LAB_HEADS:
        return True
    return key in HYDRA_ALLOWED or bool(LAUNCHER_ALLOWED.fullmatch(key))


def plain_values(value) -> list:
    found, pending = [], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "_target_" in map(str, item):
                found.append("_target_ key")
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(getattr(item, "list", None), list):
            pending.extend(item.list)
        else:
            found.append(item)
    return found


def breaks_a_value_rule(override) -> bool:
    """A value the README refuses: a path for a name, an import string, a password in a URI,
    an output folder inside ``conf/``."""
    key, values = override.key_or_group, plain_values(override.value())
    if "_target_ key" in values:
        return True
    strings = [v for v in values if isinstance(v, str)]
    if key in NAMED and any(not NAME.fullmatch(v) or ".." in v for v in strings):
        return True
    if key == "tracking.uri" and any(re.match(r"\w+://[^/@]*:[^@]*@", v) for v in strings):
        return True
    conf = PROJECT_ROOT / "conf"
    return key in ("hydra.run.dir", "hydra.sweep.dir") and any(
        Path(v.split("${")[0] or ".").resolve().is_relative_to(conf) for v in strings
    )


def parse(arguments: list[str]):
    """Hydra's parse of the overrides (flags left out): the parsed list, or the error."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    words = [a for a in arguments if not a.startswith("-") and a not in ("job", "other")]
    try:
        return OverridesParser.create().parse_overrides(words), None
    except OverrideParseException as error:
        return None, error


@pytest.fixture(scope="module")
def compose_lab():
    """``compose(overrides)``: the lab's config as ``python -m harness`` composes it."""
    from hydra import compose, initialize_config_dir

    from harness.cli import schemas  # noqa: F401  (the typed schemas and the lr resolver)
    from harness.cli.app import to_config

    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        yield lambda words: to_config(compose("config", overrides=words))


def check_in_process(arguments: list[str], compose_lab) -> str:
    """Refused in one line, or passed and then composed or refused in one line; never a
    traceback-worthy error, never a hostile override let through."""
    parsed, parse_error = parse(arguments)
    try:
        check_arguments(arguments)
    except ConfigError as refused:
        assert str(refused) and "\n" not in str(refused), repr(str(refused))
        return "refused"
    flags = [a for a in arguments if a.startswith("-")]
    refused = {"--config-dir", "-cn", "-cp", "--experimental-rerun"}
    assert not {f.split("=")[0] for f in flags} & refused, arguments
    if parse_error is not None:  # Hydra says it itself, in one line (harness.cli.errors)
        line = one_line(parse_error)
        assert line and "\n" not in line and is_input_error(parse_error), line
        return "unparsable"
    for override in parsed:
        assert may_pass(override), f"let through: {override.input_line}"
        assert not breaks_a_value_rule(override), f"let through: {override.input_line}"
    try:
        compose_lab([o.input_line for o in parsed])
    except Exception as error:  # noqa: BLE001 - what the harness would print, checked
        line = one_line(error)
        assert is_input_error(error), f"{type(error).__name__}: {line} for {arguments}"
        assert line and "\n" not in line, line
        return "invalid"
    return "valid"


def fuzz_in_process(examples: int):
    @settings(max_examples=examples, **SETTINGS)
    @given(arguments=command_lines)
    def test(arguments, compose_lab):
        event(check_in_process(arguments, compose_lab))  # --hypothesis-show-statistics

    return test


test_overrides_in_process = fuzz_in_process(40)
test_overrides_in_process_long = pytest.mark.full(fuzz_in_process(400))


def test_the_grammar_reaches_every_outcome(compose_lab):
    """The fuzz would prove little if its command lines were all refused: fixed examples of
    each outcome go through the same check."""
    outcomes = {
        check_in_process(arguments, compose_lab)
        for arguments in (
            ["hydra.job.env_set.X=1"],
            ["optimizer.lr=[1"],
            ["optimizer.lr=inf"],
            ["optimizer=adam", "seed=3"],
        )
    }
    assert outcomes == {"refused", "unparsable", "invalid", "valid"}


# --- subprocess: python -m harness in a scratch folder ---------------------------------------
def snapshot(scratch: Path) -> dict[str, tuple[int, int]]:
    """(size, modification time in ns) of every file under ``scratch`` and the project's
    ``conf/``; the project's top-level entries by name."""
    found = {  # a new entry, not an edit; pytest's and hypothesis' own folders are not the lab's
        str(path): (0, 0) for path in PROJECT_ROOT.iterdir() if path.name not in TOOL_ENTRIES
    }
    for path in [*scratch.rglob("*"), *(PROJECT_ROOT / "conf").rglob("*")]:
        stat = path.lstat()
        found[str(path)] = (stat.st_size, stat.st_mtime_ns) if path.is_file() else (0, 0)
    return found


#: Output folders a launched example may name: relative ones that stay inside its scratch
#: folder (the cwd is three levels down), so the check below sees everything it writes.
OUTPUT_FOLDERS = ["other/run", "../up/${now:%H-%M}", "../../upup/run"]
OUTPUT_KEY = re.compile(r"[+~]*hydra\.(run|sweep)\.dir(=|$)")


def launchable(arguments: list[str]) -> bool:
    return all(not OUTPUT_KEY.match(a) or a.partition("=")[2] in OUTPUT_FOLDERS for a in arguments)


launched_command_lines = st.builds(
    lambda flags, rest: [*flags, *rest],
    st.sampled_from(FLAGS),
    st.lists(
        st.one_of(
            *[overrides()] * 5,  # an output folder in one override of six
            st.sampled_from(["hydra.run.dir", "hydra.sweep.dir"]).flatmap(
                lambda key: st.sampled_from([f"{key}={f}" for f in OUTPUT_FOLDERS])
            ),
        ),
        min_size=1,
        max_size=4,
    ),
).filter(launchable)


def launch(arguments: list[str], scratch: Path) -> tuple[subprocess.CompletedProcess, set]:
    """``python -m harness`` in ``scratch/a/b/cwd`` with home, store, checkpoints and data
    cache under ``scratch``; returns the process and what it changed (``snapshot``)."""
    cwd, home = scratch / "a" / "b" / "cwd", scratch / "home"
    for folder in (cwd, home):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OPTLAB_STORE_DIR": str(scratch / "store"),
        "OPTLAB_CHECKPOINT_DIR": str(scratch / "store" / "checkpoints"),
        "OPTLAB_CACHE_DIR": str(scratch / "cache"),
    }
    flags = [a for a in arguments if a.startswith("-") or a in ("job", "other")]
    small = ["dataset=spirals", "trainer.steps=20", "trainer.progress=false"]
    where = ["hydra.run.dir=out/run", "hydra.sweep.dir=out/sweep"]
    rest = [a for a in arguments if a not in flags]
    before = snapshot(scratch)
    process = subprocess.run(
        [sys.executable, "-m", "harness", *flags, *small, *where, *rest],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    after = snapshot(scratch)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    return process, changed


def check_subprocess(arguments: list[str], scratch: Path) -> None:
    process, changed = launch(arguments, scratch)
    event(f"exit {process.returncode}")  # --hypothesis-show-statistics
    stray = [p for p in changed if not p.startswith(f"{scratch}/")]
    assert not stray, f"{arguments} changed project files: {stray}"
    assert process.returncode in (0, 1, 2), (arguments, process.returncode, process.stderr)
    assert "Traceback" not in process.stderr, (arguments, process.stderr[-3000:])
    if process.returncode == 2:
        lines = process.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (arguments, process.stderr)
        assert not changed, f"{arguments} was refused but wrote {sorted(changed)}"
        return
    if process.returncode == 1:  # a run or a sweep that failed says so in its last line
        last = (process.stderr.strip().splitlines() or [""])[-1]
        assert last.startswith("error: "), (arguments, process.stderr[-2000:])
    # a run or a sweep writes in its output folder, the store and the data cache only
    cwd = scratch / "a" / "b" / "cwd"
    folders = [cwd / "out", cwd / "other", cwd.parent / "up", scratch / "a" / "upup"]
    folders += [scratch / "store", scratch / "cache"]
    outside = [p for p in changed if not any(p == str(f) or p.startswith(f"{f}/") for f in folders)]
    assert not outside, f"{arguments} wrote outside its folders: {outside}"


def fuzz_subprocess(examples: int):
    @settings(max_examples=examples, **SETTINGS)
    @given(arguments=launched_command_lines)
    def test(arguments, tmp_path_factory):
        check_subprocess(arguments, tmp_path_factory.mktemp("fuzz"))

    return test


test_overrides_through_python_m_harness = pytest.mark.slow(fuzz_subprocess(5))
test_overrides_through_python_m_harness_long = pytest.mark.full(fuzz_subprocess(40))
