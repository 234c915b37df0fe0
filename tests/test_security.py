"""The command line's allowlist (``harness.cli.overrides``) and secrets on the command line.

The refusals that run ``python -m harness`` end to end (one line, exit 2, no store, nothing
run) are cases in ``tests/test_bad_inputs.py``; here are the allowlist itself, what it lets
through, and a password that must never reach a printed line or a file.
"""

from __future__ import annotations

import socket

import pytest

from harness.cli.overrides import check_arguments
from harness.cli.sweep import SweepAbort, check_jobs
from harness.core.config import ConfigError

ALLOWED = [
    ["-m", "optimizer=adagrad,rmsprop_a0.9", "lr_scale=0.3,1", "seed=range(3)"],
    ["experiment=stall", "model.hidden=[32,32]", "+trainer.steps=10", "~dataset"],
    ["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"],
    [
        "hydra/launcher=slurm",
        "hydra.launcher.partition=debug",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.cpus_per_task=2",
        "hydra.launcher.mem_gb=4",
        "hydra.launcher.array_parallelism=8",
        "hydra.launcher.max_num_timeout=1",
        "hydra.launcher.setup=['module load python','export OMP_NUM_THREADS=1']",
        "+hydra.launcher.additional_parameters.mail-type=END",
    ],
    ["hydra.run.dir=/somewhere/run", "hydra.sweep.dir=multirun/${study}/${now:%H-%M}"],
    ["hydra/job_logging=disabled", "hydra/hydra_logging=none", "hydra.verbose=[harness]"],
    ["-m", "+hydra.sweeper.params.seed='0,1'", "++hydra.sweeper.params={lr_scale:'1,3'}"],
    ["--cfg", "job", "--resolve", "-p", "optimizer"],
    ["--info", "defaults"],
    ["-sc", "install=bash"],
    ["tracking.uri=http://127.0.0.1:5000", "tracking.uri=${oc.env:TEAM_URI}"],
    ["tracking.uri=postgresql://optlab@db.example.org/optlab", "study=stall_2.b-1"],
]

REFUSED = [
    # (arguments, the key the line names)
    (["hydra.callbacks.x.name=y"], "hydra.callbacks.x.name"),
    (["hydra.job.chdir=true"], "hydra.job.chdir"),
    (["hydra.mode=MULTIRUN"], "hydra.mode"),
    (["hydra.launcher.submitit_folder=/tmp/x"], "hydra.launcher.submitit_folder"),
    (["hydra.launcher._target_=os.system"], "hydra.launcher._target_"),
    (["hydra.launcher.n_jobs.x=1"], "hydra.launcher.n_jobs.x"),
    (["hydra.sweep.subdir=../x"], "hydra.sweep.subdir"),
    (["hydra.hydra_logging.root.level=DEBUG"], "hydra.hydra_logging.root.level"),
    (["hydra/sweeper=basic"], "hydra/sweeper"),
    (["hydra/output=default"], "hydra/output"),
    (["optimizer._target_=os.system"], "optimizer._target_"),
    (["+optimizer.extra={_target_:os.system}"], "optimizer.extra"),
    (["model@hydra.callbacks=mlp"], "model@hydra.callbacks"),
    (["hydra/launcher=../../x"], "hydra/launcher"),
    (["experiment=../elsewhere"], "experiment"),
    (["-m", "dataset=digits,../x"], "dataset"),
    (["+hydra.sweeper.params={seed:'0',hydra.output_subdir:x}"], "hydra.sweeper.params"),
    (["--config-dir=/tmp"], "--config-dir"),
    (["-cp", "/tmp"], "--config-path"),
    (["-cn", "other"], "--config-name"),
    (["--experimental-rerun", "config.pickle"], "--experimental-rerun"),
    # found by tests/test_fuzz_overrides.py: Hydra's own ValueError, exit 1, before
    (["optimizer=null"], "optimizer"),
    (["experiment=0"], "experiment"),
    (["-m", "model=mlp,null"], "model"),
    (["optimizer=[adam,sgd]"], "optimizer"),
    (["~optimizer=0"], "optimizer"),
]


@pytest.mark.parametrize("arguments", ALLOWED, ids=[" ".join(a)[:40] for a in ALLOWED])
def test_what_a_user_needs_is_allowed(arguments):
    check_arguments(arguments)


