"""Tests for harness.core.data: loaders, standardization, sampling, shifts and the mnist1d cache."""

from __future__ import annotations

import inspect
import random

import numpy as np
import pytest

import harness.core.data.digits as digits
import harness.core.data.mnist1d_local as mnist1d_local
from harness.core.data import DATASETS, Dataset, dataset_options, load_dataset

# Small options per data set so the whole table loads in well under a second.
SMALL = {
    "blobs": {"n_samples": 200, "n_classes": 4, "n_features": 3},
    "digits": {},
    "linreg": {"n_samples": 200, "n_features": 6},
    "mnist1d": {"num_samples": 200},
    "spirals": {"n_samples": 200},
}
SHAPES = {  # name -> (n_rows, n_features, n_classes)
    "blobs": (200, 3, 4),
    "digits": (1797, 64, 10),
    "linreg": (200, 6, None),
    "mnist1d": (200, 40, 10),
    "spirals": (200, 2, 2),
}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Every test gets its own empty mnist1d cache, never the user's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("OPTLAB_CACHE_DIR", str(folder))
    return folder


def load_small(name: str, **overrides) -> Dataset:
    return load_dataset(name, **{**SMALL[name], **overrides})


def toy_dataset(n_train: int = 50, n_val: int = 10, n_classes: int = 5) -> Dataset:
    """Row ``i`` of train has ``X[i, 0] == i``; val rows are numbered from ``n_train`` on."""
    rows = np.arange(n_train + n_val, dtype=np.float64)
    X = np.column_stack([rows, -rows])
    y = np.arange(n_train + n_val, dtype=np.int64) % n_classes
    return Dataset(
        name="toy",
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_val=X[n_train:],
        y_val=y[n_train:],
        n_classes=n_classes,
    )


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    for field in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# --- loaders ---------------------------------------------------------------------------------


def test_table_covers_every_registered_dataset():
    assert set(SMALL) == set(DATASETS) == set(SHAPES)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_loads_with_shapes_dtypes_and_classes(name):
    ds = load_small(name)
    n_rows, n_features, n_classes = SHAPES[name]
    assert ds.name == name
    assert ds.n_train + ds.n_val + ds.n_test == n_rows
    assert abs(ds.n_test - 0.2 * n_rows) <= (n_classes or 1)
    assert abs(ds.n_val - 0.2 * (n_rows - ds.n_test)) <= (n_classes or 1)
    assert ds.X_train.shape == (ds.n_train, n_features) == (ds.n_train, ds.n_features)
    assert ds.X_val.shape == (ds.n_val, n_features)
    assert ds.X_test.shape == (ds.n_test, n_features)
    assert ds.X_train.dtype == ds.X_val.dtype == ds.X_test.dtype == np.float64
    assert ds.n_classes == n_classes
    assert ds.shift_step is None
    if n_classes is None:
        assert ds.task == "regression"
        assert ds.y_train.dtype == ds.y_val.dtype == np.float64
    else:
        assert ds.task == "classification"
        assert ds.y_train.dtype == ds.y_val.dtype == np.int64
        assert set(np.unique(ds.y_train)) == set(range(n_classes))
        assert set(np.unique(ds.y_val)) == set(range(n_classes))
        assert set(np.unique(ds.y_test)) == set(range(n_classes))
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_val).all()


def test_the_three_parts_are_disjoint_and_test_does_not_move_with_val_fraction():
    """Test rows are drawn first, so changing val_fraction never moves a row into test."""
    a = load_dataset("spirals", n_samples=200, standardize=False, val_fraction=0.2)
    b = load_dataset("spirals", n_samples=200, standardize=False, val_fraction=0.4)
    rows = lambda X: {tuple(r) for r in X}  # noqa: E731
    assert rows(a.X_test) == rows(b.X_test)
    assert not rows(a.X_test) & (rows(a.X_train) | rows(a.X_val))
    assert not rows(a.X_train) & rows(a.X_val)


def test_mnist1d_keeps_its_own_test_part():
    from harness.core.data.mnist1d_local import cached_mnist1d, generator_args

    ds = load_dataset("mnist1d", standardize=False, num_samples=200)
    X, _ = cached_mnist1d(generator_args(200, seed=0))
    np.testing.assert_array_equal(ds.X_test, X[160:])
    with pytest.raises(ValueError, match=r"dataset.test_fraction=0.3 .*MNIST-1D keeps its own"):
        load_dataset("mnist1d", num_samples=200, test_fraction=0.3)


