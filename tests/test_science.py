"""The lecture's claims, measured: sized-down `stall` and `shift` studies through the real harness.

Each study runs as one Hydra multirun (joblib launcher) into a temporary SQLite store and is read
back with ``analysis`` exactly as the report reads it. The assertions are what the full studies
measured (README, "The studies"); where the data contradict the lecture, the test pins the
measured result and the README says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis import stats
from analysis.load import load_study

# Two sized-down sweeps (~40 s each on 2 cores): make test-long and CI run them; make demo
# measures the same claims with intervals and verdicts.
pytestmark = [pytest.mark.slow, pytest.mark.full]


def run_sweep(run_harness, folder, *overrides):
    result = run_harness(
        folder,
        "-m",
        *overrides,
        "hydra/launcher=joblib",
        f"tracking.uri=sqlite:///{folder}/mlflow.db",
        f"hydra.sweep.dir={folder}/multirun",
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return f"sqlite:///{folder}/mlflow.db"


@pytest.fixture(scope="module")
def stall_study(tmp_path_factory, run_harness):
    folder = tmp_path_factory.mktemp("stall")
    uri = run_sweep(
        run_harness,
        folder,
        "experiment=stall",
        "dataset=mnist1d",
        "optimizer=adagrad,rmsprop_a0.5,rmsprop_a0.9,rmsprop_a0.99",
        "lr_scale=1",
        "seed=0,1",
        "trainer.steps=2000",
    )
    return load_study("stall", tracking_uri=uri)


def mean_exponent_by_label(study) -> dict[str, float]:
    exponents = stats.to_decay_exponents(study.curves, study.runs)
    return exponents.groupby("label")["decay_exponent"].mean().to_dict()


def test_adagrads_effective_step_decays_like_t_to_the_minus_half(stall_study):
    assert mean_exponent_by_label(stall_study)["Adagrad"] == pytest.approx(-0.5, abs=0.15)


@pytest.mark.parametrize("label", ["RMSprop α=0.5", "RMSprop α=0.9", "RMSprop α=0.99"])
def test_rmsprops_effective_step_does_not_decay(stall_study, label):
    assert mean_exponent_by_label(stall_study)[label] >= -0.15


@pytest.fixture(scope="module")
def shift_study(tmp_path_factory, run_harness):
    folder = tmp_path_factory.mktemp("shift")
    uri = run_sweep(
        run_harness,
        folder,
        "experiment=shift",
        "optimizer=adagrad,rmsprop_a0.9",
        "dataset.shift_kind=none,scale_inputs,permute_labels",
        "lr_scale=1",
        "seed=0,1",
        "trainer.steps=2000",
        "dataset.shift_step=1000",
    )
    study = load_study("shift", tracking_uri=uri)
    return stats.to_recovery_times(study.curves, study.runs)


def recovery_by_seed(recovery, kind: str, label: str) -> np.ndarray:
    rows = recovery[(recovery["shift_kind"] == kind) & (recovery["label"] == label)]
    assert len(rows) == 2 and rows["reason"].isna().all(), rows
    return rows.sort_values("seed")["recovery_time"].to_numpy()


@pytest.mark.parametrize("kind", ["scale_inputs", "permute_labels"])
def test_adagrad_recovers_faster_than_rmsprop_at_the_base_lrs(shift_study, kind):
    """Measured against the lecture, on the digits MLP at each optimizer's base lr: back within
    10 % of the jump above the unshifted control's loss, Adagrad is faster for inputs × 0.1 and
    for permuted labels, in every seed (the demo's findings give the intervals)."""
    rmsprop = recovery_by_seed(shift_study, kind, "RMSprop α=0.9")
    adagrad = recovery_by_seed(shift_study, kind, "Adagrad")
    assert np.isfinite(adagrad).all() and np.isfinite(rmsprop).all()
    assert (adagrad < rmsprop).all()
