"""torch.optim as a P1 side: the same update rule and hyperparameters on CPU float64 tensors."""

from __future__ import annotations

import numpy as np


def make_torch_optimizer(name: str, hyperparams: dict, tensors: list, foreach: bool):
    """The torch.optim optimizer whose update matches ``harness.core.optim``'s ``name``."""
    import torch

    lr = hyperparams["lr"]
    if name == "sgd":
        return torch.optim.SGD(tensors, lr=lr, foreach=foreach)
    if name == "momentum":
        return torch.optim.SGD(tensors, lr=lr, momentum=hyperparams["momentum"], foreach=foreach)
    if name == "adagrad":
        return torch.optim.Adagrad(
            tensors, lr=lr, eps=1e-7, initial_accumulator_value=0.0, foreach=foreach
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(
            tensors,
            lr=lr,
            alpha=hyperparams["decay_rate"],
            eps=1e-7,
            momentum=0.0,
            centered=False,
            foreach=foreach,
        )
    if name == "adam":
        betas = (hyperparams["beta1"], hyperparams["beta2"])
        return torch.optim.Adam(
            tensors, lr=lr, betas=betas, eps=hyperparams["eps"], foreach=foreach
        )
    raise ValueError(f"no torch.optim counterpart for {name!r}")


def torch_side(name: str, hyperparams: dict, params: dict, grads: dict, foreach: bool):
    """(update function, parameters as numpy views) for ``name`` run by torch.optim."""
    import torch

    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    for key, tensor in tensors.items():
        tensor.grad = torch.tensor(grads[key])
    optimizer = make_torch_optimizer(name, hyperparams, list(tensors.values()), foreach)

    def update():
        with torch.no_grad():
            optimizer.step()

    views = {key: _numpy_view(tensor) for key, tensor in tensors.items()}
    return update, views


def _numpy_view(tensor) -> np.ndarray:
    return tensor.detach().numpy()