@pytest.mark.parametrize("arguments,key", REFUSED, ids=[k for _, k in REFUSED])
def test_everything_else_is_refused_naming_the_key(arguments, key):
    with pytest.raises(ConfigError) as refused:
        check_arguments(arguments)
    assert str(refused.value).startswith(key), str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_sweep_is_checked_after_hydra_expands_its_params():
    """A preset's ``hydra.sweeper.params`` never passes the command line's check: each job's
    overrides, as the sweeper will launch them, are held to the same rules."""
    check_jobs([["seed=0", "optimizer=adam"], ["seed=1", "optimizer=adam"]])
    for job in (["seed=0", "hydra.searchpath=[file:///tmp]"], ["study=../../x"]):
        with pytest.raises(SweepAbort) as refused:
            check_jobs([["seed=0"], job])
        assert refused.value.code == 2


def test_the_output_folders_stay_out_of_conf():
    from harness.tracking.store import PROJECT_ROOT

    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        for folder in (PROJECT_ROOT / "conf", PROJECT_ROOT / "conf" / "experiment" / "x"):
            with pytest.raises(ConfigError, match=key):
                check_arguments([f"{key}={folder}"])
        check_arguments([f"{key}={PROJECT_ROOT / 'outputs' / 'x'}"])


SECRET = "s3cr3t-pass/word"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "uri,hint",
    [
        (f"http://alice:{SECRET}@127.0.0.1:{{port}}", "MLFLOW_TRACKING_PASSWORD"),
        (f"postgresql://optlab:{SECRET}@127.0.0.1:{{port}}/optlab", "PGPASSWORD"),
    ],
    ids=["server", "database"],
)
def test_a_password_in_the_tracking_uri_is_refused_and_never_printed_or_saved(
    uri, hint, run_harness, harness_env, tmp_path
):
    """Hydra prints a sweep's overrides and saves them in .hydra/ and multirun.yaml: a password
    on the command line would land there, so it is refused before Hydra sees it."""
    uri = uri.format(port=closed_port())
    for mode in ([], ["-m"]):
        done = run_harness(
            tmp_path,
            *mode,
            "seed=0,1" if mode else "seed=0",
            f"tracking.uri={uri}",
            f"hydra.run.dir={tmp_path / 'run'}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith("error: tracking.uri=") and hint in lines[0]
        assert SECRET not in done.stderr + done.stdout and "***" in lines[0]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if SECRET in p.read_text(errors="replace")]
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "run").exists()


def test_git_runs_without_config_from_the_environment(tmp_path, monkeypatch):
    """``git status`` (the runs' ``optlab.git_dirty`` tag) runs ``core.fsmonitor`` as a command;
    git config passed in ``GIT_CONFIG_*`` variables does not reach it."""
    from harness.tracking.sink import git_state

    planted = tmp_path / "planted"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"mkdir {planted}; false")
    state = git_state.__wrapped__()
    assert not planted.exists(), "git ran a command from the environment"
    assert state["optlab.git_dirty"] in ("true", "false"), state


def test_a_name_is_at_most_100_characters_of_letters_digits_and_dot_dash_underscore():
    for key in ("study", "tracking.experiment"):
        check_arguments([f"{key}={'s' * 100}", f"{key}=a-b_c.1"])
        for bad in ("s" * 101, "'a b'", "a/b", "a..b", "'é'", "-a", ".a"):  # quoted: parsed
            with pytest.raises(ConfigError, match=key):
                check_arguments([f"{key}={bad}"])


def test_a_logging_handler_hidden_in_sweeper_params_is_refused_end_to_end(run_harness, tmp_path):
    """The issue's form: a ``+hydra.job_logging.handlers.x`` key inside ``hydra.sweeper.params``
    whose class would run ``mkdir``; refused in one line, nothing run, nothing written."""
    planted = tmp_path / "planted"
    handler = f'"{{class:subprocess.Popen,args:[mkdir,{planted}]}}"'
    done = run_harness(
        tmp_path,
        "-m",
        "trainer.steps=5",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"++hydra.sweeper.params={{seed:'0,1',+hydra.job_logging.handlers.x:{handler}}}",
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: hydra.sweeper.params.+hydra.job_logging.handlers.x")
    assert not planted.exists()
    assert not list(tmp_path.iterdir())


def test_a_sweep_written_as_sweeper_params_runs(run_harness, tmp_path):
    """``hydra.sweeper.params={seed:"0,1"}`` on the command line (an AttributeError before):
    allowed, expanded by Hydra, two jobs run."""
    done = run_harness(
        tmp_path,
        "-m",
        "dataset=spirals",
        "trainer.steps=10",
        "tracking.enabled=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        '++hydra.sweeper.params={seed:"0,1"}',
    )
    assert done.returncode == 0, done.stderr
    assert "2 finished, 0 skipped, 0 failed" in done.stderr
    assert "rmsprop-a0.99-lr0.001-s0" in done.stderr and "-s1 " in done.stderr
