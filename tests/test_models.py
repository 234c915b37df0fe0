"""Models against references outside their code: central differences, closed forms, plain loops."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from harness.core.config import (
    DATASET_CONFIGS,
    Config,
    Function2DConfig,
    LinearConfig,
    MLPConfig,
    SoftmaxConfig,
)
from harness.core.data import DATASETS, TASKS, load_dataset
from harness.core.errors import ConfigError
from harness.core.models import (
    FUNCTION_TASK,
    MLP,
    MODEL_TASKS,
    MODELS,
    Beale,
    LinearRegression,
    Quadratic2D,
    Rosenbrock,
    SoftmaxRegression,
    build_model,
)
from harness.core.optim.flat import FlatDict

FUNCTIONS_2D = [Quadratic2D, Rosenbrock, Beale]


def numerical_gradient(loss_at, params: FlatDict, h: float = 1e-5) -> np.ndarray:
    """``(L(theta + h e_i) - L(theta - h e_i)) / 2h`` for every entry of ``params.flat``."""
    flat = params.flat
    grad = np.empty_like(flat)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        loss_plus = loss_at(params)
        flat[i] = original - h
        loss_minus = loss_at(params)
        flat[i] = original
        grad[i] = (loss_plus - loss_minus) / (2.0 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def relu_margin(model: MLP, params: FlatDict, X: np.ndarray) -> float:
    """Smallest ``|z|`` over the hidden pre-activations, recomputed with a plain loop."""
    a, margin = X, np.inf
    for layer in range(1, model.n_layers):
        z = a @ params[f"W{layer}"] + params[f"b{layer}"]
        margin = min(margin, float(np.abs(z).min()))
        a = np.maximum(z, 0.0)
    return margin


def point(x: float, y: float) -> FlatDict:
    return FlatDict.from_arrays({"x": np.array(x), "y": np.array(y)}, dtype=np.float64)


def classification_case(model, rng: np.random.Generator, n_rows: int = 7):
    X = rng.standard_normal((n_rows, model.n_features))
    y = rng.integers(0, model.n_classes, n_rows)
    return model, model.init_params(rng), X, y


def regression_case(model, rng: np.random.Generator, n_rows: int = 6):
    X = rng.standard_normal((n_rows, model.n_features))
    y = rng.standard_normal(n_rows)
    return model, model.init_params(rng), X, y


GRADIENT_CASES = {
    "quadratic2d": lambda rng: (Quadratic2D(), point(-3.0, 1.5), None, None),
    "rosenbrock-start": lambda rng: (Rosenbrock(), Rosenbrock().init_params(rng), None, None),
    "rosenbrock": lambda rng: (Rosenbrock(a=2.0, b=10.0), point(0.5, -0.3), None, None),
    "beale-start": lambda rng: (Beale(), Beale().init_params(rng), None, None),
    "beale": lambda rng: (Beale(), point(2.0, 0.2), None, None),
    "softmax": lambda rng: classification_case(SoftmaxRegression(4, 3, init_std=0.5), rng),
    "softmax-decay": lambda rng: classification_case(
        SoftmaxRegression(4, 3, weight_decay=0.1, init_std=0.5), rng
    ),
    "linear": lambda rng: regression_case(LinearRegression(3, init_std=0.5), rng),
    "linear-decay": lambda rng: regression_case(
        LinearRegression(3, weight_decay=0.2, init_std=0.5), rng
    ),
    "mlp-relu": lambda rng: classification_case(MLP(4, 3, hidden=(5,)), rng),
    "mlp-tanh": lambda rng: classification_case(MLP(4, 3, hidden=(5,), activation="tanh"), rng),
    "mlp-relu-deep-decay": lambda rng: classification_case(
        MLP(4, 3, hidden=(6, 5, 4), weight_decay=0.05), rng
    ),
    "mlp-tanh-deep-decay": lambda rng: classification_case(
        MLP(4, 3, hidden=(6, 4), activation="tanh", init="he", weight_decay=0.1), rng
    ),
    "mlp-no-hidden": lambda rng: classification_case(MLP(4, 3, hidden=()), rng),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_gradient_matches_central_differences(case):
    model, params, X, y = GRADIENT_CASES[case](np.random.default_rng(1))
    if isinstance(model, MLP) and model.activation == "relu":
        assert relu_margin(model, params, X) > 1e-3, "data too close to a ReLU kink"
    _, grads = model.loss_and_grads(params, X, y)
    analytic = grads.flat.copy()
    numeric = numerical_gradient(lambda p: model.loss_and_grads(p, X, y)[0], params)
    assert relative_error(analytic, numeric) < 1e-7
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_loss_matches_loss_and_grads(case):
    model, params, X, y = GRADIENT_CASES[case](np.random.default_rng(2))
    assert model.loss(params, X, y) == pytest.approx(model.loss_and_grads(params, X, y)[0])


def built(name: str):
    return build_model(name, n_features=4, n_classes=3)


def batch_for(name: str, rng: np.random.Generator, n_rows: int = 5):
    """A batch that fits ``built(name)``: 4 features, labels in [0, 3) or real targets."""
    X = rng.standard_normal((n_rows, 4))
    y = rng.standard_normal(n_rows) if name == "linear" else rng.integers(0, 3, n_rows)
    return X, y


@pytest.mark.parametrize("name", MODELS)
def test_grads_have_the_params_layout(name):
    model = built(name)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    loss, grads = model.loss_and_grads(params, *batch_for(name, rng))
    assert isinstance(grads, FlatDict) and isinstance(loss, float)
    assert grads.layout == params.layout
    assert [(k, v.shape) for k, v in grads.items()] == [(k, v.shape) for k, v in params.items()]
    assert grads.flat.dtype == params.flat.dtype == np.float64
    assert np.all(np.isfinite(grads.flat))


@pytest.mark.parametrize("name", MODELS)
def test_grads_buffer_is_reused_overwritten_and_tracks_params_in_place(name):
    model = built(name)
    rng = np.random.default_rng(3)
    params = model.init_params(rng)
    X, y = batch_for(name, rng)
    loss_1, grads_1 = model.loss_and_grads(params, X, y)
    first = grads_1.flat.copy()
    loss_2, grads_2 = model.loss_and_grads(params, X, y)
    assert grads_2 is grads_1 and loss_2 == loss_1
    np.testing.assert_array_equal(grads_2.flat, first)  # overwritten, not accumulated
    params.flat -= 1e-4 * first  # a small optimizer step through the buffer
    loss_3, grads_3 = model.loss_and_grads(params, X, y)
    assert loss_3 < loss_1 and not np.array_equal(grads_3.flat, first)


def test_grads_follow_a_params_layout_that_changes_between_calls():
    model = Quadratic2D()
    model.loss_and_grads(point(1.0, 1.0), None, None)
    swapped = FlatDict.from_arrays({"y": np.array(2.0), "x": np.array(-7.0)})
    _, grads = model.loss_and_grads(swapped, None, None)
    assert grads.layout == swapped.layout
    assert grads.flat.tolist() == pytest.approx([4.0, -0.7])


@pytest.mark.parametrize("name", ["softmax", "mlp", "linear"])
def test_init_is_deterministic_for_a_seed_and_differs_across_seeds(name):
    model = built(name)
    a = model.init_params(np.random.default_rng(7))
    b = model.init_params(np.random.default_rng(7))
    c = model.init_params(np.random.default_rng(8))
    np.testing.assert_array_equal(a.flat, b.flat)
    assert not np.array_equal(a.flat, c.flat)


@pytest.mark.parametrize("function", FUNCTIONS_2D)
def test_2d_init_is_the_start_point_whatever_the_seed(function):
    model = function()
    for seed in (0, 1):
        params = model.init_params(np.random.default_rng(seed))
        assert params.layout == (("x", ()), ("y", ())) and params.flat.dtype == np.float64
        assert (float(params["x"]), float(params["y"])) == model.start
    assert function(start=(0.25, -2)).init_params(None).flat.tolist() == [0.25, -2.0]


@pytest.mark.parametrize(
    ("activation", "init", "gain"),
    [("relu", "auto", 2.0), ("tanh", "auto", 1.0), ("relu", "xavier", 1.0), ("tanh", "he", 2.0)],
)
def test_init_std_follows_he_or_xavier_on_a_wide_layer(activation, init, gain):
    model = MLP(400, 10, hidden=(300,), activation=activation, init=init)
    params = model.init_params(np.random.default_rng(0))
    assert params["W1"].std() == pytest.approx(math.sqrt(gain / 400), rel=0.02)
    assert params["W2"].std() == pytest.approx(math.sqrt(gain / 300), rel=0.05)
    assert not params["b1"].any() and not params["b2"].any()


@pytest.mark.parametrize("function", FUNCTIONS_2D)
def test_2d_gradient_vanishes_and_f_is_minimal_at_the_minimizer(function):
    model = function()
    x_min, y_min = model.minimizer
    loss, grads = model.loss_and_grads(point(x_min, y_min), None, None)
    assert loss == 0.0
    np.testing.assert_allclose(grads.flat, 0.0, atol=1e-12)
    xs, ys = np.meshgrid(np.linspace(-4.5, 4.5, 61), np.linspace(-4.5, 4.5, 61))
    assert model.f(xs, ys).min() >= loss
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    assert np.all(model.f(x_min + 1e-3 * np.cos(angles), y_min + 1e-3 * np.sin(angles)) > loss)


@pytest.mark.parametrize("function", FUNCTIONS_2D)
def test_2d_f_and_grad_vectorize_over_a_meshgrid(function):
    model = function()
    xs, ys = np.meshgrid(np.linspace(-2.0, 2.0, 5), np.linspace(-1.0, 3.0, 4))
    heights = model.f(xs, ys)
    df_dx, df_dy = model.grad(xs, ys)
    assert heights.shape == df_dx.shape == df_dy.shape == xs.shape == (4, 5)
    for (i, j), x in np.ndenumerate(xs):
        loss, grads = model.loss_and_grads(point(x, ys[i, j]), None, None)
        assert heights[i, j] == pytest.approx(loss)
        assert grads.flat.tolist() == pytest.approx([df_dx[i, j], df_dy[i, j]])


def adam(model, params: FlatDict, lr: float, steps: int) -> FlatDict:
    """Adam (Kingma & Ba, 2015) with default betas, written out here as an outside reference."""
    m = np.zeros_like(params.flat)
    v = np.zeros_like(params.flat)
    for t in range(1, steps + 1):
        _, grads = model.loss_and_grads(params, None, None)
        m = 0.9 * m + 0.1 * grads.flat
        v = 0.999 * v + 0.001 * grads.flat**2
        params.flat -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return params


@pytest.mark.parametrize(
    ("function", "lr", "steps"),
    [(Quadratic2D, 0.1, 2000), (Rosenbrock, 0.02, 3000), (Beale, 0.05, 2000)],
)
def test_2d_adam_reaches_the_minimizer_from_the_default_start(function, lr, steps):
    model = function()
    params = adam(model, model.init_params(np.random.default_rng(0)), lr, steps)
    assert params.flat.tolist() == pytest.approx(model.minimizer, abs=1e-2)


@pytest.mark.parametrize("n_classes", [2, 5, 10])
def test_softmax_loss_on_uniform_logits_is_log_n_classes(n_classes):
    model = SoftmaxRegression(3, n_classes, init_std=0.0)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, n_classes, 8)
    assert model.loss(params, X, y) == pytest.approx(math.log(n_classes), rel=1e-12)
    assert model.loss_and_grads(params, X, y)[0] == pytest.approx(math.log(n_classes), rel=1e-12)


def test_softmax_loss_stays_finite_on_huge_logits():
    model = SoftmaxRegression(2, 3)
    params = FlatDict.from_arrays({"W": 1e4 * np.array([[1.0, -1.0, 0.0]] * 2), "b": np.zeros(3)})
    loss, grads = model.loss_and_grads(
        params, np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([1, 1])
    )
    assert loss == pytest.approx(2e4, rel=1e-9)  # mean of 4e4 and 0 nats
    assert np.all(np.isfinite(grads.flat))


def test_accuracy_counts_argmax_hits():
    model = SoftmaxRegression(3, 3)
    params = FlatDict.from_arrays({"W": 5.0 * np.eye(3), "b": np.zeros(3)})
    X = np.eye(3)
    assert model.accuracy(params, X, np.array([0, 1, 2])) == 1.0
    assert model.accuracy(params, X, np.array([1, 1, 1])) == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", MODELS)
def test_accuracy_is_a_fraction_for_classifiers_and_none_otherwise(name):
    model = built(name)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    X, y = batch_for(name, rng, n_rows=20)
    if name in ("softmax", "mlp"):
        assert 0.0 <= model.accuracy(params, X, y) <= 1.0
    else:
        assert model.accuracy(params, X, y) is None


def test_mlp_without_hidden_layers_is_softmax_regression():
    rng = np.random.default_rng(4)
    softmax, params, X, y = classification_case(SoftmaxRegression(4, 3, weight_decay=0.1), rng)
    mlp = MLP(4, 3, hidden=(), weight_decay=0.1)
    mlp_params = FlatDict(params.flat.copy(), (("W1", (4, 3)), ("b1", (3,))))
    loss, grads = softmax.loss_and_grads(params, X, y)
    mlp_loss, mlp_grads = mlp.loss_and_grads(mlp_params, X, y)
    assert mlp_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(mlp_grads.flat, grads.flat, rtol=1e-12)


def three_blobs(rng: np.random.Generator, per_class: int = 50):
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    X = np.concatenate([c + 0.7 * rng.standard_normal((per_class, 2)) for c in centers])
    return X, np.repeat(np.arange(3), per_class)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_descent_fits_the_mlp_to_separable_blobs(activation):
    rng = np.random.default_rng(0)
    X, y = three_blobs(rng)
    model = MLP(2, 3, hidden=(16,), activation=activation, weight_decay=1e-4)
    params = model.init_params(rng)
    initial_loss = model.loss(params, X, y)
    for _ in range(300):
        _, grads = model.loss_and_grads(params, X, y)
        params.flat -= 0.1 * grads.flat
    assert model.loss(params, X, y) < 0.2 * initial_loss
    assert model.accuracy(params, X, y) > 0.95


def test_registry_builds_every_model_under_its_name():
    assert set(MODELS) == {"quadratic2d", "rosenbrock", "beale", "softmax", "mlp", "linear"}
    for name, cls in MODELS.items():
        model = built(name)
        assert type(model) is cls and model.name == name
    mlp = build_model("mlp", n_features=5, n_classes=4, hidden=[8, 8], activation="tanh")
    assert mlp.sizes == (5, 8, 8, 4) and mlp.activation == "tanh"
    assert build_model("linear", n_features=5, n_classes=None).n_features == 5
    assert build_model("rosenbrock", b=10.0).b == 10.0


BAD_ARGUMENTS = {
    "activation": (lambda: MLP(4, 3, activation="sigmoid"), "activation='sigmoid'"),
    "hidden-zero": (lambda: MLP(4, 3, hidden=(8, 0)), "hidden=(8, 0)"),
    "hidden-negative": (lambda: MLP(4, 3, hidden=-1), "hidden=-1"),
    "hidden-string": (lambda: MLP(4, 3, hidden="64"), "hidden='64'"),
    "hidden-float": (lambda: MLP(4, 3, hidden=[8.5]), "hidden=[8.5]"),
    "init": (lambda: MLP(4, 3, init="lecun"), "init='lecun'"),
    "weight_decay": (lambda: MLP(4, 3, weight_decay=-0.1), "weight_decay=-0.1"),
    "weight_decay-nan": (lambda: LinearRegression(4, weight_decay=math.nan), "weight_decay=nan"),
    "n_features": (lambda: MLP(0, 3), "n_features=0"),
    "n_classes": (lambda: SoftmaxRegression(4, 1), "n_classes=1"),
    "n_classes-float": (lambda: MLP(4, 2.5), "n_classes=2.5"),
    "init_std": (lambda: SoftmaxRegression(4, 3, init_std=-1.0), "init_std=-1.0"),
    "start": (lambda: Rosenbrock(start=(1.0, 2.0, 3.0)), "start=(1.0, 2.0, 3.0)"),
    "start-scalar": (lambda: Beale(start=1.0), "start=1.0"),
    "model.name": (lambda: build_model("resnet"), "model.name='resnet'"),
    "model.option": (
        lambda: build_model("mlp", n_features=4, n_classes=3, depth=3),
        "model.depth=3",
    ),
    "data-shape": (lambda: build_model("softmax", n_features=4), "n_classes=None"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_raise_a_one_line_value_error_naming_them(case):
    make, expected_start = BAD_ARGUMENTS[case]
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert message.startswith(expected_start)
    assert "\n" not in message
    assert any(hint in message for hint in ("one of", "expected", "options are", "needs"))


@pytest.mark.parametrize(
    "labels",
    [np.array([0, 1, 3]), np.array([0, -1, 2]), np.array([0.0, 1.0, 2.0]), np.array([0, 1])],
)
def test_bad_labels_raise_instead_of_indexing_silently(labels):
    model, params, X, _ = classification_case(SoftmaxRegression(4, 3), np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="y"):
        model.loss_and_grads(params, X, labels)
    with pytest.raises(ValueError, match="y"):
        model.loss(params, X, labels)


def test_linear_regression_refuses_targets_that_would_broadcast():
    model, params, X, y = regression_case(LinearRegression(3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        model.loss_and_grads(params, X, y[:, None])


def test_linear_regression_gradient_descent_recovers_the_true_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = LinearRegression(3)
    params = model.init_params(rng)
    for _ in range(500):
        _, grads = model.loss_and_grads(params, X, y)
        params.flat -= 0.1 * grads.flat
    np.testing.assert_allclose(params.flat, [1.0, -2.0, 0.5, 0.3], atol=1e-6)


# --- the task each model solves, and the data it may be paired with -----------------------------

MODEL_CONFIGS = {"mlp": MLPConfig, "softmax": SoftmaxConfig, "linear": LinearConfig}
#: A small instance of every registered data set, for pairing it with models.
SMALL_DATA = {
    "blobs": {"n_samples": 60, "n_classes": 3, "n_features": 3},
    "digits": {},
    "linreg": {"n_samples": 60, "n_features": 3},
    "mnist1d": {"num_samples": 100},
    "spirals": {"n_samples": 60},
}


def test_every_model_declares_the_task_its_constructor_fits():
    """A classifier takes the class count, a 2-D function takes no data shape at all."""
    assert set(MODEL_TASKS) == set(MODELS)
    for name, task in MODEL_TASKS.items():
        takes = inspect.signature(MODELS[name]).parameters
        assert ("n_classes" in takes) == (task == "classification"), name
        assert ("n_features" in takes) == (task != FUNCTION_TASK), name
        assert task in (*TASKS, FUNCTION_TASK)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_model_is_paired_only_with_data_of_its_task(model, tmp_path, monkeypatch):
    """Every pairing a config accepts trains (finite loss and gradient on a batch of it); every
    other is refused in one line naming both keys and the data sets allowed with the model."""
    assert set(SMALL_DATA) == set(DATASETS), "a registered data set without its row here"
    monkeypatch.setenv("OPTLAB_CACHE_DIR", str(tmp_path))
    model_config = MODEL_CONFIGS.get(model, Function2DConfig)(name=model)
    accepted = []
    for dataset in [*sorted(DATASETS), "none"]:
        data_config = DATASET_CONFIGS[dataset]()
        try:
            Config(model=model_config, dataset=data_config)
        except ConfigError as error:
            assert str(error).startswith(f"dataset={dataset!r}: poses ")
            assert f"but model={model} solves {MODEL_TASKS[model]}" in str(error)
            refused_allowed = str(error).rsplit("dataset=", 1)[1].split(",")
            continue
        accepted.append(dataset)
        data = None if dataset == "none" else load_dataset(dataset, **SMALL_DATA[dataset])
        shape = {"n_features": data.n_features, "n_classes": data.n_classes} if data else {}
        built_model = build_model(model, **shape, **model_config.options())
        X, y = data.sample_batch(np.random.default_rng(0), 8) if data else (None, None)
        loss, grads = built_model.loss_and_grads(
            built_model.init_params(np.random.default_rng(0)), X, y
        )
        assert np.isfinite(loss) and np.isfinite(grads.flat).all()
    assert accepted, f"no data set fits model {model}"
    if len(accepted) < len(DATASETS) + 1:
        assert refused_allowed == accepted
