"""Statistics on synthetic curves whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis import series as ss
from analysis import stats
from analysis.curves import to_long_table


def make_study(curves: dict[str, dict[str, tuple]], **columns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and long curves tables from ``{run_id: {metric: (steps, values)}}``.

    Every run is its own seed of group ``g`` unless ``group=[...]`` says otherwise.
    """
    run_ids = list(curves)
    n = len(run_ids)
    runs = pd.DataFrame(
        {
            "run_id": run_ids,
            "group": columns.pop("group", ["g"] * n),
            "label": columns.pop("label", ["Adagrad"] * n),
            "optimizer": columns.pop("optimizer", ["adagrad"] * n),
            "problem": columns.pop("problem", ["p"] * n),
            "seed": columns.pop("seed", range(n)),
            "status": columns.pop("status", ["FINISHED"] * n),
            "diverged": columns.pop("diverged", [False] * n),
            **columns,
        }
    )
    series = [
        {m: (np.asarray(s), np.asarray(v, dtype=float)) for m, (s, v) in c.items()}
        for c in curves.values()
    ]
    return runs, to_long_table(run_ids, series)


T = np.arange(1, 1001)


@pytest.mark.parametrize("every", [1, 10])
def test_decay_exponent_of_adagrad_step_is_minus_half(every):
    t = T[::every]
    assert ss.decay_exponent(t, 0.3 * t**-0.5) == pytest.approx(-0.5, abs=1e-9)
    assert ss.decay_exponent(t, np.full(t.shape, 0.01)) == pytest.approx(0.0, abs=1e-9)


def test_decay_exponent_uses_only_the_second_half():
    values = np.where(T < 500, 1.0, 500.0 / T)  # flat, then ∝ 1/t
    assert ss.decay_exponent(T, values) == pytest.approx(-1.0, abs=1e-9)


def test_decay_exponents_table_per_run():
    runs, curves = make_study(
        {
            "a": {"effective_lr_median": (T, 0.1 / np.sqrt(T))},
            "r": {"effective_lr_median": (T, np.full(T.shape, 0.01))},
        },
        group=["ada", "rms"],
        label=["Adagrad", "Adam"],
        optimizer=["adagrad", "adam"],
    )
    table = stats.to_decay_exponents(curves, runs).set_index("run_id")
    assert table.loc["a", "decay_exponent"] == pytest.approx(-0.5)
    assert table.loc["r", "decay_exponent"] == pytest.approx(0.0, abs=1e-12)


def test_time_to_target_lands_on_the_first_step_at_or_below():
    steps = np.arange(0, 201, 20)
    loss = 2.0 / (1 + steps / 10)  # 2, 0.667, 0.4, 0.286, ...
    assert ss.time_to_target(steps, loss, 0.4) == 40
    assert ss.time_to_target(steps, loss, 0.3) == 60
    assert ss.time_to_target(steps, loss, 0.0) == math.inf


def test_time_to_target_targets_the_best_complete_configuration_and_diverged_is_inf():
    steps = np.arange(0, 201, 20)
    fast, slow = 1.0 / (1 + steps / 10), 1.0 / (1 + steps / 40)
    runs, curves = make_study(
        {
            "fast": {"val_loss": (steps, fast)},
            "slow": {"val_loss": (steps, slow)},
            "diverged": {"val_loss": (steps[:4], fast[:4])},  # reached low losses, then blew up
        },
        group=["f", "s", "f"],
        diverged=[False, False, True],
    )
    table = stats.to_time_to_target(curves, runs, "val_loss", rel=0.5).set_index("run_id")
    target = slow[-1] * 1.5  # group f lost a seed, so s sets the bar: 1/6 × 1.5 = 0.25
    assert table["target"].eq(target).all()
    assert table.loc["fast", "time_to_target"] == 40  # 1/4 = 0.25 at step 30 → evaluated at 40
    assert table.loc["slow", "time_to_target"] == 120  # 1/4 at step 120
    assert table.loc["diverged", "time_to_target"] == math.inf


def test_time_to_target_quantile_rule():
    steps = np.arange(0, 101, 10)
    loss = {f"r{k}": 1.0 / (1 + k * steps / 10) for k in (1, 2, 3)}
    runs, curves = make_study({r: {"val_loss": (steps, v)} for r, v in loss.items()})
    table = stats.to_time_to_target(curves, runs, quantile=1.0)
    assert table["target"].iloc[0] == pytest.approx(loss["r1"][-1])  # the worst final
    assert table["time_to_target"].tolist() == [100, 50, 40]


