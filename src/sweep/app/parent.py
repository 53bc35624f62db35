"""A sweep's parent run in MLflow: one per study, whichever workers run it.

Its run id lives in the study (`mlflow_parent_run_id`), written once under the study's lock.
A worker that finds none creates a run while it trains its first batch (create, then
reconcile): the first to record its run wins; a loser deletes its own and moves the children
it began under the winner. Every MLflow call goes through the sender process.

The parent holds the sweep's config and, once trials are done, the summary table (CSV), the
plots, and the best trial's loss, params (as tags: params cannot change) and run id.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

if TYPE_CHECKING:
    import pandas as pd

from sweep.core.config import METRICS
from sweep.core.schema import RootConfig
from sweep.core.trials import Trial
from sweep.study import importance
from sweep.study.space import Space
from sweep.study.storage import retried, retrying
from sweep.study.study import PARENT, PARENT_STATUS, Study
from sweep.track import plots
from sweep.track.records import config_yaml, drop_parents, params_of
from sweep.track.registry import CHAMPION, register_best
from sweep.track.runs import RUN_KEY, RunRecord, RunStore
from sweep.track.sender import Pending, Sender
from sweep.track.table import ALWAYS, STATUSES
from sweep.train.data import T_U

# Settings that may differ between invocations of one sweep: tags, refreshed each time.
VOLATILE = ("sweep.n_trials", "sweep.batch_size", "sweep.report_every", "sweep.heartbeat_interval",
            "sweep.grace_period", "sweep.max_retries", "sweep.storage")  # fmt: skip
BEST_CURVES = 5


class Parent:
    def __init__(
        self, sender: Sender, study: Study, cfg: RootConfig, choices: dict, space: Space
    ) -> None:
        self.sender, self.study, self.space = sender, study, space
        trial = Trial(study.name, cfg, choices)
        tags = {k: v for k, v in params_of(trial).items() if k in VOLATILE}
        tags |= {"sweep.role": "parent", "optuna.study": study.name, "sweep.study_uid": study.uid,
                 "sweep.space_keys": json.dumps(space.keys),
                 "sweep.started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 RUN_KEY: uuid.uuid4().hex}  # fmt: skip
        params = params_of(trial, (*VOLATILE, *space.keys))
        artifacts = {"config.yaml": config_yaml(cfg, choices).encode()}
        self.record = RunRecord(study.name, params=params, tags=tags, artifacts=artifacts)
        self.registered_model = cfg.tracking.registered_model
        self.searched = cfg.sweep.sampler != "grid"  # importances and Optuna's charts
        self.by = METRICS[cfg.sweep.metric]  # the summary column that ranks trials
        self.importances: dict[str, float] = {}
        self.known: str | None = None  # the id the study held when this worker opened it
        self.pending: Pending | None = None
        self.begun: list[Pending] = []  # children begun before the parent was settled
        self._run_id: str | None = None

    def open(self) -> Pending | str:
        """What a child's creation names as its parent: the run id once settled, before that
        the call that creates (or reopens) the parent."""
        if self._run_id is not None:
            return self._run_id
        if self.pending is None:
            self.known = retrying(self.study.attr, PARENT)
            if self.known is None:
                self.pending = self.sender.call(RunStore.create, self.record)
            else:
                self.pending = self.sender.call(RunStore.reopen, self.known, self.record)
        return self.pending

    def child_tags(self, trial: Trial) -> dict[str, str]:
        """The study, its unique id, the trial, the worker (`worker_name`) that trains it, and the
        run's own key (kept if its creation has to wait in the spool)."""
        return {"optuna.study": self.study.name, "sweep.study_uid": self.study.uid,
                "optuna.trial_number": str(trial.number),
                "sweep.worker": worker_name(),
                RUN_KEY: uuid.uuid4().hex}  # fmt: skip

    def began(self, child: Pending) -> None:
        if self._run_id is None:
            self.begun.append(child)

    def settle(self) -> str:
        """The study's parent run, settled with the other workers the first time: under the
        study's lock, the first run recorded wins (see the module's docstring)."""
        if self._run_id is None:
            mine = self.open().result()
            self._run_id = mine if mine == self.known else self._agree(mine)
            retrying(self.study.optuna.set_user_attr, PARENT_STATUS, "RUNNING")
            self.begun = []
        return self._run_id

    @retried
    def _agree(self, mine: str) -> str:
        with self.study.lock():
            winner = self.study.attr(PARENT)
            if winner in (None, self.known):
                self.study.optuna.set_user_attr(PARENT, mine)
                # Parents no one will record: a dead worker's that never settled (its children
                # are all of failed trials), or a live one's that will lose and move its
                # children here when it settles. Not waited for: a silent server can wait.
                self.sender.call(drop_parents, self.study.uid, mine)
                return mine
        self.sender.call(RunStore.delete_runs, [mine])
        for child in self.begun:
            self.sender.call(RunStore.set_parent, child, winner)
        return winner

    def end(self, status: str) -> None:
        """Mark the parent FINISHED, KILLED or FAILED (settled first if this worker opened it)."""
        run_id = self.settle() if self.pending is not None else self.study.attr(PARENT)
        if run_id is not None:
            self.sender.call(RunStore.set_status, run_id, status).result()
            retrying(self.study.optuna.set_user_attr, PARENT_STATUS, status)

    @retried
    def finish(self, trained: int, table: Callable[[], Any], curves: dict[str, list[float]]) -> Any:
        """The summary `table()`, read under the study's lock so that workers finishing
        together write in order (the last one writes every trial): on the parent when this
        worker trained anything; and the parent FINISHED when no trial runs anywhere, by the
        worker that finishes it, which also registers the best trial's model."""
        if self.pending is not None:
            self.settle()  # before the lock is taken: settling takes it
        with self.study.lock():
            frame = table()
            if trained:
                summary = self._summary(frame, curves)
                self.sender.call(RunStore.write, self._run_id, summary).result()
            running = self.study.trials(TrialState.RUNNING)
            finishing = not running and self.study.attr(PARENT_STATUS) != "FINISHED"
            if finishing:
                self.end("FINISHED")
        if finishing and self.registered_model:
            self.register(frame)
        return frame

    def register(self, frame: Any) -> None:
        """The best completed trial's model, as a new version of `tracking.registered_model`."""
        completed = frame[frame["status"] == "completed"]
        if not len(completed):
            return
        best = completed.iloc[0]
        tags = {"study": self.study.name, "trial": str(best["trial"]), "run_id": best["run_id"],
                "metric": self.by, "metric_value": repr(float(best[self.by]))}  # fmt: skip
        params = {"w_raw": float(best["w_raw"]), "b_raw": float(best["b_raw"])}
        call = self.sender.call(
            register_best, best["run_id"], params, self.registered_model, tags, T_U
        )  # the lecture's readings: the model's input example
        if call.exception() is not None:  # the sweep's results stand without it
            print(f"[sweep] model not registered: {call.exception()}", file=sys.stderr)
            return
        version, champion = call.result()
        alias = f" (@{CHAMPION})" if champion else f" (@{CHAMPION} stays on a better version)"
        print(f"Registered model '{self.registered_model}' version {version}{alias}: trial "
              f"{best['trial']}, {self.by} {best[self.by]:.6g}")  # fmt: skip

    def _summary(self, frame: Any, known: dict[str, list[float]]) -> RunRecord:
        completed = frame[frame["status"] == "completed"]
        best = completed.head(BEST_CURVES)
        asked = {r.run_id: self.sender.call(RunStore.history, r.run_id, "loss")
                 for r in best.itertuples() if r.run_id not in known}  # fmt: skip
        curves = {}
        for row in best.itertuples():
            curve = known.get(row.run_id)
            if curve is None and asked[row.run_id].exception() is None:
                curve = asked[row.run_id].result()
            if curve:  # another worker's, unknown here while the server is silent: left out
                curves[f"t{row.trial:03d} {row.final_loss:.6g}"] = curve
        record = parent_record(self.study.name, frame, curves, self.by, self.space.keys)
        if self.searched:
            found = importance.insights(self.study.optuna)
            self.importances = found.importances
            record.metrics |= {f"importance.{k}": v for k, v in found.importances.items()}
            record.artifacts |= found.charts
        return record

    def shown_id(self) -> str | None:
        """The parent's id as far as it is known, without creating one."""
        return self._run_id or self.study.attr(PARENT)

    def write_table(self, frame: Any, output_dir: str, trained: int) -> None:
        path = write_summary(frame, output_dir, self.by, self.importances)
        print(f"Trained {trained} trials in this run. Parent run {self.shown_id()} "
              f"('{self.study.name}').\nSummary table: {path}")  # fmt: skip


def worker_name() -> str:
    """host:pid, and under SLURM the job and array task (`slurm:12_3`): a run names the job
    that trained it, as squeue and the job's log do."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{name} slurm:{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    if env.get("SLURM_JOB_ID"):
        return f"{name} slurm:{env['SLURM_JOB_ID']}"
    return name


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
    from sweep.track.table import summary_text

    path = Path(output_dir) / "summary.csv"
    frame.to_csv(path, index=False)
    print(summary_text(frame, by=by))
    if importances:
        shares = ", ".join(f"{k} {v:.3f}" for k, v in importances.items())
        print(f"Parameter importances (Optuna, fANOVA): {shares}")
    return path
