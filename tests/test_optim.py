"""Optimizer conformance and closed forms (the lecture's RMSprop reference is in test_train.py)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from harness.core.config import OPTIMIZER_CONFIGS, Config, ConfigError
from harness.core.optim import (
    OPTIMIZERS,
    SGD,
    AdaDelta,
    Adagrad,
    Adam,
    AMSGrad,
    FlatDict,
    Momentum,
    Nesterov,
    RMSprop,
)
from harness.tracking.sink import label, run_name
from harness.tracking.store import PROJECT_ROOT


# --- each rule in plain numpy, the reference the optimizers are checked against bit for bit ----
# (lr=0.01 and the class defaults otherwise; ``s`` starts with zeros for each state name)
def sgd_rule(p, g, s, t):
    p -= 0.01 * g


def momentum_rule(p, g, s, t):
    s["v"] = 0.9 * s["v"] - 0.01 * g
    p += s["v"]


def nesterov_rule(p, g, s, t):
    s["v"] = 0.9 * s["v"] - 0.01 * g
    p += 0.9 * s["v"] - 0.01 * g


def adagrad_rule(p, g, s, t):
    s["h"] += g * g
    p -= 0.01 * g / (np.sqrt(s["h"]) + 1e-7)


def rmsprop_rule(p, g, s, t):
    s["h"] *= 0.99
    s["h"] += (1 - 0.99) * g * g
    p -= 0.01 * g / (np.sqrt(s["h"]) + 1e-7)


def adadelta_rule(p, g, s, t):
    """torch.optim.Adadelta (rho=0.9, eps=1e-6), its _single_tensor_adadelta step by step."""
    s["square_avg"] = s["square_avg"] * 0.9 + (1 - 0.9) * g * g  # mul_(rho).addcmul_(g, g, 1-rho)
    std = np.sqrt(s["square_avg"] + 1e-6)  # add(eps).sqrt_(): eps inside the root
    delta = np.sqrt(s["acc_delta"] + 1e-6) / std * g  # E[Δx²] from before this update
    s["acc_delta"] = s["acc_delta"] * 0.9 + (1 - 0.9) * delta * delta
    p += -0.01 * delta  # add_(delta, alpha=-lr)


def adam_rule(p, g, s, t):
    s["m"] = 0.9 * s["m"] + (1 - 0.9) * g
    s["v"] = 0.999 * s["v"] + (1 - 0.999) * g * g
    p -= 0.01 * (s["m"] / (1 - 0.9**t)) / (np.sqrt(s["v"] / (1 - 0.999**t)) + 1e-8)


def amsgrad_rule(p, g, s, t):
    """torch.optim.Adam(amsgrad=True), its _single_tensor_adam step by step."""
    s["m"] = s["m"] * 0.9 + (1 - 0.9) * g
    s["v"] = s["v"] * 0.999 + (1 - 0.999) * g * g  # mul_(beta2).addcmul_(g, g, 1-beta2)
    s["v_max"] = np.maximum(s["v_max"], s["v"])  # the max of the raw v, not of v̂
    denom = np.sqrt(s["v_max"]) / math.sqrt(1 - 0.999**t) + 1e-8  # corrected at today's t
    step_size = 0.01 / (1 - 0.9**t)
    p += -step_size * (s["m"] / denom)  # addcdiv_(m, denom, value=-step_size)


@dataclass(frozen=True)
class Row:
    """What the conformance tests need of one optimizer."""

    quadratic: dict  # hyperparameters that reach the quadratic's minimizer in 3000 steps
    rosenbrock: dict  # and Rosenbrock's in 30000
    rule: Callable  # the update in plain numpy at lr=0.01, defaults otherwise


#: One row per registered optimizer: a registry entry without a row fails by name.
CONFORMANCE = {
    "sgd": Row(dict(lr=0.1), dict(lr=1e-3), sgd_rule),
    "momentum": Row(dict(lr=0.05, momentum=0.9), dict(lr=2e-4, momentum=0.9), momentum_rule),
    "nesterov": Row(dict(lr=0.05, momentum=0.9), dict(lr=2e-4, momentum=0.9), nesterov_rule),
    "adagrad": Row(dict(lr=0.5), dict(lr=0.5), adagrad_rule),
    "rmsprop": Row(dict(lr=0.01, decay_rate=0.9), dict(lr=1e-3, decay_rate=0.99), rmsprop_rule),
    # eps sets AdaDelta's step near a minimum (√eps/√eps·lr·g): 1e-4 with lr below 2/curvature
    "adadelta": Row(
        dict(lr=0.1, rho=0.9, eps=1e-4), dict(lr=1.5e-3, rho=0.9, eps=1e-4), adadelta_rule
    ),
    "adam": Row(dict(lr=0.05), dict(lr=0.02), adam_rule),
    "amsgrad": Row(dict(lr=0.05), dict(lr=0.02), amsgrad_rule),
}


def test_every_registered_optimizer_has_a_conformance_row():
    missing, extra = set(OPTIMIZERS) - set(CONFORMANCE), set(CONFORMANCE) - set(OPTIMIZERS)
    assert not missing, f"add a row to CONFORMANCE for: {sorted(missing)}"
    assert not extra, f"CONFORMANCE rows for no registered optimizer: {sorted(extra)}"


def quadratic(params):
    """f = ½ Σ aᵢ wᵢ² with a badly conditioned diagonal, minimum at 0."""
    a = np.array([1.0, 10.0, 0.1, 3.0])
    w = params["w"]
    return 0.5 * float(np.sum(a * w * w)), {"w": a * w}


def rosenbrock(params):
    x, y = params["xy"]
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, {"xy": grad}


def run(name, settings, objective, start, steps):
    opt = OPTIMIZERS[name](**settings)
    params = {k: np.array(v, dtype=float) for k, v in start.items()}
    for _ in range(steps):
        _, grads = objective(params)
        opt.update(params, grads)
    return params, opt


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_reaches_the_minimizer_of_a_convex_quadratic(name):
    start = {"w": [1.0, -2.0, 3.0, 0.5]}
    params, _ = run(name, CONFORMANCE[name].quadratic, quadratic, start, 3000)
    np.testing.assert_allclose(params["w"], 0.0, atol=2e-2)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_reaches_the_minimizer_of_rosenbrock(name):
    params, _ = run(name, CONFORMANCE[name].rosenbrock, rosenbrock, {"xy": [-1.2, 1.0]}, 30000)
    np.testing.assert_allclose(params["xy"], [1.0, 1.0], atol=5e-2)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_shapes_dtypes_and_finite_state(name, dtype):
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 4)).astype(dtype), "b": np.zeros(4, dtype=dtype)}
    ids = {k: id(v) for k, v in params.items()}
    opt = OPTIMIZERS[name](lr=0.01)
    for _ in range(20):
        grads = {k: rng.normal(size=v.shape).astype(dtype) for k, v in params.items()}
        opt.update(params, grads)
    for key, value in params.items():
        assert id(value) == ids[key], "update must be in place"
        assert value.dtype == dtype and value.shape == {"W": (3, 4), "b": (4,)}[key]
    for buffers in (opt.state or {}).values():
        for value in buffers.values():
            assert np.isfinite(value).all()
    assert all(np.isfinite(v) for v in opt.internals().values())


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_is_deterministic_and_flat_path_equals_dict_path(name):
    rng = np.random.default_rng(1)
    start = {"W": rng.normal(size=(5, 3)), "b": rng.normal(size=3)}
    grads_seq = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(30)]

    def final(flat: bool):
        params = FlatDict.from_arrays(start) if flat else {k: v.copy() for k, v in start.items()}
        opt = OPTIMIZERS[name](lr=0.01)
        for grads in grads_seq:
            opt.update(params, FlatDict.from_arrays(grads) if flat else grads)
        return {k: np.array(v) for k, v in params.items()}, opt.internals()

    dict_params, dict_internals = final(flat=False)
    flat_params, flat_internals = final(flat=True)
    again, _ = final(flat=True)
    for key in start:
        np.testing.assert_array_equal(flat_params[key], dict_params[key])
        np.testing.assert_array_equal(flat_params[key], again[key])
    assert flat_internals == pytest.approx(dict_internals, rel=1e-12)


def test_adagrad_step_on_constant_gradient_is_lr_over_sqrt_t():
    g, lr, eps = -0.3, 0.1, 1e-7
    params, opt = {"w": np.zeros(1)}, Adagrad(lr=lr, eps=eps)
    for t in range(1, 101):
        before = params["w"].copy()
        opt.update(params, {"w": np.array([g])})
        moved = float(params["w"][0] - before[0])
        assert moved == pytest.approx(-lr * g / (abs(g) * np.sqrt(t) + eps), rel=1e-12)


@pytest.mark.parametrize("decay_rate", [0.5, 0.9, 0.99])
def test_rmsprop_accumulator_on_constant_gradient(decay_rate):
    g = 2.5
    opt = RMSprop(lr=0.01, decay_rate=decay_rate)
    params = {"w": np.zeros(1)}
    for t in range(1, 60):
        opt.update(params, {"w": np.array([g])})
        expected = (1 - decay_rate**t) * g * g
        assert opt.state["h"]["w"][0] == pytest.approx(expected, rel=1e-12)


def test_rmsprop_with_decay_rate_near_one_averages_like_adagrad_over_t():
    """As decay_rate → 1, h_t/(1 − decay_rate) → Σ g² (Adagrad's jar) over short horizons."""
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(50, 4))
    rms, ada = RMSprop(lr=1.0, decay_rate=1 - 1e-9), Adagrad(lr=1.0)
    p1, p2 = {"w": np.zeros(4)}, {"w": np.zeros(4)}
    for g in grads:
        rms.update(p1, {"w": g})
        ada.update(p2, {"w": g})
    np.testing.assert_allclose(rms.state["h"]["w"] / 1e-9, ada.state["h"]["w"], rtol=1e-5)


