"""Heartbeats: how the study tells a live worker's trials from a dead one's.

A worker beats for all of its running trials in Optuna's own heartbeat table, so Optuna's
public `fail_stale_trials` judges them. Two things differ from Optuna's own heartbeat thread
(`RDBStorage.record_heartbeat`, one transaction per trial): one transaction covers all of a
worker's trials (sixty trials beaten one call each cost sixty transactions every few seconds,
CPU that a tracking server on the same machine needed), and a beat is an upsert, so the
first beat and a checker's first sighting (below) never collide.

Every time is the database's clock (`now()` in SQL), never a worker's: hosts' clocks differ.
A trial that has no heartbeat at all (its worker died between claiming it and its first
beat) gets one from whoever checks, stamped with the check's time; if nobody beats it within
the grace period after that, it is stale like any other.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

import optuna
import sqlalchemy
from optuna.trial import TrialState
from sqlalchemy.dialects import postgresql, sqlite

from sweep.study._optuna import HEARTBEATS, TRIALS, engine, trial_id
from sweep.study.storage import retried

log = logging.getLogger(__name__)


def _insert(engine: Any) -> Any:
    """INSERT with ON CONFLICT, in the engine's dialect."""
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(HEARTBEATS)


def record(storage: Any, trial_ids: list[int]) -> None:
    """One heartbeat, stamped now by the database, for each of `trial_ids`."""
    if not trial_ids:
        return
    now = sqlalchemy.func.now()
    statement = _insert(engine(storage)).values(
        [{"trial_id": i, "heartbeat": now} for i in trial_ids]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["trial_id"], set_={"heartbeat": now}
    )
    with engine(storage).begin() as connection:
        connection.execute(statement)


def fail_stale(storage: Any, study: optuna.Study, study_id: int) -> None:
    """Trials whose worker stopped beating become FAIL (and their points are retried)."""
    unseen = sqlalchemy.select(TRIALS.c.trial_id, sqlalchemy.func.now()).where(
        TRIALS.c.study_id == study_id,
        TRIALS.c.state == TrialState.RUNNING,
        TRIALS.c.trial_id.not_in(sqlalchemy.select(HEARTBEATS.c.trial_id)),
    )
    statement = _insert(engine(storage)).from_select(["trial_id", "heartbeat"], unseen)
    with engine(storage).begin() as connection:
        connection.execute(statement.on_conflict_do_nothing(index_elements=["trial_id"]))
    with warnings.catch_warnings():  # "experimental" since Optuna 2.9; relied on knowingly
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeat:
    """Beats for this worker's running trials every `interval` seconds, in a thread that
    outlives a database's outages (it logs them and keeps beating)."""

    def __init__(self, storage: Any, interval: float) -> None:
        self.storage, self.interval = storage, interval
        self.trial_ids: set[int] = set()
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.failing = False
        if storage is not None:
            threading.Thread(target=self._beat, daemon=True).start()

    @retried
    def add(self, trials: list[Any]) -> None:
        """Beat for these trials too, from now on (the first beat is written at once)."""
        with self.lock:
            self.trial_ids.update(trial_id(t) for t in trials)
            if self.storage is not None:
                record(self.storage, sorted(self.trial_ids))

    def remove(self, trials: list[Any]) -> None:
        with self.lock:
            self.trial_ids.difference_update(trial_id(t) for t in trials)

    def beat(self) -> None:
        """One beat for every trial of this worker, now."""
        with self.lock:
            if self.storage is not None:
                record(self.storage, sorted(self.trial_ids))

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.beat()
            except Exception as ex:  # the database is away: say so once, keep beating
                if not self.failing:
                    log.warning("heartbeat failed (%s); retrying", type(ex).__name__)
                self.failing = True
            else:
                if self.failing:
                    log.warning("heartbeats resumed")
                self.failing = False
