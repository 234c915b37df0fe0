"""The tuning protocol: equal budgets, selection on validation, fresh verdict seeds, the report.

One small real study (2 arms × 3 trials × 2 tuning seeds, then 2 verdict seeds, 50 steps on
digits) runs into a temporary SQLite store; the tests read back what a user would read. The
selection rule is checked against a hand-built store with known values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from analysis.curves import to_long_table
from analysis.load import load_study
from analysis.tuning import (
    select_trials,
    to_budget_sensitivity,
    to_phase_runs,
    to_run_criterion,
    to_trial_scores,
)
from experiments import tune
from experiments.tuning import Arm, Protocol, load_protocol

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

SMALL = """
preset: stall
overrides: [dataset=digits, trainer.steps=50, trainer.eval_every=10]
experiment: small_tuned
budget: 3
search: halton
budgets: [1, 2, 3]
criterion: final_val_loss
tune_seeds: [0, 1]
verdict_seeds: [100, 101]
arms:
  adagrad: {lr: [0.01, 1.0]}
  rmsprop: {lr: [1.0e-4, 1.0e-2], decay_rate: [0.5, 0.999]}
"""
ARMS, BUDGET, TUNE_SEEDS, VERDICT_SEEDS = {"adagrad", "rmsprop"}, 3, {0, 1}, {100, 101}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The small study, run once by ``python -m experiments.tune``'s ``main`` (one job at a time:
    the parallel pool's path is the same, and worker start-up would dominate this test)."""
    folder = tmp_path_factory.mktemp("tuning")
    (folder / "small.yaml").write_text(SMALL)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    args = [str(folder / "small.yaml"), "--tracking-uri", uri, "--out", str(folder / "report")]
    with mock.patch.dict(os.environ, {"OPTLAB_STORE_DIR": str(folder / "embedded")}):
        assert tune.main([*args, "--jobs", "1"]) == 0
    loaded = load_study("small_tuned", sweep="latest", tracking_uri=uri)
    return {"folder": folder, "uri": uri, "args": args, "study": loaded}


def _phase(study, phase: str) -> pd.DataFrame:
    return to_phase_runs(study["study"].runs, phase)


@pytest.mark.slow
def test_every_arm_gets_exactly_its_budget_under_one_parent(study):
    loaded = study["study"]
    parent = loaded.parent
    assert parent.data.tags["optlab.protocol"] == "tuning"
    assert parent.info.status == "FINISHED"
    runs = loaded.runs
    assert set(runs["parent_run_id"]) == {parent.info.run_id}
    tune_runs = _phase(study, "tune")
    trials = tune_runs.groupby("arm")["trial"].nunique().to_dict()
    assert trials == {arm: BUDGET for arm in ARMS}
    seeds = tune_runs.groupby(["arm", "trial"])["seed"].apply(set)
    assert all(s == TUNE_SEEDS for s in seeds), seeds
    assert (tune_runs["status"] == "FINISHED").all()


@pytest.mark.slow
def test_verdict_seeds_never_overlap_the_tuning_seeds(study):
    tune_seeds = set(_phase(study, "tune")["seed"])
    verdict = _phase(study, "verdict")
    assert tune_seeds == TUNE_SEEDS
    assert set(verdict["seed"]) == VERDICT_SEEDS
    assert not tune_seeds & set(verdict["seed"])
    assert verdict.groupby("arm")["seed"].nunique().to_dict() == {a: 2 for a in ARMS}


@pytest.mark.slow
def test_verdict_reruns_the_trial_with_the_best_mean_validation_loss(study):
    tune_runs = _phase(study, "tune")
    verdict = _phase(study, "verdict")
    for arm in ARMS:
        mine = tune_runs[tune_runs["arm"] == arm]
        means = {
            trial: sum(part["final_val_loss"]) / len(part) for trial, part in mine.groupby("trial")
        }
        best = min(means, key=lambda trial: (means[trial], trial))
        chosen = verdict[verdict["arm"] == arm]
        assert set(chosen["trial"]) == {best}
        best_lr = mine.loc[mine["trial"] == best, "optimizer.lr"].iloc[0]
        assert set(chosen["optimizer.lr"]) == {best_lr}
    decay = verdict.loc[verdict["arm"] == "rmsprop", "optimizer.decay_rate"]
    assert decay.nunique() == 1 and 0.5 <= decay.iloc[0] <= 0.999