def test_adam_first_step_is_lr_times_sign_and_matches_algorithm_1():
    rng = np.random.default_rng(4)
    grads = rng.normal(size=(10, 3))
    opt, params = Adam(lr=0.01), {"w": np.zeros(3)}
    m = v = np.zeros(3)
    w = np.zeros(3)
    for t, g in enumerate(grads, start=1):
        opt.update(params, {"w": g})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        if t == 1:
            np.testing.assert_allclose(params["w"], -0.01 * np.sign(g), rtol=1e-6)
    np.testing.assert_allclose(params["w"], w, rtol=1e-12)


def test_adadeltas_step_uses_the_average_of_squared_steps_from_before_the_update():
    """Two steps on g = 2 by hand, and the logged step size is the first factor, not a later one."""
    rho, eps, g = 0.5, 1e-6, 2.0
    opt, params = AdaDelta(lr=1.0, rho=rho, eps=eps), {"w": np.zeros(1)}
    opt.update(params, {"w": np.array([g])})
    step1 = math.sqrt(0 + eps) / math.sqrt((1 - rho) * g * g + eps)  # E[Δx²] = 0 before
    assert opt.effective_lr()[0] == pytest.approx(step1, rel=1e-12)
    assert params["w"][0] == pytest.approx(-step1 * g, rel=1e-12)
    acc_delta = (1 - rho) * (step1 * g) ** 2
    opt.update(params, {"w": np.array([g])})
    square_avg = rho * (1 - rho) * g * g + (1 - rho) * g * g
    step2 = math.sqrt(acc_delta + eps) / math.sqrt(square_avg + eps)
    assert opt.effective_lr()[0] == pytest.approx(step2, rel=1e-12)
    assert opt.internals()["accumulator_mean"] == pytest.approx(square_avg, rel=1e-12)
    assert params["w"][0] == pytest.approx(-(step1 + step2) * g, rel=1e-12)


