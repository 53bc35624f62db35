"""What the training loop keeps: per-epoch losses, divergence, pruning, final params.

The loop appends each epoch's loss tensor without reading it; at event epochs (a run's last
epoch, or every `report_every` epochs) the book writes the pending window into one
[epochs, rows] table, finds the first non-finite epoch of each row, snapshots the params of
runs that end here, asks the reporter which runs to prune, and tells the loop which rows are
still needed. That is the only place values cross to the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from sweep.core.results import RunResult
from sweep.train.normalize import Normalizer

CHECK_EVERY = 100

# on_report(epoch, {run index: latest loss}) -> indices of runs to prune now.
Reporter = Callable[[int, dict[int, float]], set[int]]
# on_end(run index, result), as soon as a run ends, while longer runs still train.
Ender = Callable[[int, RunResult], None]


@dataclass(frozen=True)
class RunSpec:
    normalizer: Normalizer
    hparams: tuple[tuple[str, float], ...]  # optimizer settings, e.g. (("lr", 0.01),)
    epochs: int
    init_params: tuple[float, float] = (1.0, 0.0)


class Book:
    def __init__(
        self,
        runs: Sequence[RunSpec],
        row_of: Sequence[int],
        report_every: int,
        on_report: Reporter | None,
        with_val: bool,
        on_end: Ender | None = None,
        report_val: bool = False,
    ) -> None:
        self.runs, self.row_of, self.report_val = runs, row_of, report_val
        self.report_every, self.on_report, self.on_end = report_every, on_report, on_end
        n_rows = max(row_of) + 1
        self.n_epochs = max(r.epochs for r in runs)
        # A diverged row is found (and leaves the graph) within CHECK_EVERY epochs.
        every = [CHECK_EVERY, *([report_every] if report_every and on_report else [])]
        self.events = {r.epochs for r in runs}
        for step in every:
            self.events |= set(range(step, self.n_epochs + 1, step))
        self.losses = torch.full((self.n_epochs, n_rows), math.nan)
        self.val_losses = torch.full((self.n_epochs, n_rows), math.nan) if with_val else None
        self.history: list[torch.Tensor] = []
        self.val_history: list[torch.Tensor] = []
        self.active = list(range(n_rows))
        self.done = 0  # epochs already written to the tables
        self.diverged_at: dict[int, int] = {}
        self.ends: dict[int, RunResult] = {}

    def record(self, epoch: int, params: torch.Tensor) -> torch.Tensor | None:
        """Book the epochs since the last event; return the rows to keep, or None for all."""
        cols = torch.tensor(self.active)
        window = torch.stack(self.history)
        self.losses[self.done : epoch, cols] = window
        bad = ~torch.isfinite(window)
        if self.val_losses is not None:
            val_window = torch.stack(self.val_history)
            self.val_losses[self.done : epoch, cols] = val_window
            bad |= ~torch.isfinite(val_window)
            self.val_history.clear()
        self.history.clear()
        for col in bad.any(0).nonzero().flatten().tolist():
            row = self.active[col]
            self.diverged_at.setdefault(row, self.done + 1 + int(bad[:, col].int().argmax()))
        self.done = epoch
        wb = params.detach()[:, :, 0].T.tolist()
        col_of = {row: col for col, row in enumerate(self.active)}
        pending = {i: col_of[self.row_of[i]] for i in self.pending_runs()}
        for i, col in pending.items():
            row = self.row_of[i]
            if row in self.diverged_at and self.diverged_at[row] <= self.runs[i].epochs:
                self.end(i, "diverged", self.diverged_at[row] - 1)
            elif self.runs[i].epochs == epoch:
                if all(map(math.isfinite, wb[col])):
                    self.end(i, "completed", epoch, wb[col])
                else:  # the last update overflowed: the next loss would not be finite
                    self.diverged_at[row] = epoch + 1
                    self.end(i, "diverged", epoch)
        if self.on_report is not None and self.report_every and epoch % self.report_every == 0:
            reported = val_window if self.report_val else window  # the sweep's metric
            latest = {i: float(reported[-1, c]) for i, c in pending.items() if i not in self.ends}
            for i in self.on_report(epoch, latest) if latest else ():
                self.end(i, "pruned", epoch, wb[pending[i]])
        needed = {self.row_of[i] for i in self.pending_runs()}
        keep = [col for col, row in enumerate(self.active) if row in needed]
        if len(keep) == len(self.active):
            return None
        self.active = [self.active[col] for col in keep]
        return torch.tensor(keep, dtype=torch.long)

    def pending_runs(self) -> list[int]:
        return [i for i in range(len(self.runs)) if i not in self.ends]

    def end(self, i: int, status: str, n: int, wb: list[float] | None = None) -> None:
        """Run `i` ends with its first `n` losses (all booked by now)."""
        row = self.row_of[i]
        val = None if self.val_losses is None else self.val_losses[:n, row].tolist()
        result = RunResult(status, self.losses[:n, row].tolist(), val)
        if status == "diverged":
            result.diverged_at_epoch = self.diverged_at[row]
        else:
            result.w, result.b = wb
            result.w_raw, result.b_raw = self.runs[i].normalizer.to_raw(*wb)
        self.ends[i] = result
        if self.on_end is not None:
            self.on_end(i, result)

    def results(self) -> list[RunResult]:
        return [self.ends[i] for i in range(len(self.runs))]
