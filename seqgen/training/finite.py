"""Finiteness of what training writes: a check over many tensors with one host sync, and a snapshot that
undoes an optimiser step (train.on_nonfinite=skip)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """True when every element of every floating-point tensor is finite (one device sync in all)."""
    flags = [t.detach().isfinite().all() for t in tensors if t.is_floating_point() and t.numel()]
    return bool(torch.stack(flags).all()) if flags else True


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The tensors of an optimiser's state (Adam's moments and step counts)."""
    return [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)]


class ParameterSnapshot:
    """The parameters and optimiser state before an update, to put back if the update turned out non-finite.

    Costs one copy of the parameters and of the optimiser state per step, so it is taken only in skip mode.
    State that the update created (Adam's moments at its first step) is removed again on restore."""

    def __init__(self, params: Sequence[torch.Tensor], optimizer: torch.optim.Optimizer) -> None:
        self._params = [(p, p.detach().clone()) for p in params]
        self._optimizer = optimizer
        self._state = {p: copy.deepcopy(s) for p, s in optimizer.state.items()}

    @torch.no_grad()
    def restore(self) -> None:
        for tensor, saved in self._params:
            tensor.copy_(saved)
        state = self._optimizer.state
        for p in list(state):
            if p in self._state:
                state[p] = self._state[p]
            else:
                del state[p]


def guarded_step(
    optimizer: Any, inner: torch.optim.Optimizer, params: list[torch.Tensor], *, undo: bool
) -> bool:
    """`optimizer.step()`; False when it made the weights or the optimiser state non-finite (the update is
    undone first when `undo`). A finite loss and gradient can still overflow the weights (a huge lr), and
    torch refuses a step size beyond float32 with a RuntimeError ("... without overflow"): both count.
    `inner` is the optimiser under Accelerate's wrapper (its state is what is checked and restored)."""
    before = ParameterSnapshot(params, inner) if undo else None
    try:
        optimizer.step()
        finite = all_finite([*params, *optimizer_tensors(inner)])
    except RuntimeError as e:
        if "overflow" not in str(e):
            raise
        finite = False
    optimizer.zero_grad(set_to_none=True)
    if not finite and before is not None:
        before.restore()
    return finite
