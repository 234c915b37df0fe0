"""The optimizer base class: state, one flat update or a per-key loop, and internals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from harness.core.optim.flat import FlatDict, same_layout

Params = Mapping[str, np.ndarray]
#: From this many parameters on, an optimizer updates with its compiled loop. Below, its numpy
#: expressions win over a run: starting numba costs ~0.7 s per process, which a small model's
#: updates never earn back (digits MLP, 4,810 values: ~10 µs saved per update).
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
    sets ``record_update = False`` in between, which saves a write pass. Models with at least
    ``compiled_from`` parameters take the compiled loop.

    State is created on the first ``update`` call, with the parameters' keys, shapes and dtype,
    as ``FlatDict``s: ``opt.state["h"]["W1"]`` reads the accumulator of one parameter.
    When ``params`` and ``grads`` are ``FlatDict``s of one layout (the lab's models give them),
    one vectorized step covers every parameter; otherwise the step runs once per key, as in the
    lecture's loop, on the same state buffers.
    """

    state_names: tuple[str, ...] = ()
    #: Keep Δp of the next update for ``internals()["update_ratio"]``.
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
    def update(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place from ``grads``: one step of the class's rule."""
        if self.state is None:
            self._init_state(params)
        self.t += 1
        self._recorded = self.record_update
        step = self._compiled_step if self._compiled else self._step
        if same_layout(params, grads) and same_layout(params, self._delta):
            flat_state = {name: buf.flat for name, buf in self.state.items()}
            step(params.flat, grads.flat, flat_state, self._delta_for(self._delta.flat))
        else:
            for key in params:
                self._update_key(params, grads, key, step)
        self._params = params

    def _delta_for(self, delta: np.ndarray) -> np.ndarray:
        return _NOTHING if self._compiled and not self._recorded else delta

    def _update_key(self, params, grads, key: str, step) -> None:
        """The lecture's per-key path; also takes plain floats, as the textbook's 2-D demos pass."""
        key_state = {name: buf[key].reshape(-1) for name, buf in self.state.items()}
        delta = self._delta[key].reshape(-1)
        g = np.ascontiguousarray(grads[key], dtype=delta.dtype).reshape(-1)
        delta = self._delta_for(delta)
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

    def internals(self) -> dict[str, float]:
        """Stall diagnostics of the last update.

        ``effective_lr_median``/``_p10``/``_p90`` summarize the per-parameter step size over all
        parameters; ``accumulator_mean`` is the accumulator's mean (adaptive methods only);
        ``update_ratio`` is ‖Δp‖/‖p‖ (left out when the update ran with ``record_update`` off).
        Cost: one O(n) partition for the percentiles plus two dot products (percentiles by
        nearest rank). On the digits MLP (4,810 parameters) that is ~40 µs, a fifth of a training
        step, so the trainer asks every ``trainer.internals_every`` steps (default 5) and the
        curves keep the resolution a log-log slope needs.
        """
        if self.state is None or self._params is None:
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
            p = _flat_values(self._params)
            p_norm = np.sqrt(np.dot(p, p))
            out["update_ratio"] = np.sqrt(np.dot(delta, delta)) / p_norm if p_norm else np.inf
        return {k: float(v) for k, v in out.items()}

    # --- save and restore ------------------------------------------------------------------
    def hyperparams(self) -> dict[str, float]:
        """The constructor's keyword arguments, as they are now."""
        return {"lr": self.lr}

    def state_dict(self) -> dict:
        """A deep copy of everything ``load_state_dict`` needs to continue bit-identically."""
        state = layout = None
        if self.state is not None:
            state = {
                name: {k: v.copy() for k, v in buf.items()} for name, buf in self.state.items()
            }
            layout = {k: (v.shape, v.dtype.str) for k, v in self._delta.items()}
        return {"hyperparams": self.hyperparams(), "t": self.t, "state": state, "layout": layout}

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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams().items())
        return f"{type(self).__name__}({args})"


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
