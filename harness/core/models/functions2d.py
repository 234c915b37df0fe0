"""Two-variable test functions whose parameters are the point ``(x, y)`` itself.

These draw optimizer trajectories over contour plots. The parameters are
``{"x": 0-d array, "y": 0-d array}`` (the textbook's naming); the data arguments
``X`` and ``y`` of the ``Model`` interface are ignored. ``f`` and ``grad`` work
elementwise, so ``f(*np.meshgrid(xs, ys))`` gives the contour heights.
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from collections.abc import Iterable

import numpy as np

from harness.core.models.base import Model
from harness.core.optim.flat import FlatDict


class Function2D(Model):
    """A function ``f(x, y)`` to minimize, with a default ``start`` point and a known ``minimizer``.

    Args:
        start: initial point for ``init_params``; the class default when ``None``.
    """

    start: tuple[float, float]
    minimizer: tuple[float, float]

    def __init__(self, start: tuple[float, float] | None = None):
        if start is not None:
            coordinates = tuple(start) if isinstance(start, Iterable) else ()
            if len(coordinates) != 2 or not all(isinstance(c, numbers.Real) for c in coordinates):
                raise ValueError(f"start={start!r} is not allowed; expected a point (x, y)")
            self.start = (float(coordinates[0]), float(coordinates[1]))

    @abstractmethod
    def f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The function value, elementwise over arrays of ``x`` and ``y``."""

    @abstractmethod
    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The partial derivatives ``(df/dx, df/dy)``, elementwise."""

    def init_params(self, rng: np.random.Generator | None = None) -> FlatDict:
        """The ``start`` point as ``{"x", "y"}``; deterministic, so ``rng`` is unused."""
        x0, y0 = self.start
        return FlatDict.from_arrays({"x": np.array(x0), "y": np.array(y0)}, dtype=np.float64)

    def loss_and_grads(
        self, params: FlatDict, X: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> tuple[float, FlatDict]:
        """``f`` at the point ``params`` and its gradient (reused buffer, see ``Model``)."""
        point = params["x"], params["y"]
        grads = self._grads_like(params)
        grads["x"], grads["y"] = self.grad(*point)
        return float(self.f(*point)), grads

    def loss(
        self, params: FlatDict, X: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> float:
        """``f`` at the point ``params``."""
        return float(self.f(params["x"], params["y"]))


class Quadratic2D(Function2D):
    """The textbook's elongated bowl ``f(x, y) = x^2 / 20 + y^2``, minimal at ``(0, 0)``.

    Its curvature differs twentyfold between the axes, which makes SGD zigzag.

    >>> Quadratic2D().f(np.array([-7.0, 0.0]), np.array([2.0, 0.0])).tolist()
    [6.45, 0.0]

    Reference: Saito, *Deep Learning from Scratch*, section 6.1.
    """

    name = "quadratic2d"
    start = (-7.0, 2.0)
    minimizer = (0.0, 0.0)

    def f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x**2 / 20.0 + y**2

    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x / 10.0, 2.0 * y


class Rosenbrock(Function2D):
    """The banana valley ``f(x, y) = (a - x)^2 + b (y - x^2)^2``, minimal at ``(a, a^2)``.

    >>> model = Rosenbrock()
    >>> model.f(np.array(1.0), np.array(1.0)).item(), model.start
    (0.0, (-1.2, 1.0))

    Reference: Rosenbrock (1960), The Computer Journal 3(3).
    """

    name = "rosenbrock"
    start = (-1.2, 1.0)

    def __init__(self, a: float = 1.0, b: float = 100.0, start: tuple[float, float] | None = None):
        super().__init__(start)
        self.a, self.b = float(a), float(b)
        self.minimizer = (self.a, self.a**2)

    def f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        valley = y - x**2
        df_dx = -2.0 * (self.a - x) - 4.0 * self.b * x * valley
        df_dy = 2.0 * self.b * valley
        return df_dx, df_dy


class Beale(Function2D):
    """Beale's function, a sum of three squares that all vanish at ``(3, 0.5)``.

    ``f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.
    From the default start (1, 1.5), plain gradient descent (lr 1e-3 to 3e-2), momentum
    0.9 (lr <= 3e-3), Adagrad (lr 0.1 to 1), RMSprop with decay 0.99 (lr <= 1e-2) and
    Adam with its default betas (lr 3e-3 to 0.3) all reach the minimizer in 10,000 steps.

    >>> Beale().f(np.array(3.0), np.array(0.5)).item()
    0.0

    Reference: Beale (1958), Princeton Research Group report 25.
    """

    name = "beale"
    start = (1.0, 1.5)
    minimizer = (3.0, 0.5)
    constants = (1.5, 2.25, 2.625)

    def f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return sum((c - x + x * y**k) ** 2 for k, c in enumerate(self.constants, start=1))

    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        df_dx, df_dy = 0.0, 0.0
        for k, c in enumerate(self.constants, start=1):
            residual = c - x + x * y**k
            df_dx = df_dx + 2.0 * residual * (y**k - 1.0)
            df_dy = df_dy + 2.0 * residual * k * x * y ** (k - 1)
        return df_dx, df_dy