def test_a_shift_changes_the_test_part_too():
    ds = load_dataset("spirals", n_samples=100).with_shift(
        at_step=5, kind="scale_inputs", factor=2.0
    )
    np.testing.assert_array_equal(ds.test(4)[0], ds.X_test)
    np.testing.assert_array_equal(ds.test(5)[0], 2.0 * ds.X_test)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_deterministic_for_a_seed_and_different_across_seeds(name):
    assert_same_dataset(load_small(name, seed=3), load_small(name, seed=3))
    other = load_small(name, seed=4)
    assert not np.array_equal(load_small(name, seed=3).X_train, other.X_train)


def test_arrays_are_read_only():
    ds = load_small("blobs")
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0


def test_classification_split_is_stratified():
    ds = load_dataset("digits")
    train_share = np.bincount(ds.y_train) / ds.n_train
    val_share = np.bincount(ds.y_val) / ds.n_val
    np.testing.assert_allclose(train_share, val_share, atol=0.01)


# --- standardization -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["blobs", "digits", "mnist1d", "spirals"])
def test_train_features_are_standardized(name):
    ds = load_small(name)
    varying = ds.X_train.std(axis=0) > 0
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(ds.X_train.std(axis=0)[varying], 1.0, rtol=1e-10)
    assert not np.allclose(ds.X_val.mean(axis=0), 0.0, atol=1e-6)


