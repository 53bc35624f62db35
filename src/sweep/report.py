"""A sweep as a table (rebuilt from the tracking store alone, or from the study), printed,
written as CSV, and summed up on the parent run: counts, the best trial, plots.

python -m sweep.report --experiment lr_grid [--study NAME] [--tracking-uri URI]
                       [--sort COLUMN] [--top N] [--csv PATH]

Errors are one line, with the exit statuses of `python -m sweep` (sweep.core.errors).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.core.config import ConfigError
from sweep.track.runs import StoredRun
from sweep.track.table import summary_text, table

# The settings the tracking side names by their config keys, as this command's flags.
FLAGS = {"tracking.uri": "--tracking-uri", "experiment": "--experiment"}


def load(tracker: Any, study: str | None) -> tuple[pd.DataFrame, StoredRun]:
    """The table of a sweep's children, and its parent run (the latest one if not named)."""
    tags = {"sweep.role": "parent"} | ({"optuna.study": study} if study else {})
    parents = tracker.find_runs(**tags)
    if not parents:
        flag = "--study" if study else "--experiment"
        raise ConfigError(flag, f"no sweep{f' {study!r}' if study else ''} in this experiment")
    parent = max(parents, key=lambda r: r.tags.get("sweep.started", ""))
    children = tracker.find_runs(**{"mlflow.parentRunId": parent.run_id})
    keys = json.loads(parent.tags.get("sweep.space_keys", "[]"))
    return table(children, keys), parent


def main(argv: list[str] | None = None) -> None:
    from sweep.core.defaults import mlflow_defaults

    mlflow_defaults()
    parser = argparse.ArgumentParser(prog="python -m sweep.report", description=__doc__)
    parser.add_argument("--experiment", default="sweep", help="MLflow experiment name")
    parser.add_argument("--study", help="study name (default: the latest sweep)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--sort", help="column to sort by (default: final_loss)")
    parser.add_argument("--top", type=int, default=10, help="rows to show; 0 for all")
    parser.add_argument("--csv", help="also write the whole table to this file")
    args = parser.parse_args(argv)
    from sweep.core.errors import fail

    try:
        frame, parent = _load(args)
    except Exception as ex:
        fail(ex)
    if args.sort:
        frame = frame.sort_values(args.sort, kind="stable").reset_index(drop=True)
    print(f"Sweep {parent.tags.get('optuna.study')} (parent run {parent.run_id})")
    print(summary_text(frame, args.top))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"Table written to {args.csv}")


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, StoredRun]:
    from sweep.track.tracker import Tracker

    uri = args.tracking_uri or "sqlite:///mlflow.db"
    try:
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            raise ConfigError("--tracking-uri", f"no MLflow store at {uri}")
        frame, parent = load(Tracker(uri, args.experiment, create=False), args.study)
    except ConfigError as ex:
        if ex.key not in FLAGS:
            raise
        raise ConfigError(FLAGS[ex.key], ex.problem) from None
    if args.sort and args.sort not in frame.columns:
        allowed = ", ".join(frame.columns)
        raise ConfigError("--sort", f"unknown column '{args.sort}'; allowed: {allowed}")
    return frame, parent


if __name__ == "__main__":
    main()
