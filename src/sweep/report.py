"""A sweep as a table (rebuilt from the tracking store alone, or from the study), printed,
written as CSV, and summed up on the parent run: counts, the best trial, plots.

python -m sweep.report --experiment lr_grid [--study NAME] [--tracking-uri URI]
                       [--sort COLUMN] [--top N] [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sweep import plots
from sweep.runs import RunRecord, StoredRun

ALWAYS = ["normalization", "optimizer", "optimizer.lr", "train.epochs"]
STATUSES = ("completed", "diverged", "pruned", "failed")
TAIL = ["epochs_trained", "diverged_at_epoch", "w_raw", "b_raw", "run_id"]


def _typed(text: str | None) -> Any:
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
    val = ["final_val_loss"] if any("final_val_loss" in r.metrics for r in children) else []
    columns = ["trial", "status", "final_loss", *val, *dict.fromkeys([*keys, *ALWAYS]), *TAIL]
    rows = []
    for run in children:
        row = {
            "trial": int(run.tags.get("optuna.trial_number", -1)),
            "status": run.tags.get("status"),
            "final_loss": run.metrics.get("final_loss"),
            **{k: run.metrics.get(k) for k in val},
            "epochs_trained": _typed(run.tags.get("epochs_trained")),
            "diverged_at_epoch": _typed(run.tags.get("diverged_at_epoch")),
            "w_raw": run.metrics.get("w_raw"),
            "b_raw": run.metrics.get("b_raw"),
            "run_id": run.run_id,
        }
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


def parent_artifacts(frame: pd.DataFrame, best_curves: dict[str, list[float]]) -> dict[str, bytes]:
    """summary.csv, final loss against learning rate per normalization, best curves overlaid."""
    finished = frame[frame["final_loss"].notna()]
    series = {}
    for norm, group in finished.groupby("normalization"):
        best = group.groupby("optimizer.lr")["final_loss"].min()
        series[str(norm)] = (best.index.tolist(), best.tolist())
    return {
        "summary.csv": frame.to_csv(index=False).encode(),
        "final_loss_vs_lr.png": plots.final_loss_vs_lr(series),
        "best_curves.png": plots.loss_curve("Best trials", best_curves),
    }


def parent_record(
    name: str, frame: pd.DataFrame, best_curves: dict[str, list[float]], by: str, keys: list[str]
) -> RunRecord:
    """What a sweep's parent holds once trials are done: the table and plots, counts by status,
    and the best trial (by `by`): its values as metrics, its settings as tags (params cannot
    change, and a later summary may name another best)."""
    record = RunRecord(name, artifacts=parent_artifacts(frame, best_curves))
    counts = frame["status"].value_counts()
    record.metrics = {f"n_{s}": float(counts.get(s, 0)) for s in STATUSES}
    completed = frame[frame["status"] == "completed"]
    if len(completed):
        top = completed.iloc[0]
        for key in dict.fromkeys(("final_loss", by, "w_raw", "b_raw")):
            record.metrics[f"best_{key}"] = float(top[key])
        record.tags = {"best.trial": str(top["trial"]), "best.run_id": str(top["run_id"])}
        record.tags |= {f"best.{k}": str(top[k]) for k in dict.fromkeys([*keys, *ALWAYS])}
    return record


def write_summary(
    frame: pd.DataFrame, output_dir: str, by: str, importances: dict[str, float]
) -> Path:
    """The sweep's table as `summary.csv` in the job's output directory, and printed (the best
    first, by `by`), with the importances a search found."""
    path = Path(output_dir) / "summary.csv"
    frame.to_csv(path, index=False)
    print(summary_text(frame, by=by))
    if importances:
        shares = ", ".join(f"{k} {v:.3f}" for k, v in importances.items())
        print(f"Parameter importances (Optuna, fANOVA): {shares}")
    return path


def load(tracker: Any, study: str | None) -> tuple[pd.DataFrame, StoredRun]:
    """The table of a sweep's children, and its parent run (the latest one if not named)."""
    tags = {"sweep.role": "parent"} | ({"optuna.study": study} if study else {})
    parents = tracker.find_runs(**tags)
    if not parents:
        raise LookupError(f"no sweep{f' {study!r}' if study else ''} in this experiment")
    parent = max(parents, key=lambda r: r.tags.get("sweep.started", ""))
    children = tracker.find_runs(**{"mlflow.parentRunId": parent.run_id})
    keys = json.loads(parent.tags.get("sweep.space_keys", "[]"))
    return table(children, keys), parent


def main(argv: list[str] | None = None) -> None:
    from sweep.defaults import mlflow_defaults

    mlflow_defaults()
    parser = argparse.ArgumentParser(prog="python -m sweep.report", description=__doc__)
    parser.add_argument("--experiment", default="sweep", help="MLflow experiment name")
    parser.add_argument("--study", help="study name (default: the latest sweep)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--sort", help="column to sort by (default: final_loss)")
    parser.add_argument("--top", type=int, default=10, help="rows to show; 0 for all")
    parser.add_argument("--csv", help="also write the whole table to this file")
    args = parser.parse_args(argv)
    from sweep.config import ConfigError
    from sweep.errors import one_line
    from sweep.tracking import Tracker

    uri = args.tracking_uri or "sqlite:///mlflow.db"
    try:
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            raise ConfigError("--tracking-uri", f"no MLflow store at {uri}")
        tracker = Tracker(uri, args.experiment, create=False)
        frame, parent = load(tracker, args.study)
        if args.sort and args.sort not in frame.columns:
            allowed = ", ".join(frame.columns)
            raise ConfigError("--sort", f"unknown column '{args.sort}'; allowed: {allowed}")
    except (ConfigError, LookupError) as ex:
        print(f"error: {one_line(ex)}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.sort:
        frame = frame.sort_values(args.sort, kind="stable").reset_index(drop=True)
    print(f"Sweep {parent.tags.get('optuna.study')} (parent run {parent.run_id})")
    print(summary_text(frame, args.top))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"Table written to {args.csv}")


if __name__ == "__main__":
    main()