@pytest.mark.slow
def test_report_has_every_arm_and_every_budget_and_is_logged(study):
    folder = study["folder"] / "report"
    tuned = pd.read_csv(folder / "tables" / "tuned.csv")
    assert set(tuned["arm"]) == ARMS
    assert tuned["final_val_loss_mean"].notna().all()
    assert tuned["final_val_loss_ci"].gt(0).all(), "two verdict seeds give an interval"
    budgets = pd.read_csv(folder / "tables" / "budgets.csv")
    assert budgets["budget"].tolist() == [1, 2, 3]
    assert budgets["ranking_holds"].between(0, 1).all()
    text = (folder / "report.md").read_text()
    assert "## What held" in text and "Adagrad's effective step decayed" in text
    paired = [line for line in text.splitlines() if "paired by verdict seed" in line]
    assert len(paired) == len(ARMS) - 1  # the first arm against each other one
    assert all("on final_test_loss" in line and "(n=" in line for line in paired), paired
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    client = MlflowClient(tracking_uri=study["uri"])
    logged = {a.path for a in client.list_artifacts(study["study"].parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/tables"} <= logged


@pytest.mark.slow
def test_the_same_command_continues_the_same_parent_without_new_runs(study, capsys):
    before = study["study"].runs
    with mock.patch.dict(os.environ, {"OPTLAB_STORE_DIR": str(study["folder"] / "embedded")}):
        assert tune.main([*study["args"], "--jobs", "1"]) == 0
    after = load_study("small_tuned", sweep="latest", tracking_uri=study["uri"])
    assert after.parent.info.run_id == study["study"].parent.info.run_id
    assert sorted(after.runs["run_id"]) == sorted(before["run_id"])
    assert "12/12 already finished" in capsys.readouterr().err


# --- selection against known values -----------------------------------------------------------
#: (arm, trial, seed, final_val_loss, status, diverged). Arm a's trial 1 would win on its mean
#: if a diverged seed counted; trials 0 and 2 tie, so the lower index wins. Arm b's trial 2 has
#: the best seed but a FAILED one; trial 3 finished without the metric.
KNOWN = [
    ("a", 0, 0, 0.5, "FINISHED", False),
    ("a", 0, 1, 0.7, "FINISHED", False),
    ("a", 1, 0, 0.1, "FINISHED", True),
    ("a", 1, 1, 0.2, "FINISHED", False),
    ("a", 2, 0, 0.7, "FINISHED", False),
    ("a", 2, 1, 0.5, "FINISHED", False),
    ("a", 3, 0, 0.9, "FINISHED", False),
    ("a", 3, 1, 0.8, "FINISHED", False),
    ("b", 0, 0, 0.9, "FINISHED", False),
    ("b", 0, 1, 0.9, "FINISHED", False),
    ("b", 1, 0, 0.4, "FINISHED", False),
    ("b", 1, 1, 0.5, "FINISHED", False),
    ("b", 2, 0, 0.05, "FINISHED", False),
    ("b", 2, 1, 0.05, "FAILED", False),
    ("b", 3, 0, 0.3, "FINISHED", False),
    ("b", 3, 1, None, "FINISHED", False),
]


@pytest.fixture(scope="module")
def known_runs(tmp_path_factory) -> pd.DataFrame:
    """The runs table of a hand-written store holding ``KNOWN`` under one parent."""
    folder = tmp_path_factory.mktemp("known")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("known", artifact_location=(folder / "a").as_uri())
    parent = client.create_run(experiment, tags={"optlab.role": "sweep"}).info.run_id
    for arm, trial, seed, value, status, diverged in KNOWN:
        tags = {"mlflow.parentRunId": parent, "phase": "tune", "arm": arm, "trial": str(trial)}
        tags["optlab.diverged"] = str(diverged).lower()
        run_id = client.create_run(experiment, tags=tags).info.run_id
        metrics = [Metric("final_val_loss", value, 0, 0)] if value is not None else []
        params = [Param("seed", str(seed)), Param("optimizer.lr", str(0.1 * (trial + 1)))]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("x", "y")])
        client.set_terminated(run_id, status)
    return load_study("known", sweep=parent, tracking_uri=uri).runs


