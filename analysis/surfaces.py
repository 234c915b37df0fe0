"""The 2-D test functions the trajectory figure draws contours of, written for the analysis.

Independent of the harness on purpose: the figure checks the harness's trajectories against
these formulas, not against the harness's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SURFACES", "Surface", "beale", "quadratic2d", "rosenbrock"]


def quadratic2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The textbook's elongated bowl f(x, y) = x²/20 + y², minimum 0 at (0, 0).

    >>> float(quadratic2d(np.array(2.0), np.array(1.0)))
    1.2
    """
    return x**2 / 20 + y**2


def rosenbrock(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rosenbrock's valley f(x, y) = (1 - x)² + 100 (y - x²)², minimum 0 at (1, 1).

    >>> float(rosenbrock(np.array(1.0), np.array(1.0)))
    0.0
    """
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Beale's function (1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)², min 0 at (3, 0.5).

    >>> float(beale(np.array(3.0), np.array(0.5)))
    0.0
    """
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


@dataclass(frozen=True)
class Surface:
    """A function to draw, its default view box, minimiser and whether levels are log-spaced."""

    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float]
    log_levels: bool

    def levels(self, n: int = 20) -> np.ndarray:
        """Contour levels over the view box: log-spaced for steep valleys, else linear."""
        x, y = self.grid(60)
        z = self.f(x, y)
        if self.log_levels:
            low = max(float(z.min()), 1e-3)
            return np.geomspace(low, float(z.max()), n)
        return np.linspace(float(z.min()), float(z.max()), n)

    def grid(self, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
        return np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))


SURFACES = {
    "quadratic2d": Surface(quadratic2d, (-10.0, 10.0), (-5.0, 5.0), (0.0, 0.0), False),
    "rosenbrock": Surface(rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0), True),
    "beale": Surface(beale, (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5), True),
}