def test_amsgrad_keeps_its_largest_average_where_adam_forgets_it():
    """A burst of large gradients then small ones: Adam's step grows back, AMSGrad's does not."""
    grads = [np.array([10.0])] * 5 + [np.array([0.1])] * 200
    adam, ams = Adam(lr=0.01, beta2=0.9), AMSGrad(lr=0.01, beta2=0.9)
    pa, pm = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    for g in grads:
        adam.update(pa, {"w": g})
        ams.update(pm, {"w": g})
    v_max = ams.state["v_max"]["w"][0]
    assert v_max == pytest.approx((1 - 0.9**5) * 100, rel=1e-12)  # v after the burst
    assert v_max > ams.state["v"]["w"][0]
    assert ams.effective_lr()[0] < adam.effective_lr()[0] / 5
    first_adam, first_ams = Adam(lr=0.01), AMSGrad(lr=0.01)
    p1, p2 = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    for g in grads[:5]:  # while v only grows, AMSGrad moves as Adam does
        first_adam.update(p1, {"w": g})
        first_ams.update(p2, {"w": g})
    assert p2["w"][0] == pytest.approx(p1["w"][0], rel=1e-12)


def test_momentum_and_nesterov_match_their_formulas():
    rng = np.random.default_rng(5)
    grads = rng.normal(size=(10, 2))
    mom, nes = Momentum(lr=0.1, momentum=0.8), Nesterov(lr=0.1, momentum=0.8)
    pm, pn = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    v = np.zeros(2)
    wm, wn = np.zeros(2), np.zeros(2)
    for g in grads:
        mom.update(pm, {"w": g})
        nes.update(pn, {"w": g})
        v_old = v
        v = 0.8 * v - 0.1 * g
        wm = wm + v
        wn = wn + 0.8 * 0.8 * v_old - 1.8 * 0.1 * g  # the textbook's form of Nesterov
    np.testing.assert_allclose(pm["w"], wm, rtol=1e-12)
    np.testing.assert_allclose(pn["w"], wn, rtol=1e-12)


