"""Models: losses with gradients over parameters held in a ``FlatDict``.

``MODELS`` maps each config name (``conf/model/<name>.yaml``) to its class, ``MODEL_TASKS``
to the task it solves, and ``build_model`` makes one, passing the data set's shape to the models
that need it.
"""

from __future__ import annotations

import inspect

from harness.core.models.base import Model
from harness.core.models.functions2d import Beale, Function2D, Quadratic2D, Rosenbrock
from harness.core.models.linear import LinearRegression
from harness.core.models.mlp import MLP
from harness.core.models.softmax import SoftmaxRegression

__all__ = [
    "MODELS",
    "MODEL_TASKS",
    "FUNCTION_TASK",
    "MLP",
    "Beale",
    "Function2D",
    "LinearRegression",
    "Model",
    "Quadratic2D",
    "Rosenbrock",
    "SoftmaxRegression",
    "build_model",
]

MODELS: dict[str, type[Model]] = {
    "quadratic2d": Quadratic2D,
    "rosenbrock": Rosenbrock,
    "beale": Beale,
    "softmax": SoftmaxRegression,
    "mlp": MLP,
    "linear": LinearRegression,
}

#: The task of a 2-D test function, whose parameters are the point: it needs no data set.
FUNCTION_TASK = "function"
#: What each model solves: a job's data set must pose the same task (its loader's ``task``),
#: or be ``dataset=none`` for a ``FUNCTION_TASK``.
MODEL_TASKS: dict[str, str] = {
    "quadratic2d": FUNCTION_TASK,
    "rosenbrock": FUNCTION_TASK,
    "beale": FUNCTION_TASK,
    "softmax": "classification",
    "mlp": "classification",
    "linear": "regression",
}

DATA_SHAPE_ARGS = ("n_features", "n_classes")


def build_model(
    name: str, *, n_features: int | None = None, n_classes: int | None = None, **options
) -> Model:
    """The model registered as ``name``, built with the data shape it needs and ``options``.

    ``n_features`` and ``n_classes`` go only to models whose constructor takes them, so a
    caller can always pass the data set's shape (2-D test functions need neither).

    >>> build_model("mlp", n_features=4, n_classes=3, hidden=[16]).sizes
    (4, 16, 3)
    >>> build_model("rosenbrock", n_features=4).minimizer
    (1.0, 1.0)
    """
    if name not in MODELS:
        raise ValueError(f"model.name={name!r} is not one of {sorted(MODELS)}")
    accepted = inspect.signature(MODELS[name]).parameters
    allowed_options = sorted(set(accepted) - set(DATA_SHAPE_ARGS))
    for key, value in options.items():
        if key not in allowed_options:
            raise ValueError(
                f"model.{key}={value!r} is not an option of model {name!r}; "
                f"options are {allowed_options}"
            )
    shape = {"n_features": n_features, "n_classes": n_classes}
    needed = {key: value for key, value in shape.items() if key in accepted}
    for key, value in needed.items():
        if value is None:
            raise ValueError(f"{key}=None is not allowed; model {name!r} needs the data shape")
    return MODELS[name](**needed, **options)
