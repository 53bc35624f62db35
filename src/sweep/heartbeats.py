"""Heartbeats: how the study tells a live worker's trials from a dead one's.

A worker records a heartbeat for each of its running trials in Optuna's own table, so
`optuna.storages.fail_stale_trials` reads them. All of a worker's trials are beaten in one
transaction: a batch of sixty trials beaten one call each cost sixty transactions every few
seconds, CPU that the tracking server on the same machine needed.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from datetime import datetime, timedelta
from typing import Any

import optuna
import sqlalchemy
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.storages._rdb import models
from optuna.trial import TrialState

# Heartbeats are "experimental" since Optuna 2.9; we rely on them knowingly.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
TABLE = models.TrialHeartbeatModel.__table__


def _engine(study: optuna.Study) -> Any:
    storage = study._storage
    return getattr(storage, "_backend", storage).engine  # behind Optuna's cache, the database


def beating(study: optuna.Study, trial_ids: list[int]) -> set[int]:
    """Those of `trial_ids` that have a heartbeat."""
    with _engine(study).connect() as connection:
        return set(connection.execute(_with_heartbeat(trial_ids)).scalars())


def _with_heartbeat(trial_ids: list[int]) -> Any:
    return sqlalchemy.select(TABLE.c.trial_id).where(TABLE.c.trial_id.in_(trial_ids))


def fail_stale(study: optuna.Study, grace_period: float) -> None:
    """Trials whose worker stopped sending heartbeats become FAIL (and are retried).

    Optuna only looks at trials that have a heartbeat; a worker killed between asking a
    trial and its first heartbeat leaves one without, which would stay RUNNING forever.
    Those are failed once they are older than twice the grace period.
    """
    optuna.storages.fail_stale_trials(study)
    if not is_heartbeat_enabled(study._storage):
        return
    cutoff = datetime.now() - timedelta(seconds=2 * grace_period)
    old = {
        t._trial_id
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.datetime_start < cutoff
    }
    if not old:
        return
    for trial_id in old - beating(study, list(old)):
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            study._storage.set_trial_state_values(trial_id, TrialState.FAIL)


class Heartbeat:
    """Records heartbeats for this worker's running trials, so a killed worker's trials fail."""

    def __init__(self, study: optuna.Study, interval: float) -> None:
        self.study, self.interval = study, interval
        self.trial_ids: set[int] = set()
        self.lock, self.stop = threading.Lock(), threading.Event()
        storage = study._storage
        self.enabled = isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage)
        if self.enabled:
            threading.Thread(target=self._beat, daemon=True).start()

    def add(self, trials: list[optuna.Trial]) -> None:
        with self.lock:
            self.trial_ids.update(t._trial_id for t in trials)
        self._record()

    def remove(self, trials: list[optuna.Trial]) -> None:
        with self.lock:
            self.trial_ids.difference_update(t._trial_id for t in trials)

    def _record(self) -> None:
        with self.lock:
            ids = sorted(self.trial_ids)
        if not self.enabled or not ids:
            return
        ours = TABLE.c.trial_id.in_(ids)
        with _engine(self.study).begin() as connection:
            # The database's clock, as Optuna's stale check reads it.
            connection.execute(TABLE.update().where(ours).values(heartbeat=sqlalchemy.func.now()))
            have = set(connection.execute(_with_heartbeat(ids)).scalars())
            new = [{"trial_id": i} for i in ids if i not in have]  # the column's default: now
            if new:
                connection.execute(TABLE.insert(), new)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            self._record()
