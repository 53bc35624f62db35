"""What one training run produced, as plain numbers: what crosses from the trainer to the
study, the tracker and the report (none of which need torch to read it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RunResult:
    status: str  # completed | diverged | pruned
    losses: list[float]  # one per epoch trained, all finite
    val_losses: list[float] | None
    w: float | None = None
    b: float | None = None
    w_raw: float | None = None
    b_raw: float | None = None
    diverged_at_epoch: int | None = None
