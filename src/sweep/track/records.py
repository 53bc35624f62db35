"""What one training run sends to MLflow, built from its config and its result; and the
sender calls that find or drop a study's runs by its unique id."""

from __future__ import annotations

import json
from typing import Any

from sweep.core.config import leaves, plain
from sweep.core.redact import redact, redact_tree
from sweep.core.results import RunResult
from sweep.core.trials import Trial
from sweep.track import plots
from sweep.track.runs import RunRecord, StoredRun
from sweep.track.tracker import Tracker


def _param(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def params_of(trial: Trial, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every config leaf under its dotted key, plus each group's option under its name.
    The space is one param (`sweep.space`, JSON); keys in `skip` are left out; no password
    of any URI (`tracking.uri`, `sweep.storage`, ...) is kept."""
    flat = {k: v for k, v in leaves(trial.config).items() if not k.startswith("sweep.space")}
    flat["sweep.space"] = trial.config.sweep.space
    params = {k: redact(_param(v)) for k, v in flat.items() if k not in skip}
    params.update(trial.choices)
    return params


def config_yaml(config: Any, choices: dict[str, str]) -> str:
    from omegaconf import OmegaConf

    header = "".join(f"# {g}={o}\n" for g, o in sorted(choices.items()))
    return header + OmegaConf.to_yaml(OmegaConf.create(redact_tree(plain(config))))


def head_record(trial: Trial, tags: dict[str, str] | None = None) -> RunRecord:
    """What a run holds before it has trained: its tags and its config (both go with the
    run's creation; the params travel with the first points, one request fewer per run)."""
    record = RunRecord(name=trial.name, tags=dict(tags or {}))
    record.artifacts["config.yaml"] = config_yaml(trial.config, trial.choices).encode()
    return record


def tail_record(trial: Trial, result: RunResult) -> RunRecord:
    """What a trained run adds: its params, status, loss curves, final values and plot."""
    record = RunRecord(name=trial.name, params=params_of(trial), tags={"status": result.status})
    record.series["loss"] = result.losses
    curves = {"loss": result.losses}
    if result.val_losses is not None:
        record.series["val_loss"] = result.val_losses
        curves["val_loss"] = result.val_losses
    note = ""
    if result.status == "diverged":
        record.tags["diverged_at_epoch"] = str(result.diverged_at_epoch)
        note = f"diverged at epoch {result.diverged_at_epoch}"
    else:
        record.metrics.update(
            final_loss=result.losses[-1],
            w=result.w,
            b=result.b,
            w_raw=result.w_raw,
            b_raw=result.b_raw,
        )
        if result.val_losses:
            record.metrics["final_val_loss"] = result.val_losses[-1]
    if result.status == "pruned":
        record.tags["pruned_at_epoch"] = str(len(result.losses))
        note = f"pruned at epoch {len(result.losses)}"
    record.tags["epochs_trained"] = str(len(result.losses))
    if trial.config.tracking.run_chart:  # off: tens of ms a trial
        record.artifacts["loss_curve.png"] = plots.loss_curve(trial.name, curves, note)
    return record


def run_record(trial: Trial, result: RunResult, tags: dict[str, str] | None = None) -> RunRecord:
    return head_record(trial, tags).merge(tail_record(trial, result))


def begin_run(tracker: Tracker, trial: Trial, tags: dict[str, str], parent_id: str) -> str:
    """Create a trial's child run, RUNNING, with what is known before training (a sender's
    call: it runs where the tracker lives)."""
    return tracker.create(head_record(trial, tags), parent_id)


def end_run(tracker: Tracker, run_id: str, trial: Trial, result: RunResult) -> str:
    """Fill a trial's child run with its results and end it FINISHED."""
    tracker.complete(run_id, tail_record(trial, result))
    return run_id


def study_runs(tracker: Tracker, uid: str) -> list[StoredRun]:
    """Every active run of the study with this unique id (a sender call)."""
    return tracker.find_runs(**{"sweep.study_uid": uid})


def drop_parents(tracker: Tracker, uid: str, keep: str) -> None:
    """Delete the study's parent runs other than `keep` (a sender call)."""
    keep = tracker.resolve(keep)
    tracker.delete_runs([r.run_id for r in study_runs(tracker, uid)
                         if r.tags.get("sweep.role") == "parent" and r.run_id != keep])  # fmt: skip
