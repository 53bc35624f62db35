"""What one training run produced, as plain numbers: what crosses from the trainer to the
study, the tracker and the report (none of which need torch to read it).

`RunResult` is the whole run (its curves); `Outcome` is how it ended, the one record of it
that the study keeps, the MLflow run shows and both tables read, field for field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


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


@dataclass(frozen=True)
class Outcome:
    """How a trial ended: its status (completed | diverged | pruned | failed) and final values
    (none for a diverged run: its last finite points are in its curve)."""

    status: str | None
    epochs_trained: int | None = None
    final_loss: float | None = None
    final_val_loss: float | None = None
    w_raw: float | None = None
    b_raw: float | None = None
    diverged_at_epoch: int | None = None

    # Which fields MLflow holds as metrics (floats); the others are tags.
    METRICS: ClassVar[tuple[str, ...]] = ("final_loss", "final_val_loss", "w_raw", "b_raw")

    @classmethod
    def of(cls, result: RunResult) -> Outcome:
        if result.status == "diverged":
            return cls(result.status, len(result.losses),
                       diverged_at_epoch=result.diverged_at_epoch)  # fmt: skip
        val = result.val_losses[-1] if result.val_losses else None
        return cls(result.status, len(result.losses), result.losses[-1], val, result.w_raw,
                   result.b_raw)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """As the study keeps it (a JSON user attribute)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Outcome:
        return cls(**{f.name: stored.get(f.name) for f in dataclasses.fields(cls)})

    def metrics(self) -> dict[str, float]:
        """The final values, as the run's MLflow metrics."""
        return {k: getattr(self, k) for k in self.METRICS if getattr(self, k) is not None}

    def tags(self) -> dict[str, str]:
        """Status and epochs, as the run's MLflow tags."""
        tags = {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in self.METRICS and getattr(self, f.name) is not None}  # fmt: skip
        if self.status == "pruned":
            tags["pruned_at_epoch"] = str(self.epochs_trained)
        return tags

    @classmethod
    def from_run(cls, metrics: dict[str, float], tags: dict[str, str]) -> Outcome | None:
        """Read back from a run's metrics and tags (None for a run that never ended)."""
        if "status" not in tags:
            return None
        ints = {k: int(tags[k]) for k in ("epochs_trained", "diverged_at_epoch") if k in tags}
        return cls(tags["status"], **ints, **{k: metrics.get(k) for k in cls.METRICS})
