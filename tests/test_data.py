"""Tests for harness.core.data: loaders, standardization, sampling, shifts and the mnist1d cache."""

from __future__ import annotations

import dataclasses
import pickle
import random
import shutil
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

import harness.core.config
import harness.core.data.digits as digits
import harness.core.data.mnist1d_local as mnist1d_local
from harness.cli import schemas
from harness.cli.app import to_config
from harness.cli.errors import one_line
from harness.core.config import DATASET_CONFIGS, dataset_configs
from harness.core.data import DATASETS, Dataset, dataset_options, load_dataset
from harness.core.data.checks import Range
from harness.core.data.prepare import Split, build_dataset
from harness.core.data.spec import loader
from harness.core.errors import ConfigError
from harness.core.train import train
from harness.tracking.store import PROJECT_ROOT

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
    assert ds.task == DATASETS[name].task  # what the loader declares is what it loads
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
    with pytest.raises(ConfigError, match=r"^dataset.test_fraction=0.3: .*MNIST-1D keeps its own"):
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
            "shift.kind='flip': must be one of: permute_labels, scale",
        ),
        ("linreg", {"kind": "permute_labels"}, "shift.kind='permute_labels': needs a classif"),
        ("blobs", {"kind": "scale_inputs", "factor": 0.0}, "shift.factor=0.0"),
        ("blobs", {"kind": "scale_inputs", "at_step": -1}, "shift.at_step=-1"),
    ],
)
def test_bad_shift_raises(name, kwargs, message):
    with pytest.raises(ConfigError, match=message):
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
    with pytest.raises(ConfigError, match=r"dataset.name='mnist': must be one of: blobs, digits"):
        load_dataset("mnist")


def test_unknown_option_names_key_value_and_allowed_options():
    pattern = r"^dataset.n_sample=10: unknown option; allowed: .*n_samples, noise"
    with pytest.raises(ConfigError, match=pattern):
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
        ("blobs", {"n_classes": 1}, "dataset.n_classes=1"),
        ("blobs", {"n_samples": 20, "n_classes": 5}, "dataset.n_samples=20"),  # 5 a class
        ("spirals", {"noise": float("nan")}, "dataset.noise=nan"),
        ("linreg", {"n_features": 2.5}, "dataset.n_features=2.5"),
    ],
)
def test_bad_option_values_name_the_key(name, options, key):
    with pytest.raises(ConfigError, match=f"^{key}: must be "):
        load_dataset(name, **options)


def test_every_loader_takes_seed_val_fraction_and_standardize():
    for name, load in DATASETS.items():
        assert {"seed", "val_fraction", "test_fraction"} <= set(load.defaults())
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


# --- one spec per data set: the loader's signature ---------------------------------------------


@loader(task="regression")
def load_toy(
    split: Split,
    *,
    n_points: Annotated[int, Range(20)] = 60,
    slope: Annotated[float, Range(0, open=True)] = 2.0,
    standardize: bool = False,
) -> Dataset:
    """A data set written the way a contributor adds one: ``y = slope * x`` plus noise."""
    make_rng = split.make_rng()
    x = make_rng.standard_normal((n_points, 1))
    y = slope * x[:, 0] + 0.1 * make_rng.standard_normal(n_points)
    return build_dataset("toy", x, y, n_classes=None, split=split, standardize=standardize)


def compose_in(conf: Path, overrides: list[str]):
    with initialize_config_dir(version_base="1.3", config_dir=str(conf)):
        return compose(config_name="config", overrides=overrides)


def test_a_new_data_set_gets_checks_a_config_class_and_a_schema_from_its_loader(
    monkeypatch, tmp_path
):
    """The toy data set is its loader, a registry entry and a two-line YAML; nothing else."""
    monkeypatch.setitem(DATASETS, "toy", load_toy)
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    (conf / "dataset" / "toy.yaml").write_text("defaults: [toy_schema, _self_]\n")
    schemas.register()  # what `import harness.cli.schemas` does in a process that has the entry

    with pytest.raises(ConfigError, match=r"^dataset.n_points=5: must be an integer >= 20$"):
        load_dataset("toy", n_points=5)
    assert dataset_options("toy") == {"n_points": 60, "slope": 2.0, "standardize": False}
    toy_config = dataset_configs()["toy"]
    assert (toy_config().n_points, toy_config().slope) == (60, 2.0)
    with pytest.raises(ConfigError, match=r"^dataset.slope=0.0: must be a finite number > 0$"):
        toy_config(slope=0.0)

    job = ["dataset=toy", "model=linear", "trainer.steps=5", "trainer.batch_size=8"]
    cfg = to_config(compose_in(conf, job))
    assert type(cfg.dataset).__name__ == "ToyConfig" and cfg.dataset.slope == 2.0
    assert np.isfinite(train(cfg).summary["final_val_loss"])
    with pytest.raises(ConfigCompositionException) as typed:  # the schema knows the type
        compose_in(conf, [*job, "dataset.n_points=abc"])
    assert "dataset.n_points" in one_line(typed.value)
    with pytest.raises(ConfigError, match=r"^dataset.n_points=5: must be an integer >= 20$"):
        to_config(compose_in(conf, [*job, "dataset.n_points=5"]))
    with pytest.raises(ConfigError, match=r"^dataset='toy': poses regression but model=mlp"):
        to_config(compose_in(conf, [*job, "model=mlp"]))


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_loader_schema_and_yaml_agree_on_every_default(name):
    """No drift: the schema's defaults are the loader's, and so is every value its YAML writes."""
    defaults = DATASETS[name].defaults()
    schema = {f.name: f.default for f in dataclasses.fields(DATASET_CONFIGS[name])}
    assert {key: schema[key] for key in defaults} == defaults
    written = yaml.safe_load((PROJECT_ROOT / "conf" / "dataset" / f"{name}.yaml").read_text())
    assert written.pop("defaults") == [f"{name}_schema", "_self_"]
    assert written == {key: defaults[key] for key in written}
    composed = compose_in(PROJECT_ROOT / "conf", [f"dataset={name}"]).dataset
    assert {key: composed[key] for key in defaults} == defaults
    assert set(composed) - set(defaults) == {"name", "shift_step", "shift_kind", "shift_factor"}


def test_every_dataset_yaml_is_a_registered_loader_and_back():
    written = {path.stem for path in (PROJECT_ROOT / "conf" / "dataset").glob("*.yaml")}
    assert written == {*DATASETS, "none"} == set(DATASET_CONFIGS)


def test_a_default_its_own_range_refuses_fails_when_the_loader_is_declared():
    def load_bad(split: Split, *, n: Annotated[int, Range(10)] = 3) -> Dataset: ...

    with pytest.raises(ConfigError, match=r"^dataset.n=3: must be an integer >= 10$"):
        loader(task="classification")(load_bad)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_derived_config_classes_and_loaders_pickle_by_name(name):
    """Launchers that pickle a job (joblib, Slurm) find the made classes where code finds them."""
    config = DATASET_CONFIGS[name]()
    assert pickle.loads(pickle.dumps(config)) == config
    assert pickle.loads(pickle.dumps(DATASETS[name])) is DATASETS[name]
    assert getattr(harness.core.config, type(config).__name__) is type(config)