def test_sgd_takes_plain_floats_like_the_textbooks_2d_demo():
    params = {"x": -7.0, "y": 2.0}
    opt = SGD(lr=0.95)
    opt.update(params, {"x": -7.0 / 10, "y": 2 * 2.0})
    assert params["x"] == pytest.approx(-7.0 + 0.95 * 0.7)
    assert params["y"] == pytest.approx(2.0 - 0.95 * 4.0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_round_trip_continues_bit_identically(name):
    rng = np.random.default_rng(6)
    start = FlatDict.from_arrays({"W": rng.normal(size=(4, 4)), "b": rng.normal(size=4)})
    grads_seq = [
        FlatDict.from_arrays({"W": rng.normal(size=(4, 4)), "b": rng.normal(size=4)})
        for _ in range(100)
    ]
    straight, opt = start.copy(), OPTIMIZERS[name](lr=0.01)
    for grads in grads_seq:
        opt.update(straight, grads)

    resumed, first = start.copy(), OPTIMIZERS[name](lr=0.01)
    for grads in grads_seq[:50]:
        first.update(resumed, grads)
    saved, saved_params = first.state_dict(), resumed.copy()
    second = OPTIMIZERS[name](lr=123.0)  # hyperparameters come from the saved state
    second.load_state_dict(saved)
    for grads in grads_seq[50:]:
        second.update(saved_params, grads)
    np.testing.assert_array_equal(saved_params.flat, straight.flat)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("compiled_from", [0, 10**9], ids=["compiled", "numpy"])
def test_a_restored_optimizer_continues_a_plain_dict_bit_identically(name, compiled_from):
    rng = np.random.default_rng(10)
    start = {"W": rng.normal(size=(4, 4)), "b": rng.normal(size=4)}
    grads_seq = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(20)]
    straight, opt = {k: v.copy() for k, v in start.items()}, OPTIMIZERS[name](lr=0.01)
    resumed, first = {k: v.copy() for k, v in start.items()}, OPTIMIZERS[name](lr=0.01)
    second = OPTIMIZERS[name]()
    opt.compiled_from = first.compiled_from = second.compiled_from = compiled_from
    for grads in grads_seq:
        opt.update(straight, grads)
    for grads in grads_seq[:10]:
        first.update(resumed, grads)
    second.load_state_dict(first.state_dict())
    for grads in grads_seq[10:]:  # the per-key path, on the restored state's buffers
        second.update(resumed, grads)
    for key in start:
        np.testing.assert_array_equal(resumed[key], straight[key])