def test_validation_uses_train_statistics():
    raw = load_small("blobs", standardize=False, seed=5)
    ds = load_small("blobs", seed=5)
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.X_val, (raw.X_val - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(ds.x_mean, mean)
    assert raw.x_mean is None and raw.x_std is None


def test_constant_features_stay_finite():
    ds = load_dataset("digits")
    constant = np.ptp(ds.X_train, axis=0) == 0
    assert constant.any(), "digits has blank border pixels"
    assert np.all(ds.X_train[:, constant] == 0.0)
    assert np.isfinite(ds.X_val).all()


def test_linreg_is_not_standardized_by_default_but_can_be():
    assert load_small("linreg").x_mean is None
    scaled = load_small("linreg", standardize=True)
    np.testing.assert_allclose(scaled.X_train.std(axis=0), 1.0, rtol=1e-10)


# --- linreg conditioning ---------------------------------------------------------------------


@pytest.mark.parametrize("condition_number", [10.0, 1000.0])
def test_linreg_train_covariance_has_requested_condition_number(condition_number):
    ds = load_dataset("linreg", n_samples=5000, n_features=5, condition_number=condition_number)
    eigenvalues = np.linalg.eigvalsh(np.cov(ds.X_train, rowvar=False))
    assert eigenvalues[-1] / eigenvalues[0] == pytest.approx(condition_number, rel=0.2)


def test_linreg_targets_follow_true_weights():
    ds = load_dataset("linreg", n_samples=2000, noise=0.1)
    residual = ds.y_train - ds.X_train @ ds.meta["w_star"]
    assert residual.std() == pytest.approx(0.1, rel=0.1)


# --- sample_batch ----------------------------------------------------------------------------


def test_sample_batch_is_deterministic_for_an_rng_state():
    ds = load_small("blobs")
    rng = np.random.default_rng(7)
    saved = rng.bit_generator.state
    first = ds.sample_batch(rng, 32)
    rng.bit_generator.state = saved
    again = ds.sample_batch(rng, 32)
    resumed = np.random.default_rng(0)
    resumed.bit_generator.state = saved
    for batch in (again, ds.sample_batch(resumed, 32)):
        np.testing.assert_array_equal(batch[0], first[0])
        np.testing.assert_array_equal(batch[1], first[1])


def test_sample_batch_draws_distinct_train_rows_only():
    ds = toy_dataset(n_train=50, n_val=10)
    rng = np.random.default_rng(0)
    seen = set()
    for batch_size in (1, 16, 49, 50) * 25:
        X, y = ds.sample_batch(rng, batch_size)
        rows = X[:, 0].astype(int)
        assert X.shape == (batch_size, 2) and y.shape == (batch_size,)
        assert len(set(rows)) == batch_size
        assert rows.min() >= 0 and rows.max() < ds.n_train
        np.testing.assert_array_equal(y, ds.y_train[rows])
        seen.update(rows.tolist())
    assert seen == set(range(ds.n_train))


def test_sample_batch_changes_between_calls():
    ds = toy_dataset()
    rng = np.random.default_rng(0)
    assert not np.array_equal(ds.sample_batch(rng, 10)[0], ds.sample_batch(rng, 10)[0])


@pytest.mark.parametrize("batch_size", [0, 51])
def test_sample_batch_rejects_impossible_sizes(batch_size):
    with pytest.raises(ValueError, match=f"batch_size={batch_size} .*1..50"):
        toy_dataset(n_train=50).sample_batch(np.random.default_rng(0), batch_size)


# --- shift -----------------------------------------------------------------------------------


def batches(ds: Dataset, steps, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [ds.sample_batch(rng, 16, step=step) for step in steps]


def test_permute_labels_changes_labels_from_at_step_on():
    ds = load_small("digits")
    shifted = ds.with_shift(at_step=10, kind="permute_labels", seed=2)
    permutation = np.array(shifted.shift.label_permutation)
    assert shifted.shift_step == 10 and ds.shift_step is None
    assert sorted(permutation) == list(range(10)) and np.all(permutation != np.arange(10))
    steps = [0, 9, 10, 11, 500]
    for step, (X, y), (X0, y0) in zip(
        steps, batches(shifted, steps), batches(ds, steps), strict=True
    ):
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0 if step < 10 else permutation[y0])
    np.testing.assert_array_equal(shifted.validation(9)[1], ds.y_val)
    np.testing.assert_array_equal(shifted.validation(10)[1], permutation[ds.y_val])
    np.testing.assert_array_equal(shifted.validation(10)[0], ds.X_val)


def test_scale_inputs_scales_inputs_from_at_step_on():
    ds = load_small("linreg")
    shifted = ds.with_shift(at_step=5, kind="scale_inputs", factor=10.0)
    steps = [0, 4, 5, 6, 100]
    for step, (X, y), (X0, y0) in zip(
        steps, batches(shifted, steps), batches(ds, steps), strict=True
    ):
        np.testing.assert_array_equal(X, X0 if step < 5 else 10.0 * X0)
        np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(shifted.validation(4)[0], ds.X_val)
    np.testing.assert_array_equal(shifted.validation(5)[0], 10.0 * ds.X_val)
    np.testing.assert_array_equal(shifted.validation(5)[1], ds.y_val)


def test_shift_is_seeded_and_precomputed():
    ds = load_small("blobs")
    a, b = (ds.with_shift(3, "permute_labels", seed=1) for _ in range(2))
    assert a.shift.label_permutation == b.shift.label_permutation
    assert a.validation(3)[1] is a.validation(4)[1]


def test_at_step_zero_shifts_from_the_start():
    ds = toy_dataset()
    shifted = ds.with_shift(at_step=0, kind="scale_inputs", factor=2.0)
    np.testing.assert_array_equal(shifted.validation(0)[0], 2.0 * ds.X_val)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "blobs",
            {"kind": "flip"},
            "shift.kind='flip' is not one of: permute_labels, scale",
        ),
        ("linreg", {"kind": "permute_labels"}, "shift.kind='permute_labels' needs a classif"),
        ("blobs", {"kind": "scale_inputs", "factor": 0.0}, "shift.factor=0.0"),
        ("blobs", {"kind": "scale_inputs", "at_step": -1}, "shift.at_step=-1"),
    ],
)
def test_bad_shift_raises(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_small(name).with_shift(**{"at_step": 5, **kwargs})


def test_shifting_twice_raises():
    shifted = toy_dataset().with_shift(5, "scale_inputs")
    with pytest.raises(ValueError, match="already shifts at step 5"):
        shifted.with_shift(9, "scale_inputs")


# --- mnist1d cache ---------------------------------------------------------------------------


def test_mnist1d_cache_is_reused(cache_dir, monkeypatch):
    first = load_small("mnist1d")
    (cached,) = cache_dir.glob("mnist1d-*.npz")
    mtime = cached.stat().st_mtime_ns

    def must_not_generate(args):
        raise AssertionError("regenerated although the cache holds the data")

    monkeypatch.setattr(mnist1d_local, "generate_mnist1d", must_not_generate)
    assert_same_dataset(load_small("mnist1d"), first)
    assert cached.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in cache_dir.iterdir()) == [cached.name], "no temporary files left"


