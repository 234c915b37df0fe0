"""What the rest of the lab knows about an optimizer's hyperparameters, declared on its class.

Each optimizer class sets ``label`` (how plots and the UI name it) and ``hyperparameters``, a
``Hyperparameter`` per keyword argument of its ``__init__`` (whose defaults are the defaults).
From these the lab derives the config dataclass and its checks (``harness.core.config``), run names
and labels (``harness.tracking.sink``), and the tuning protocol's search spaces
(``experiments.tuning``), so adding an optimizer never means finding those places by reading.

>>> DECAY.allows(1.0), DECAY.allowed()
(False, 'must be in [0, 1)')
>>> POSITIVE.allows(0.1), POSITIVE.allows("0.1")
(True, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter's allowed range, how a search spaces it, and whether it names a group.

    ``low < value`` (``low <= value`` when ``low_closed``) and ``value < high``. ``search`` is
    how a tuning protocol spaces its trials: ``log`` (a learning rate: 1e-3, 1e-2, 1e-1 evenly)
    or ``log1m``, a log scale of ``1 − value`` (a decay rate: 0.9, 0.99, 0.999 evenly); None:
    not searched. ``symbol`` set means the value names a group of runs: its label shows
    ``<symbol>=<value>`` (``RMSprop α=0.9``) and its run name ``<short><value>`` (``a0.9``).
    """

    low: float = 0.0
    high: float = math.inf
    low_closed: bool = False
    search: str | None = "log"
    symbol: str | None = None
    short: str | None = None

    def allowed(self) -> str:
        """What the range allows, as the config error says it."""
        if self.high == math.inf:
            return f"must be {'>=' if self.low_closed else '>'} {self.low:g}"
        return f"must be in {'[' if self.low_closed else '('}{self.low:g}, {self.high:g})"

    def allows(self, value) -> bool:
        """Whether ``value`` is a number in the range."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        return above and value < self.high

    def naming(self, symbol: str, short: str) -> Hyperparameter:
        """The same range, its value naming a group: ``RMSprop α=0.9``, ``rmsprop-a0.9``."""
        return replace(self, symbol=symbol, short=short)


#: A step size or a scale: any positive number, searched on a log scale.
POSITIVE = Hyperparameter()
#: A stabilizer added to a denominator: positive, not searched.
EPS = Hyperparameter(search=None)
#: The weight an exponential moving average keeps (momentum, α, β, ρ): [0, 1).
DECAY = Hyperparameter(0.0, 1.0, low_closed=True, search="log1m")