def test_a_state_dict_from_before_last_update_existed_still_restores():
    params = FlatDict.from_arrays({"w": np.ones(4)})
    grads = FlatDict.from_arrays({"w": np.full(4, 0.5)})
    opt = RMSprop(lr=0.1)
    opt.update(params, grads)
    saved = opt.state_dict()
    assert saved.pop("last_update") is not None
    restored = RMSprop()
    restored.load_state_dict(saved)
    assert "update_ratio" not in restored.internals(params)  # no Δp saved: none claimed
    twin = params.copy()
    opt.update(params, grads)
    restored.update(twin, grads)
    np.testing.assert_array_equal(twin.flat, params.flat)


def test_internals_report_adagrads_shrinking_step():
    opt, params = Adagrad(lr=0.1), FlatDict.from_arrays({"w": np.ones(1000)})
    grads = FlatDict.from_arrays({"w": np.full(1000, 0.5)})
    opt.update(params, grads)
    early = opt.internals()
    for _ in range(99):
        opt.update(params, grads)
    late = opt.internals()
    assert late["effective_lr_median"] == pytest.approx(early["effective_lr_median"] / 10, rel=1e-6)
    assert late["accumulator_mean"] == pytest.approx(100 * 0.25)
    assert early["effective_lr_p10"] <= early["effective_lr_median"] <= early["effective_lr_p90"]
    assert 0 < late["update_ratio"] < early["update_ratio"]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("flat", [True, False], ids=["flat", "per-key"])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_both_steps_equal_the_numpy_rule_bit_for_bit(name, flat, compiled):
    rng = np.random.default_rng(7)
    arrays = {"W": rng.normal(size=(30, 20)), "b": rng.normal(size=20)}
    params = FlatDict.from_arrays(arrays) if flat else {k: v.copy() for k, v in arrays.items()}
    opt = OPTIMIZERS[name](lr=0.01)
    opt.compiled_from = 0 if compiled else 10**9
    rule = CONFORMANCE[name].rule
    reference = {k: v.copy() for k, v in arrays.items()}
    state = {key: {n: np.zeros_like(v) for n in opt.state_names} for key, v in arrays.items()}
    for t in range(1, 31):
        grads = {
            k: rng.normal(size=v.shape) * 10.0 ** rng.integers(-4, 2) for k, v in arrays.items()
        }
        before = {k: v.copy() for k, v in params.items()}
        opt.update(params, FlatDict.from_arrays(grads) if flat else grads)
        for key in arrays:
            rule(reference[key], grads[key], state[key], t)
            np.testing.assert_array_equal(params[key], reference[key], err_msg=f"{key}, step {t}")
    applied = np.concatenate([(params[k] - before[k]).ravel() for k in arrays])
    norm = np.linalg.norm(np.concatenate([params[k].ravel() for k in arrays]))
    ratio = opt.internals()["update_ratio"]
    assert ratio == pytest.approx(np.linalg.norm(applied) / norm, rel=1e-9)
    assert ratio > 0


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("compiled_from", [0, 10**9], ids=["compiled", "numpy"])
def test_updates_without_recording_move_params_alike_and_leave_out_the_ratio(name, compiled_from):
    rng = np.random.default_rng(8)
    start = FlatDict.from_arrays({"W": rng.normal(size=(6, 5)), "b": rng.normal(size=5)})
    grads = [start.copy() for _ in range(4)]
    for g in grads:
        g.flat[:] = rng.normal(size=g.flat.size)
    recorded, skipped = start.copy(), start.copy()
    keep, skip = OPTIMIZERS[name](lr=0.01), OPTIMIZERS[name](lr=0.01)
    keep.compiled_from = skip.compiled_from = compiled_from
    skip.record_update = False
    for g in grads:
        keep.update(recorded, g)
        skip.update(skipped, g)
    np.testing.assert_array_equal(skipped.flat, recorded.flat)
    assert "update_ratio" in keep.internals()
    assert "update_ratio" not in skip.internals()
    assert skip.internals()["effective_lr_median"] == keep.internals()["effective_lr_median"]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compiled_and_numpy_paths_leave_the_same_state_and_internals(name):
    rng = np.random.default_rng(9)
    start = FlatDict.from_arrays({"W": rng.normal(size=(8, 5)), "b": rng.normal(size=5)})
    grads = [
        FlatDict.from_arrays({"W": rng.normal(size=(8, 5)), "b": rng.normal(size=5)})
        for _ in range(3)
    ]
    runs = []
    for compiled_from in (0, 10**9):
        params, opt = start.copy(), OPTIMIZERS[name](lr=0.01)
        opt.compiled_from = compiled_from
        for g in grads:
            opt.update(params, g)
        runs.append((opt.state or {}, opt.internals()))
    (compiled_state, compiled_internals), (numpy_state, numpy_internals) = runs
    assert compiled_internals == numpy_internals
    for buffer in numpy_state:
        np.testing.assert_array_equal(compiled_state[buffer].flat, numpy_state[buffer].flat)