def test_smoothing_is_trailing_and_restarts_at_the_shift():
    steps = np.arange(1, 11)
    values = np.array([4.0, 2.0, 2.0, 2.0, 2.0, 8.0, 8.0, 8.0, 8.0, 8.0])
    smoothed = ss.smooth(steps, values, window=3, reset_at=5)
    assert smoothed.tolist() == [4.0, 3.0, 8 / 3, 2.0, 2.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    assert ss.smooth(steps, np.r_[values[:5], np.inf, values[6:]], 3)[5:].tolist() == [np.inf] * 5


def test_stall_step_on_a_plateau_above_target():
    loss = np.where(T < 300, 2.0 - T / 300, 1.0)  # linear descent, then flat at 1.0
    # within 1 % of the plateau from 297 on: (1.01 - 1.0) / 1.01 < 0.01
    assert ss.stall_step(T, loss, target=0.5, window=100) == 297
    assert math.isnan(ss.stall_step(T, loss, target=1.5, window=100))  # reached the target
    assert math.isnan(ss.stall_step(T, 2.0 - T / 1000, target=0.5, window=100))  # improving


def test_stall_steps_table_uses_the_step_and_the_smoothed_train_loss():
    noisy = np.where(T < 300, 2.0 - T / 300, 1.0) * (1 + 0.01 * np.sin(T))
    good = 1.0 / np.sqrt(T) + 0.01
    runs, curves = make_study(
        {
            "stalls": {"train_loss": (T, noisy), "effective_lr_median": (T, 0.1 / np.sqrt(T))},
            "fine": {"train_loss": (T, good), "effective_lr_median": (T, 0.1 / np.sqrt(T))},
            "flat": {"train_loss": (T, noisy), "effective_lr_median": (T, np.full(T.shape, 0.1))},
        },
        group=["a", "b", "c"],
        optimizer=["adagrad", "adagrad", "adam"],
        **{"trainer.steps": [1000, 1000, 1000]},
    )
    table = stats.to_stall_steps(curves, runs).set_index("run_id")
    assert table["stalled"].to_dict() == {"stalls": 1.0, "fine": 0.0, "flat": 0.0}
    assert 300 <= table.loc["stalls", "stall_step"] <= 320  # smoothing lags by ≤ 20 steps
    assert math.isnan(table.loc["flat", "stall_step"])  # a flat loss with a steady step


def test_recovery_times_table_only_for_shifted_runs_against_their_control():
    t = np.arange(1, 301)
    jump = np.where(t <= 100, 1.0, 1.0 + np.maximum(0, 1 - (t - 100) / 50))  # back at t=150
    runs, curves = make_study(
        {
            "shifted": {"train_loss": (t, jump)},
            "control": {"train_loss": (t, np.ones(300))},
            "stationary": {"train_loss": (t, np.ones(300))},
        },
        group=["a", "c", "b"],
        seed=[0, 0, 0],
        **{
            "dataset.shift_step": [100, 100, None],
            "dataset.shift_kind": ["scale_inputs", "none", "scale_inputs"],
            "trainer.steps": [300, 300, 300],
        },
    )
    table = stats.to_recovery_times(curves, runs, smooth_fraction=0.0)
    assert table["run_id"].tolist() == ["shifted"]
    assert table["control_run_id"].iloc[0] == "control"
    assert table["recovery_time"].iloc[0] == 46  # jump 0.98 at step 101; ≤ 0.098 from step 146


def test_curve_ci_is_the_student_t_interval_over_seeds():
    steps = np.array([1, 2])
    runs, curves = make_study(
        {
            "s0": {"val_loss": (steps, [1.0, 1.0])},
            "s1": {"val_loss": (steps, [2.0, 1.0])},
            "s2": {"val_loss": (steps, [3.0, np.inf])},  # non-finite points are left out
        }
    )
    ci = stats.to_curve_ci(curves, runs, "val_loss").set_index("step")
    half = sps.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert ci.loc[1, "mean"] == 2.0 and ci.loc[1, "n"] == 3
    assert ci.loc[1, "hi"] - ci.loc[1, "mean"] == pytest.approx(half)
    assert ci.loc[2, "n"] == 2 and ci.loc[2, "lo"] == ci.loc[2, "hi"] == 1.0


def test_end_of_training_excludes_diverged_and_failed_from_means():
    runs, _ = make_study(
        {r: {} for r in "abcd"},
        status=["FINISHED"] * 3 + ["FAILED"],
        diverged=[False, False, True, False],
        final_val_loss=[1.0, 3.0, 100.0, 50.0],
    )
    row = stats.to_end_of_training(runs).iloc[0]
    assert row["final_val_loss_mean"] == 2.0
    assert (row["n_runs"], row["n_diverged"], row["n_failed"]) == (4, 1, 1)


def test_group_summary_median_counts_never_as_inf():
    per_run = pd.DataFrame(
        {"group": "g", "label": "L", "problem": "p", "time_to_target": [10.0, 20.0, math.inf]}
    )
    row = stats.to_group_summary(per_run, "time_to_target").iloc[0]
    assert (row["median"], row["n_inf"]) == (20.0, 1)
    assert math.isnan(row["mean"])  # never a mean of the finite ones


def test_performance_profile_ratios():
    ttt = pd.DataFrame(
        {
            "problem": ["p1", "p1", "p2", "p2"],
            "label": ["A", "B", "A", "B"],
            "group": ["a1", "b1", "a2", "b2"],
            "time_to_target": [100, 200, math.inf, 50],
        }
    )
    profile = stats.to_performance_profile(ttt, taus=[1.0, 2.0, 10.0])
    got = profile.set_index(["label", "tau"])["fraction"]
    assert got[("A", 1.0)] == 0.5 and got[("A", 10.0)] == 0.5  # A never solves p2
    assert got[("B", 1.0)] == 0.5 and got[("B", 2.0)] == 1.0
