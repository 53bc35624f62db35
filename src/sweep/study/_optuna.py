"""Every use of Optuna's private or undocumented parts, in one place, each with its reason.

Checked against Optuna 5.0.0 (`CHECKED`). `tests/study/test__optuna.py` exercises each one
and fails on an Optuna whose version or internals differ, rather than letting a sweep
silently slow down or misbehave. Everything else in the package uses Optuna's public API.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState

CHECKED = "5.0.0"

# Optuna's heartbeat and trial tables. A worker beats for all of its trials in one upsert;
# the public `RDBStorage.record_heartbeat` is one transaction per trial (sixty trials every few
# seconds took CPU that a tracking server on the same machine needed).
HEARTBEATS = models.TrialHeartbeatModel.__table__
TRIALS = models.TrialModel.__table__


def engine(storage: optuna.storages.RDBStorage) -> Any:
    """The storage's SQLAlchemy engine (an undocumented attribute): the study's lock and the
    heartbeats use the storage's own connections rather than opening a second pool."""
    return storage.engine


def trial_id(trial: FrozenTrial | optuna.Trial) -> int:
    """A trial's id in its storage, which Optuna keeps on every trial it hands out; the public
    `get_trial_id_from_study_id_trial_number` costs a query per trial, on every claim."""
    return trial._trial_id


def claim(study: optuna.Study, waiting: FrozenTrial) -> optuna.Trial | None:
    """A WAITING trial, now RUNNING, as the live trial `study.ask()` would return (None if
    another worker took it first). `ask()` re-reads every unfinished trial of the study on each
    call to pick one; claiming a batch this way saves seconds per sweep on a grid."""
    if study._storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING):
        return optuna.Trial(study, waiting._trial_id)
    return None
