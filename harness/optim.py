"""The optimizers' public names, as ``from harness.optim import RMSprop``; they live in
:mod:`harness.core.optim`."""

from harness.core.optim import *  # noqa: F403
from harness.core.optim import __all__  # noqa: F401
