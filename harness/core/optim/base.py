"""The optimizer base class: its spec, state, one flat update or a per-key loop, and internals."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping

import numpy as np

from harness.core.optim.flat import FlatDict, same_layout
from harness.core.optim.spec import POSITIVE, Hyperparameter

Params = Mapping[str, np.ndarray]
#: From this many parameters on, an optimizer updates with its compiled loop. Below, its numpy
#: expressions win over a run: starting numba costs a fixed time per process, which a small
#: model's updates never earn back (the threshold's measurement: ``benchmarks/RESULTS.md``, P1).
COMPILED_FROM = 1 << 17
#: Passed to a compiled step as ``delta`` when Δp is not kept.
_NOTHING = np.empty(0)


class Optimizer:
    """Base class. Subclasses set ``state_names`` and implement the rule twice, bit-identically.

    ``_step(p, g, s, delta)`` and ``_compiled_step(p, g, s, delta)`` work on 1-D arrays: ``p``
    and ``g`` are parameters and gradients, ``s`` maps each name in ``state_names`` to its
    buffer. Both update ``p`` and ``s`` in place and leave the applied update Δp (the update
    ratio's numerator) in ``delta``. ``_step`` writes numpy expressions in the lecture's order
    and also uses ``delta`` as scratch space; ``_compiled_step`` runs the same arithmetic as one
    loop from ``harness.core.optim.kernels`` (one pass over memory instead of about nine) and gets
    an empty ``delta`` when Δp is not kept: a trainer that reads ``internals()`` every k steps
    passes ``update(..., record=False)`` in between, which saves a write pass. Models with at least
    ``compiled_from`` parameters take the compiled loop.

    A subclass also carries its spec (``harness.core.optim.spec``): ``label`` and a
    ``Hyperparameter`` for each keyword argument of its ``__init__``, stored under the same
    name on the instance; ``hyperparams()``, ``defaults()`` and ``group_label()`` read them.

    State is created on the first ``update`` call, with the parameters' keys, shapes and dtype,
    as ``FlatDict``s: ``opt.state["h"]["W1"]`` reads the accumulator of one parameter.
    When ``params`` and ``grads`` are ``FlatDict``s of one layout (the lab's models give them),
    one vectorized step covers every parameter; otherwise the step runs once per key, as in the
    lecture's loop, on the same state buffers.
    """

    state_names: tuple[str, ...] = ()
    #: How plots, tags and the UI name the optimizer.
    label: str = ""
    #: Each ``__init__`` keyword argument's range, search scale and whether it names a group.
    hyperparameters: dict[str, Hyperparameter] = {"lr": POSITIVE}
    #: Keep Δp for ``internals()["update_ratio"]`` when ``update`` is not told (``record``).
    record_update: bool = True
    compiled_from: int = COMPILED_FROM

    def __init__(self, lr: float = 0.01):
        self.lr = lr
        self.t = 0
        self.state: dict[str, FlatDict] | None = None
        self._delta: FlatDict | None = None
        self._work: np.ndarray | None = None
        self._compiled = self._recorded = False
        self._params: Params | None = None

    # --- the update ------------------------------------------------------------------------
    def update(self, params: Params, grads: Params, record: bool | None = None) -> None:
        """Update ``params`` in place from ``grads``: one step of the class's rule.

        ``record``: keep Δp for ``internals()["update_ratio"]`` (None: ``record_update``). The
        training loop passes it on every step, so it alone decides which steps keep Δp.
        """
        if self.state is None:
            self._init_state(params)
        self.t += 1
        self._recorded = self.record_update if record is None else record
        step = self._compiled_step if self._compiled else self._step
        # The compiled loops skip the write of Δp when given an empty ``delta``; numpy's
        # expressions need ``delta`` as scratch space either way.
        keep_delta = self._recorded or not self._compiled
        if same_layout(params, grads) and same_layout(params, self._delta):
            flat_state = {name: buf.flat for name, buf in self.state.items()}
            step(params.flat, grads.flat, flat_state, self._delta.flat if keep_delta else _NOTHING)
        else:
            for key in params:
                self._update_key(params, grads, key, step, keep_delta)
        self._params = params

    def _update_key(self, params, grads, key: str, step, keep_delta: bool) -> None:
        """The lecture's per-key path; also takes plain floats, as the textbook's 2-D demos pass."""
        key_state, delta = self._key_views[key]
        g = np.ascontiguousarray(grads[key], dtype=delta.dtype).reshape(-1)
        delta = delta if keep_delta else _NOTHING
        p = params[key]
        if isinstance(p, np.ndarray) and p.flags.c_contiguous:
            step(p.reshape(-1), g, key_state, delta)
            return
        p_copy = np.array(p, dtype=g.dtype).reshape(-1)
        step(p_copy, g, key_state, delta)
        if isinstance(p, np.ndarray):
            p[...] = p_copy.reshape(p.shape)
        else:
            params[key] = p_copy.reshape(np.shape(p))[()]

    def _step(self, p, g, s, delta) -> None:
        raise NotImplementedError

    def _compiled_step(self, p, g, s, delta) -> None:
        raise NotImplementedError

    def _init_state(self, params: Params) -> None:
        self.state = {name: FlatDict.zeros_like(params) for name in self.state_names}
        self._delta = FlatDict.zeros_like(params)
        self._work = np.zeros_like(self._delta.flat)
        # Each key's 1-D views of the state and of Δp, made once for the per-key path.
        self._key_views = {
            key: (
                {name: buf[key].reshape(-1) for name, buf in self.state.items()},
                delta.reshape(-1),
            )
            for key, delta in self._delta.items()
        }
        self._compiled = self._delta.flat.size >= self.compiled_from

    def _scratch(self, delta: np.ndarray) -> np.ndarray:
        """A preallocated buffer the size of ``delta`` (a prefix of it on the per-key path)."""
        return self._work if delta.size == self._work.size else self._work[: delta.size]

    # --- what a run logs -------------------------------------------------------------------
    def effective_lr(self) -> np.ndarray | None:
        """The per-parameter step size of the last update as a flat array (None: one scalar, lr)."""
        return None

    def accumulator(self) -> np.ndarray | None:
        """The accumulator whose growth makes a stall (h; v for Adam), flat, or None."""
        return None

    def internals(self, params: Params | None = None) -> dict[str, float]:
        """Stall diagnostics of the last update (``params``: the parameters it updated, when
        this optimizer was restored from a ``state_dict`` since).

        ``effective_lr_median``/``_p10``/``_p90`` summarize the per-parameter step size over all
        parameters; ``accumulator_mean`` is the accumulator's mean (adaptive methods only);
        ``update_ratio`` is ‖Δp‖/‖p‖ (left out when the update did not keep Δp).
        Cost: one O(n) partition for the percentiles plus two dot products (percentiles by
        nearest rank): a sizeable share of a small model's training step, so the trainer asks
        every ``trainer.internals_every`` steps (default 5) and the curves keep the resolution a
        log-log slope needs.
        """
        params = self._params if params is None else params
        if self.state is None or params is None:
            return {}
        out = {}
        eff = self.effective_lr()
        if eff is None:
            p10 = p50 = p90 = self.lr
        else:
            p10, p50, p90 = _percentiles(eff)
        out.update(effective_lr_median=p50, effective_lr_p10=p10, effective_lr_p90=p90)
        acc = self.accumulator()
        if acc is not None:
            out["accumulator_mean"] = float(acc.mean())
        if self._recorded:
            delta = self._delta.flat
            p = _flat_values(params)
            p_norm = np.sqrt(np.dot(p, p))
            out["update_ratio"] = np.sqrt(np.dot(delta, delta)) / p_norm if p_norm else np.inf
        return {k: float(v) for k, v in out.items()}

    # --- the spec --------------------------------------------------------------------------
    def hyperparams(self) -> dict[str, float]:
        """The constructor's keyword arguments, as they are now."""
        return {name: getattr(self, name) for name in self.hyperparameters}

    @classmethod
    def defaults(cls) -> dict[str, float]:
        """The constructor's defaults, read from its signature.

        >>> from harness.core.optim import RMSprop
        >>> RMSprop.defaults()
        {'lr': 0.01, 'decay_rate': 0.99, 'eps': 1e-07}
        """
        signature = inspect.signature(cls.__init__).parameters
        return {name: signature[name].default for name in cls.hyperparameters}

    @classmethod
    def group_label(cls, values: Mapping[str, float]) -> str:
        """The label of a group of runs with these hyperparameters: ``RMSprop α=0.9``.

        >>> from harness.core.optim import Adam, RMSprop
        >>> RMSprop.group_label({"decay_rate": 0.9}), Adam.group_label({"beta1": 0.5})
        ('RMSprop α=0.9', 'Adam')
        """
        named = [f"{h.symbol}={values[n]:g}" for n, h in cls.hyperparameters.items() if h.symbol]
        return " ".join([cls.label, *named])

    @classmethod
    def group_name_parts(cls, values: Mapping[str, float]) -> list[str]:
        """The run-name parts of the hyperparameters that name a group: ``["a0.9"]``."""
        return [f"{h.short}{values[n]:g}" for n, h in cls.hyperparameters.items() if h.symbol]

    # --- save and restore ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A deep copy of everything ``load_state_dict`` needs to continue bit-identically.

        Besides the state buffers and ``t``, the last Δp when it was kept (``last_update``), so
        that ``internals()`` after a restore reads what it read before the save.
        """
        state = layout = last_update = None
        if self.state is not None:
            state = {
                name: {k: v.copy() for k, v in buf.items()} for name, buf in self.state.items()
            }
            layout = {k: (v.shape, v.dtype.str) for k, v in self._delta.items()}
            if self._recorded:
                last_update = {"delta": {k: v.copy() for k, v in self._delta.items()}}
        return {
            "hyperparams": self.hyperparams(),
            "t": self.t,
            "state": state,
            "layout": layout,
            "last_update": last_update,
        }

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore hyperparameters, step count and state saved by ``state_dict``."""
        for name, value in state_dict["hyperparams"].items():
            setattr(self, name, value)
        self.t = int(state_dict["t"])
        saved = state_dict["state"]
        if saved is None:
            self.state = self._delta = None
            return
        self._init_state(
            {k: np.zeros(shape, dtype) for k, (shape, dtype) in state_dict["layout"].items()}
        )
        for name, arrays in saved.items():
            for key, value in arrays.items():
                self.state[name][key] = value
        last_update = state_dict.get("last_update")
        self._recorded = last_update is not None
        for key, value in (last_update or {"delta": {}})["delta"].items():
            self._delta[key] = value

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams().items())
        return f"{type(self).__name__}({args})"


@functools.cache
def kernels():
    """``harness.core.optim.kernels``, imported on the first update (importing numba is slow)."""
    from harness.core.optim import kernels as module

    return module


def _percentiles(values: np.ndarray) -> tuple[float, float, float]:
    """10th, 50th and 90th percentiles by nearest rank: one O(n) partition, no interpolation."""
    last = values.size - 1
    ranks = [round(0.1 * last), round(0.5 * last), round(0.9 * last)]
    part = np.partition(values, ranks)
    return part[ranks[0]], part[ranks[1]], part[ranks[2]]


def _flat_values(params: Params) -> np.ndarray:
    if isinstance(params, FlatDict):
        return params.flat
    return np.concatenate([np.ravel(v) for v in params.values()])
