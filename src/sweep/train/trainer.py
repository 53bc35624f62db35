"""The lecture's autograd loop, run for K parameter rows in one graph.

`params` is one leaf of shape [2, K, 1], so `model(t_u, *params)` unpacks into a column of
w and a column of b exactly as the lecture unpacks its two scalars, and each row's loss,
gradient and update are bitwise those of the same run alone. Runs that differ only in their
number of epochs share one row (a shorter run is a prefix of a longer one). Finished,
diverged and pruned rows leave the graph. The trainer knows no tracker and no Optuna: it
returns plain numbers, and asks `on_report` (if given) which runs to stop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sweep.core.results import RunResult
from sweep.train import optimizers
from sweep.train.bookkeeping import Book, Ender, Reporter, RunSpec
from sweep.train.data import Split
from sweep.train.lecture import model


def loss_fn(t_p, t_c):
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean(-1)  # one mean per row


def training_loop(n_epochs, optimizer, params, t_u, t_c, book, val=None):
    """The lecture's loop; `book` keeps the losses and says which rows are finished."""
    for epoch in range(1, n_epochs + 1):
        if params.grad is not None:
            params.grad.zero_()
        t_p = model(t_u, *params)
        loss = loss_fn(t_p, t_c)
        if val is not None:
            with torch.no_grad():
                val_loss = loss_fn(model(val[0], *params), val[1])
            book.val_history.append(val_loss)
        loss.sum().backward()  # rows are independent: each gets its own gradient
        optimizer.step(params)  # gd: params -= learning_rate * params.grad
        book.history.append(loss.detach())
        if epoch in book.events:
            keep = book.record(epoch, params)
            if keep is not None:
                if len(keep) == 0:
                    break
                params = params[:, keep].detach().requires_grad_(True)
                t_u = t_u[keep]
                val = None if val is None else (val[0][keep], val[1])
                optimizer.keep(keep)
    return params


def train(
    runs: Sequence[RunSpec],
    optimizer: str,
    data: Split,
    report_every: int = 0,
    on_report: Reporter | None = None,
    on_end: Ender | None = None,
    report_val: bool = False,
) -> list[RunResult]:
    """Train `runs` (all with optimizer `optimizer`) on `data` as one graph; `on_end` gets each
    run's result as soon as it ends; `on_report` gets the validation loss if `report_val`."""
    keys = list(dict.fromkeys((r.normalizer, r.hparams, r.init_params) for r in runs))
    row_of = [keys.index((r.normalizer, r.hparams, r.init_params)) for r in runs]
    first = [runs[row_of.index(k)] for k in range(len(keys))]
    t_u = torch.stack([r.normalizer.apply(data.train.t_u) for r in first])
    val = None
    if data.val is not None:
        val = (torch.stack([r.normalizer.apply(data.val.t_u) for r in first]), data.val.t_c)
    params = torch.tensor([r.init_params for r in first]).T.unsqueeze(-1).contiguous()
    params.requires_grad_(True)
    step = optimizers.make(optimizer, [dict(r.hparams) for r in first])
    book = Book(runs, row_of, report_every, on_report, val is not None, on_end, report_val)
    training_loop(book.n_epochs, step, params, t_u, data.train.t_c, book, val)
    return book.results()