def test_selection_picks_the_best_mean_and_scores_bad_runs_infinite(known_runs):
    runs = to_phase_runs(known_runs, "tune")
    scores = to_trial_scores(runs, to_run_criterion(runs, "final_val_loss"))
    by_trial = scores.set_index(["arm", "trial"])["score"]
    assert by_trial[("a", 0)] == pytest.approx(0.6)
    for bad in [("a", 1), ("b", 2), ("b", 3)]:
        assert by_trial[bad] == math.inf, bad
    selected = select_trials(scores)
    assert selected[["arm", "trial"]].to_numpy().tolist() == [["b", 1], ["a", 0]]
    assert selected["lr"].tolist() == pytest.approx([0.2, 0.1])


def test_budget_sensitivity_has_a_row_per_budget_and_can_flip(known_runs):
    runs = to_phase_runs(known_runs, "tune")
    scores = to_trial_scores(runs, to_run_criterion(runs, "final_val_loss"))
    table = to_budget_sensitivity(scores, [1, 2, 4, 16], draws=200, seed=0)
    assert table["budget"].tolist() == [1, 2, 4], "16 is more than was run"
    one = table.iloc[0]
    assert 0 < one["ranking_holds"] < 1, "one trial each: b's bad trials sometimes lose to a"
    assert table.iloc[-1][["draws", "ranking_holds", "winner_holds"]].tolist() == [1, 1.0, 1.0]


def test_time_to_target_criterion_is_the_first_step_at_the_target():
    runs = pd.DataFrame(
        {"run_id": ["r0", "r1", "r2"], "status": ["FINISHED"] * 3, "diverged": [False, False, True]}
    )
    steps = np.array([0, 10, 20, 30])
    curves = to_long_table(
        ["r0", "r1", "r2"],
        [
            {"val_loss": (steps, np.array(v))}
            for v in ([2, 1.2, 0.9, 0.8], [2, 2, 2, 2], [2, 0.5, 9, 9])
        ],
    )
    values = to_run_criterion(runs, "time_to_target", curves, target=1.0)
    assert values.tolist() == [20.0, math.inf, math.inf]


# --- the protocol's own checks -------------------------------------------------------------------
def test_protocol_refuses_overlapping_seeds_and_bad_spaces():
    arm = Arm("adagrad", {"lr": (0.01, 1.0)})
    with pytest.raises(ValueError, match="must not reuse tuning seeds"):
        Protocol(arms=(arm,), tune_seeds=(0, 1), verdict_seeds=(1, 2))
    with pytest.raises(ValueError, match="needs a perfect power"):
        space = {"lr": (1e-4, 1e-2), "decay_rate": (0.5, 0.99)}
        Protocol(arms=(Arm("rmsprop", space),), budget=8, search="grid")
    with pytest.raises(ValueError, match="time_to_target needs"):
        Protocol(arms=(arm,), criterion="time_to_target")
    with pytest.raises(ValueError, match=r"adam.lr=\[0.1, 0.01\]: needs low <= high"):
        Arm("adam", {"lr": (0.1, 0.01)})
    with pytest.raises(ValueError, match=r"adadelta.rho=\[0.5, 1.5\]: .* must be in \[0, 1\)"):
        Arm("adadelta", {"lr": (0.1, 1.0), "rho": (0.5, 1.5)})
    with pytest.raises(ValueError, match="then any of rho; got lr, decay_rate"):
        Arm("adadelta", {"lr": (0.1, 1.0), "decay_rate": (0.5, 0.9)})  # RMSprop's, not AdaDelta's
    with pytest.raises(ValueError, match="then any of beta1, beta2; got eps"):
        Arm("amsgrad", {"eps": (1e-8, 1e-6)})  # not searched, and lr is missing


