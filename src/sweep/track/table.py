"""A sweep as a table people read: one row per trial, best first, and its printed summary."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from sweep.core.results import Outcome
from sweep.track.runs import StoredRun

ALWAYS = ["normalization", "optimizer", "optimizer.lr", "train.epochs"]
STATUSES = ("completed", "diverged", "pruned", "failed")
TAIL = ["epochs_trained", "diverged_at_epoch", "w_raw", "b_raw", "run_id"]


def _typed(text: str | None) -> Any:
    """A param's value (MLflow keeps params as strings) as the number it was."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def table(children: list[StoredRun], keys: list[str], by: str = "final_loss") -> pd.DataFrame:
    """One row per trial, best first by `by` (the sweep's metric); pruned, diverged and
    failed trials last. `final_val_loss` is a column when some trial has one."""
    outcomes = [run.outcome or Outcome(None) for run in children]
    val = ["final_val_loss"] if any(o.final_val_loss is not None for o in outcomes) else []
    columns = ["trial", "status", "final_loss", *val, *dict.fromkeys([*keys, *ALWAYS]), *TAIL]
    rows = []
    for run, outcome in zip(children, outcomes, strict=True):
        row = {"trial": int(run.tags.get("optuna.trial_number", -1)), "run_id": run.run_id,
               **dataclasses.asdict(outcome)}  # fmt: skip
        row.update({k: _typed(run.params.get(k)) for k in columns if k not in row})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("trial", "epochs_trained", "diverged_at_epoch"):
        frame[column] = frame[column].astype("Int64")
    order = frame["status"].map({"completed": 0, "pruned": 1, "diverged": 2}).fillna(3)
    frame = frame.assign(_order=order).sort_values(["_order", by, "trial"])
    return frame.drop(columns="_order").reset_index(drop=True)


def summary_text(frame: pd.DataFrame, top: int = 10, by: str = "final_loss") -> str:
    counts = frame["status"].value_counts()
    shown_statuses = [s for s in STATUSES if s != "failed" or s in counts]
    status = ", ".join(f"{s} {int(counts.get(s, 0))}" for s in shown_statuses)
    shown = frame if top <= 0 else frame.head(top)
    body = shown.drop(columns=["run_id"]).to_string(index=False, float_format=_fmt)
    title = f"Best {len(shown)} of {len(frame)} trials (by {by.replace('_', ' ')}):"
    return f"{title}\n{body}\nStatus: {status}"


def _fmt(value: float) -> str:
    return f"{value:.6g}"
