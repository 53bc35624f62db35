"""What one training run sends to MLflow, built from its config and its result; and the
sender calls that find or drop a study's runs by its unique id."""

from __future__ import annotations

import json
from typing import Any

from sweep.core.config import leaves
from sweep.core.redact import redact
from sweep.core.results import Outcome, RunResult
from sweep.core.trials import Trial
from sweep.track import plots
from sweep.track.runs import RunRecord, RunStore, StoredRun


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
    return header + redact(OmegaConf.to_yaml(config))  # no URI's password in the YAML


def head_record(trial: Trial, tags: dict[str, str] | None = None) -> RunRecord:
    """What a run holds before it has trained: its tags and its config (both go with the
    run's creation; the params travel with the first points, one request fewer per run)."""
    record = RunRecord(name=trial.name, tags=dict(tags or {}))
    record.artifacts["config.yaml"] = config_yaml(trial.config, trial.choices).encode()
    return record


def tail_record(trial: Trial, result: RunResult) -> RunRecord:
    """What a trained run adds: its params, loss curves, outcome (status and final values, as
    tags and metrics) and, with `tracking.run_chart`, its plot."""
    outcome = Outcome.of(result)
    record = RunRecord(trial.name, params_of(trial), outcome.tags(), metrics=outcome.metrics())
    record.series["loss"] = result.losses
    if result.val_losses is not None:
        record.series["val_loss"] = result.val_losses
    if result.status != "diverged":  # the fitted params as trained (normalized units)
        record.metrics.update(w=result.w, b=result.b)
    if trial.config.tracking.run_chart:  # off by default: tens of ms a trial
        ended = {"diverged": result.diverged_at_epoch, "pruned": len(result.losses)}
        note = f"{result.status} at epoch {ended[result.status]}" if result.status in ended else ""
        record.artifacts["loss_curve.png"] = plots.loss_curve(trial.name, record.series, note)
    return record


def run_record(trial: Trial, result: RunResult, tags: dict[str, str] | None = None) -> RunRecord:
    return head_record(trial, tags).merge(tail_record(trial, result))


def begin_run(store: RunStore, trial: Trial, tags: dict[str, str], parent_id: str) -> str:
    """Create a trial's child run, RUNNING, with what is known before training (a sender's
    call: it runs where the tracker lives)."""
    return store.create(head_record(trial, tags), parent_id)


def end_run(store: RunStore, run_id: str, trial: Trial, result: RunResult) -> str:
    """Fill a trial's child run with its results and end it FINISHED."""
    store.complete(run_id, tail_record(trial, result))
    return run_id


def study_runs(store: RunStore, uid: str) -> list[StoredRun]:
    """Every active run of the study with this unique id (a sender call)."""
    return store.find_runs(**{"sweep.study_uid": uid})


def drop_parents(store: RunStore, uid: str, keep: str) -> None:
    """Delete the study's parent runs other than `keep` (a sender call)."""
    store.delete_runs([r.run_id for r in study_runs(store, uid)
                       if r.tags.get("sweep.role") == "parent" and r.run_id != keep])  # fmt: skip