def test_conf_tuning_protocols_compose_for_every_arm(tmp_path):
    """Each shipped protocol's first trial composes into a valid job for every arm."""
    for name in ("stall", "shift"):
        protocol = load_protocol(name)
        assert len(protocol.verdict_seeds) >= 5
        picks = {arm.optimizer: [0] for arm in protocol.arms}
        jobs = tune.compose_jobs(protocol, "tune", picks, [0], f"sqlite:///{tmp_path}/m.db", "p")
        assert {job.cfg.optimizer.name for job in jobs} >= {"adagrad", "rmsprop"}
        for job in jobs:
            assert job.cfg.tracking.tags["phase"] == "tune"
            assert job.cfg.tracking.parent_run_id == "p"
            assert (
                job.cfg.optimizer.lr == protocol.trials(protocol.arm(job.key[2]))[0]["optimizer.lr"]
            )


def test_extra_overrides_may_not_set_what_the_protocol_owns(capsys):
    assert tune.main(["stall", "--", "seed=3"]) == 2
    assert "the protocol sets" in capsys.readouterr().err


def test_a_protocol_searches_any_hyperparameter_its_optimizer_lets_it(tmp_path):
    """AdaDelta's ρ and AMSGrad's β2 are searched on a log scale of 1 − value, like RMSprop's α,
    with no change to the protocol's code; the trials table shows what varied."""
    path = tmp_path / "new.yaml"
    path.write_text(
        "preset: stall\noverrides: [dataset=digits]\nbudget: 4\nsearch: grid\narms:\n"
        "  adadelta: {lr: [0.1, 1.0], rho: [0.9, 0.99]}\n"
        "  amsgrad: {lr: [1.0e-3, 1.0e-2], beta2: [0.9, 0.999]}\n"
    )
    protocol = load_protocol(path)
    picks = {arm.optimizer: range(protocol.budget) for arm in protocol.arms}
    jobs = tune.compose_jobs(protocol, "tune", picks, [0], f"sqlite:///{tmp_path}/m.db", "p")
    assert len(jobs) == 8
    for job in jobs:
        trial = protocol.trials(protocol.arm(job.key[2]))[job.key[3]]
        composed = {f"optimizer.{k}": v for k, v in job.cfg.optimizer.hyperparams().items()}
        assert trial.items() <= composed.items()
    rhos = {t["optimizer.rho"] for t in protocol.trials(protocol.arm("adadelta"))}
    assert rhos == {0.9, 0.99}
    runs = pd.DataFrame(
        {
            "arm": ["adadelta"] * 2 + ["amsgrad"] * 2,
            "trial": [0, 1, 0, 1],
            "seed": [0] * 4,
            "optimizer.lr": [0.1, 0.1, 0.001, 0.01],
            "optimizer.rho": [0.9, 0.99, None, None],
            "optimizer.beta1": [None, None, 0.9, 0.9],  # not searched: the same in every trial
        }
    )
    table = to_trial_scores(runs, pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert {"lr", "rho"} <= set(table.columns) and "beta1" not in table.columns


def test_a_protocol_keeps_the_key_it_had_when_arms_had_only_lr_and_decay_rate():
    """A rerun resumes its parent run: the key hashes each arm in the fields Arm had then."""
    for name in ("stall", "shift"):
        protocol = load_protocol(name)
        then = asdict(protocol)
        then["arms"] = [
            {"optimizer": arm.optimizer, "lr": arm.space["lr"], "decay_rate": None}
            | ({"decay_rate": arm.space["decay_rate"]} if "decay_rate" in arm.space else {})
            for arm in protocol.arms
        ]
        text = json.dumps(then, sort_keys=True, default=str)
        assert protocol.key() == hashlib.sha256(text.encode()).hexdigest()[:12]
