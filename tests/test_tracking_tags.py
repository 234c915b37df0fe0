"""What a job run shows in the MLflow UI: a readable group label, a short name, only its own
optimizer's params, and ``diverged`` as a tag (not a charted metric) that the analysis still reads.

Real jobs, in-process, on a temporary SQLite store composed through Hydra's compose API; read
back with ``MlflowClient`` and ``analysis.load``, as a user and the report read them.
"""

from __future__ import annotations

import re

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from analysis.load import load_study
from harness.cli import schemas  # noqa: F401  (registers the typed schemas before any compose)
from harness.cli.app import to_config
from harness.core.config import OPTIMIZER_CONFIGS
from harness.tracking.job import run_job
from harness.tracking.store import PROJECT_ROOT

SMALL = ("trainer.steps=20", "trainer.eval_every=10", "trainer.progress=false")
OPTIMIZER_KEYS = {  # every optimizer's own params, from its config class
    name: {f"optimizer.{key}" for key in schema.__dataclass_fields__}
    for name, schema in OPTIMIZER_CONFIGS.items()
}
HASH = re.compile(r"\b[0-9a-f]{8,}\b")


def run_tracked(folder, study: str, *overrides: str) -> tuple[MlflowClient, object]:
    """Run one small job of ``study`` on the store in ``folder``; the client and its run."""
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
        raw = compose(
            config_name="config",
            overrides=[*SMALL, f"study={study}", f"tracking.uri={uri}", *overrides],
        )
    outcome = run_job(to_config(raw))
    assert outcome.status == "FINISHED", outcome
    client = MlflowClient(uri)
    return client, client.get_run(outcome.run_id)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One store for the module (a new SQLite store costs seconds); each test its own study."""
    folder = tmp_path_factory.mktemp("tracking-tags")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTLAB_CHECKPOINT_DIR", str(folder / "checkpoints"))
        yield folder


def test_a_shifted_rmsprop_run_is_labelled_named_and_has_only_its_own_params(folder):
    _, run = run_tracked(
        folder,
        "tags",
        "optimizer=rmsprop_a0.99",
        "optimizer.lr=0.003",
        "dataset=spirals",
        "dataset.shift_step=10",
        "dataset.shift_kind=permute_labels",
        "seed=2",
    )
    tags, params = run.data.tags, run.data.params
    label = tags["optlab.group_label"]
    assert label == "RMSprop α=0.99 · lr 0.003 · spirals/mlp · permute_labels@10"
    assert not HASH.search(label)
    assert run.info.run_name == "rmsprop-a0.99-lr0.003-perm-s2"
    optimizer_params = {key for key in params if key.startswith("optimizer.")}
    assert optimizer_params == OPTIMIZER_KEYS["rmsprop"]  # no beta1, beta2 or momentum
    assert "diverged" not in run.data.metrics and "final_val_loss" in run.data.metrics
    assert tags["optlab.diverged"] == "false"


def test_a_2d_adam_run_has_its_own_params_and_the_function_as_problem(folder):
    _, run = run_tracked(folder, "tags-2d", "optimizer=adam", "model=rosenbrock", "dataset=none")
    assert run.data.tags["optlab.group_label"] == "Adam · lr 0.001 · rosenbrock"
    assert run.info.run_name == "adam-lr0.001-s0"
    optimizer_params = {key for key in run.data.params if key.startswith("optimizer.")}
    assert optimizer_params == OPTIMIZER_KEYS["adam"]  # no decay_rate, no momentum


def test_seeds_of_one_config_share_a_label_and_other_lrs_do_not(folder):
    runs = [
        run_tracked(folder, "groups", "optimizer=adagrad", f"optimizer.lr={lr}", f"seed={seed}")[1]
        for lr, seed in ((0.1, 0), (0.1, 1), (0.01, 0))
    ]
    labels = [run.data.tags["optlab.group_label"] for run in runs]
    groups = [run.data.tags["optlab.group"] for run in runs]
    assert labels[0] == labels[1] != labels[2]
    assert groups[0] == groups[1] != groups[2]
    assert len({run.info.run_name for run in runs}) == 3


def test_a_diverged_run_is_a_tag_and_the_analysis_still_counts_it(folder):
    client, run = run_tracked(
        folder, "diverge", "optimizer=sgd", "optimizer.lr=1000", "dataset=spirals"
    )
    assert run.data.tags["optlab.diverged"] == "true"
    assert "diverged" not in run.data.metrics  # was a chart of "1.00" bars in the UI
    study = load_study("diverge", tracking_uri=client.tracking_uri)
    assert study.runs["diverged"].tolist() == [True]
    assert study.runs["diverged_step"].iloc[0] == int(run.data.tags["optlab.diverged_step"])


def test_adadelta_groups_by_rho_and_amsgrad_runs_tracked_with_their_internals(folder):
    """New optimizers need no label table: ρ names AdaDelta's groups, and the loader reads their
    effective step and accumulator like any other's."""
    rhos = [("optimizer=adadelta", f"optimizer.rho={rho}") for rho in (0.9, 0.95)]
    tracked = [run_tracked(folder, "new-optimizers", *o) for o in [*rhos, ("optimizer=amsgrad",)]]
    client, runs = tracked[0][0], [run for _, run in tracked]
    labels = [run.data.tags["optlab.label"] for run in runs]
    assert labels == ["AdaDelta ρ=0.9", "AdaDelta ρ=0.95", "AMSGrad"]
    assert [run.info.run_name for run in runs] == [
        "adadelta-rho0.9-lr1-s0", "adadelta-rho0.95-lr1-s0", "amsgrad-lr0.001-s0"
    ]  # fmt: skip
    for run, name in zip(runs, ("adadelta", "adadelta", "amsgrad"), strict=True):
        assert {k for k in run.data.params if k.startswith("optimizer.")} == OPTIMIZER_KEYS[name]
    study = load_study("new-optimizers", tracking_uri=client.tracking_uri)
    assert sorted(study.runs["label"]) == sorted(labels)
    recorded = set(study.curves.loc[study.curves["value"].notna(), "metric"].astype(str))
    assert {"effective_lr_median", "accumulator_mean", "update_ratio"} <= recorded


#: The hashes the current configs get. A change here means every store's finished runs stop
#: being recognised (a rerun trains them again, in new runs): change these only on purpose and
#: say so in the README ("Re-running skips finished work"). Last changed when the data-set
#: configs came to be read from the loaders and gained their ``standardize`` option.
PINNED_HASHES = {
    "digits": "c555b1ce65cd5e33",
    "mnist1d": "aa894ddb2461bd65",
    "spirals": "03eddb0eb98a27f8",
    "blobs": "6f9325e6bf68f18e",
}


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_a_default_configs_hash_is_pinned(name):
    from harness.core.config import Config, dataset_configs
    from harness.tracking.sink import config_hash

    assert config_hash(Config(dataset=dataset_configs()[name]())) == PINNED_HASHES[name]