def test_mnist1d_cache_key_depends_on_arguments(cache_dir):
    load_small("mnist1d", seed=0)
    load_small("mnist1d", seed=1)
    load_dataset("mnist1d", num_samples=100)
    assert len(list(cache_dir.glob("mnist1d-*.npz"))) == 3


def test_mnist1d_generation_is_deterministic(cache_dir, tmp_path, monkeypatch):
    first = load_small("mnist1d", seed=2)
    monkeypatch.setenv("OPTLAB_CACHE_DIR", str(tmp_path / "other"))
    assert_same_dataset(load_small("mnist1d", seed=2), first)


def test_mnist1d_leaves_global_rngs_untouched():
    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    load_small("mnist1d")
    numpy_after = np.random.get_state()
    assert numpy_after[0] == numpy_before[0]
    np.testing.assert_array_equal(numpy_after[1], numpy_before[1])
    assert numpy_after[2:] == numpy_before[2:]
    assert random.getstate() == python_before


def test_mnist1d_unreadable_cache_file_is_regenerated(cache_dir):
    first = load_small("mnist1d")
    (cached,) = cache_dir.glob("mnist1d-*.npz")
    cached.write_bytes(b"PK\x03\x04 half-written")
    assert_same_dataset(load_small("mnist1d"), first)
    assert mnist1d_local.read_npz(cached) is not None


# --- errors ----------------------------------------------------------------------------------


def test_unknown_name_lists_the_allowed_names():
    with pytest.raises(ValueError, match=r"dataset.name='mnist' is not one of: blobs, digits"):
        load_dataset("mnist")


def test_unknown_option_names_key_value_and_allowed_options():
    pattern = r"dataset.n_sample=10 is not an option of 'spirals'; allowed: .*n_samples, noise"
    with pytest.raises(ValueError, match=pattern):
        load_dataset("spirals", n_sample=10)


@pytest.mark.parametrize(
    ("name", "options", "key"),
    [
        ("spirals", {"n_samples": -5}, "dataset.n_samples=-5"),
        ("blobs", {"cluster_std": 0}, "dataset.cluster_std=0"),
        ("linreg", {"condition_number": 0.5}, "dataset.condition_number=0.5"),
        ("digits", {"val_fraction": 1.0}, "dataset.val_fraction=1.0"),
        ("digits", {"standardize": "no"}, "dataset.standardize='no'"),
        ("digits", {"seed": -1}, "dataset.seed=-1"),
        ("mnist1d", {"num_samples": 5}, "dataset.num_samples=5"),
    ],
)
def test_bad_option_values_name_the_key(name, options, key):
    with pytest.raises(ValueError, match=f"^{key} is not allowed; expected "):
        load_dataset(name, **options)


def test_every_loader_takes_seed_val_fraction_and_standardize():
    for name, loader in DATASETS.items():
        assert {"seed", "val_fraction"} <= set(inspect.signature(loader).parameters)
        assert "standardize" in dataset_options(name)
    assert dataset_options("linreg")["standardize"] is False


def test_digits_are_cached_and_read_back_equal_to_scikit_learns(cache_dir):
    from sklearn.datasets import load_digits as sklearn_load_digits

    first = load_dataset("digits")
    (cached,) = cache_dir.glob("digits-sklearn*.npz")
    mtime = cached.stat().st_mtime_ns
    X, y = digits.cached_digits()
    expected_X, expected_y = sklearn_load_digits(return_X_y=True)
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(y, expected_y)
    assert X.dtype == expected_X.dtype and y.dtype == expected_y.dtype
    assert_same_dataset(load_dataset("digits"), first)
    assert cached.stat().st_mtime_ns == mtime, "read back, not written again"
    cached.write_bytes(b"not an npz")
    assert_same_dataset(load_dataset("digits"), first)  # an unreadable file is replaced
