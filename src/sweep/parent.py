"""A sweep's parent run in MLflow: found again by study name, so a resumed sweep reuses it.

It holds the sweep's config, and once trials are done the summary table (CSV), the plots,
and the best trial's loss, params (as tags: params cannot change) and run id.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from sweep.records import Trial, config_yaml, params_of
from sweep.runs import RunRecord, StoredRun
from sweep.sender import Sender
from sweep.space import Space
from sweep.tracking import Tracker

# Settings that may differ between invocations of one sweep: tags, refreshed each time.
VOLATILE = ("sweep.n_trials", "sweep.batch_size", "sweep.report_every", "sweep.heartbeat_interval",
            "sweep.grace_period")  # fmt: skip
BEST_CURVES = 5


class Parent:
    """The parent run: opened in the sender process as soon as the sweep starts; read back and
    summarised from this process, through a tracker of its own opened on first use."""

    def __init__(
        self, sender: Sender, study: optuna.Study, cfg: DictConfig, choices: dict, space: Space
    ) -> None:
        self.study, self.space = study, space
        self.uri, self.experiment = cfg.tracking.uri, cfg.tracking.experiment
        self.name = study.study_name
        config = OmegaConf.to_container(cfg, resolve=True)
        tags = {k: str(OmegaConf.select(cfg, k)) for k in VOLATILE}
        tags["sweep.space_keys"] = json.dumps(space.keys)
        params = params_of(Trial(self.name, config, choices), (*VOLATILE, *space.keys))
        artifacts = {"config.yaml": config_yaml(config, choices).encode()}
        record = RunRecord(self.name, params=params, tags=tags, artifacts=artifacts)
        key = {"sweep.role": "parent", "optuna.study": self.name}
        started = {"sweep.started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.pending = sender.call(Tracker.find_or_create, record, key, started)
        self._run_id: str | None = None
        self._tracker: Tracker | None = None
        self._preparing: threading.Thread | None = None

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            self._run_id = self.pending.result()
            self.study.set_user_attr("mlflow_parent_run_id", self._run_id)
        return self._run_id

    def prepare(self) -> None:
        """Start opening this process's tracker, and importing what the summary needs, while
        the sender ships the first batch: in a thread at the lowest CPU priority, so that it
        takes no CPU from the tracking server, and the end of the sweep only reads and writes."""
        if self._preparing is None:
            self._preparing = threading.Thread(target=self._prepare, daemon=True)
            self._preparing.start()

    def _prepare(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread is a task
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for module in ("pandas", "PIL.ImageDraw"):
            importlib.import_module(module)
        with contextlib.suppress(Exception):  # if it fails, it fails again, loudly, when used
            self._tracker = Tracker(self.uri, self.experiment)
        gc.freeze()  # modules live until exit; collections need not scan them

    @property
    def tracker(self) -> Tracker:
        if self._preparing is not None:
            self._preparing.join()
        if self._tracker is None:
            self._tracker = Tracker(self.uri, self.experiment)
        return self._tracker

    def child_tags(self, trial: Trial) -> dict[str, str]:
        return {"optuna.study": self.name, "optuna.trial_number": str(trial.number)}

    def children(self) -> list[StoredRun]:
        return self.tracker.find_runs(**{"mlflow.parentRunId": self.run_id})

    def finish(self, trained: int, output_dir: str, curves: dict[str, list[float]]) -> None:
        """Print the table; when this invocation trained anything, update the parent run."""
        from sweep import report

        frame = report.table(self.children(), self.space.keys)
        path = Path(output_dir) / "summary.csv"
        frame.to_csv(path, index=False)
        if trained:
            self.tracker.write(self.run_id, self._summary(frame, curves))
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        if optuna.trial.TrialState.RUNNING not in states:
            self.tracker.set_status(self.run_id, "FINISHED")
        print(report.summary_text(frame))
        print(f"Trained {trained} trials in this run. Parent run {self.run_id} ('{self.name}').")
        print(f"Summary table: {path}")

    def _summary(self, frame: Any, known: dict[str, list[float]]) -> RunRecord:
        from sweep import report

        completed = frame[frame["status"] == "completed"]
        curves = {
            f"t{row.trial:03d} {row.final_loss:.6g}": known.get(row.run_id)
            or self.tracker.history(row.run_id, "loss")
            for row in completed.head(BEST_CURVES).itertuples()
        }
        record = RunRecord(self.name, artifacts=report.parent_artifacts(frame, curves))
        counts = frame["status"].value_counts()
        statuses = ("completed", "diverged", "pruned")
        record.metrics = {f"n_{s}": float(counts.get(s, 0)) for s in statuses}
        if len(completed):
            best = completed.iloc[0]
            for key in ("final_loss", "w_raw", "b_raw"):
                record.metrics[f"best_{key}"] = float(best[key])
            record.tags = {"best.trial": str(best["trial"]), "best.run_id": str(best["run_id"])}
            keys = dict.fromkeys([*self.space.keys, *report.ALWAYS])
            record.tags |= {f"best.{k}": str(best[k]) for k in keys}
        return record

    def interrupted(self) -> None:
        self.tracker.set_status(self.run_id, "KILLED")
        print(f"Interrupted. Parent run {self.run_id}; run the same command again to resume.")