def test_large_models_take_the_compiled_loop_and_small_ones_numpy():
    small, large = RMSprop(), RMSprop()
    small.update({"w": np.zeros(10)}, {"w": np.ones(10)})
    large.update({"w": np.zeros(large.compiled_from)}, {"w": np.ones(large.compiled_from)})
    assert (small._compiled, large._compiled) == (False, True)


# --- the spec: what the rest of the lab derives from each class --------------------------------
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_spec_names_every_constructor_argument_and_a_label_of_its_own(name):
    cls = OPTIMIZERS[name]
    signature = inspect.signature(cls.__init__).parameters
    assert list(cls.hyperparameters) == [p for p in signature if p != "self"]
    assert cls(**cls.defaults()).hyperparams() == cls.defaults()
    labels = [other.label for other in OPTIMIZERS.values()]
    assert cls.label and labels.count(cls.label) == 1
    assert (PROJECT_ROOT / "conf" / "optimizer" / f"{name}.yaml").is_file()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_config_refuses_each_hyperparameter_outside_its_range_in_one_line(name):
    schema = OPTIMIZER_CONFIGS[name]
    assert schema().hyperparams() == OPTIMIZERS[name].defaults()
    for key, spec in OPTIMIZERS[name].hyperparameters.items():
        for bad in (spec.low - 1, spec.high if spec.high < math.inf else "0.1"):
            with pytest.raises(ConfigError) as error:
                schema(**{key: bad})
            assert str(error.value) == f"optimizer.{key}={bad!r}: {spec.allowed()}"


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_labels_and_run_names_part_groups_by_the_hyperparameters_that_name_them(name):
    cls, schema = OPTIMIZERS[name], OPTIMIZER_CONFIGS[name]
    base = Config(optimizer=schema())
    assert label(base).startswith(cls.label)
    assert run_name(base).startswith(f"{name}-")
    for key, spec in cls.hyperparameters.items():
        other = Config(optimizer=schema(**{key: getattr(base.optimizer, key) / 2}))
        differ = (label(other) != label(base), run_name(other) != run_name(base))
        assert differ == ((spec.symbol is not None,) * 2 if key != "lr" else (False, True))
