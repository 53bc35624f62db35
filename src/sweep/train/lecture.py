"""The lecture's loop for one run, as printed in the lecture (plus a record of every loss).

It is the reference: tests check the batched trainer against it bit for bit, and
scripts/bench.py times it as the way a tutorial would train and log.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def model(t_u, w, b):
    return w * t_u + b


def loss_fn(t_p, t_c):
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()


def training_loop(
    n_epochs: int,
    learning_rate: float,
    params: torch.Tensor,
    t_u: torch.Tensor,
    t_c: torch.Tensor,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Returns the trained params and every epoch's loss (non-finite ones included)."""
    losses = []
    for epoch in range(1, n_epochs + 1):
        if params.grad is not None:
            params.grad.zero_()
        t_p = model(t_u, *params)
        loss = loss_fn(t_p, t_c)
        loss.backward()
        with torch.no_grad():
            params -= learning_rate * params.grad
        losses.append(float(loss.detach()))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    return params, losses
