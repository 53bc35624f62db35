"""Heartbeats: a dead worker's trials fail, a live worker's keep running, whatever the order of
first beats and checks, on the database's clock."""

from __future__ import annotations

import time

import sqlalchemy
from optuna.trial import TrialState

from study.test_study import open_study
from sweep.study._optuna import HEARTBEATS, engine, trial_id
from sweep.study.heartbeats import Heartbeat, fail_stale, record


def ids(study) -> list[int]:
    return [trial_id(t) for t in study.trials()]


def check(study) -> None:
    fail_stale(study.storage, study.optuna, study.id)


def beats(study) -> dict[int, object]:
    with engine(study.storage).connect() as connection:
        rows = connection.execute(sqlalchemy.select(HEARTBEATS.c.trial_id, HEARTBEATS.c.heartbeat))
        return dict(rows.all())


def test_heartbeats_fail_the_trials_of_a_dead_worker(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    beat = Heartbeat(study.storage, 1)
    [study.optuna.ask() for _ in range(3)]
    beat.add(study.trials())
    beat.stop.set()  # the worker dies: no more heartbeats
    time.sleep(3.5)
    other = open_study(tmp_path, sampler="tpe")
    check(other)
    assert [t.state for t in other.trials()] == [TrialState.FAIL] * 3


def test_live_heartbeats_keep_trials_running(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    beat = Heartbeat(study.storage, 1)
    study.optuna.ask()
    beat.add(study.trials())
    first = beats(study)
    time.sleep(3.5)
    check(open_study(tmp_path, sampler="tpe"))
    assert [t.state for t in study.trials()] == [TrialState.RUNNING]
    assert beats(study).keys() == first.keys() and beats(study) != first  # beaten, one row
    beat.stop.set()


def test_a_worker_killed_before_its_first_heartbeat_is_failed_after_the_grace_period(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    study.optuna.ask()  # asked, then the worker died before recording any heartbeat
    check(study)  # the check stamps it "first seen now" on the database's clock
    assert [t.state for t in study.trials()] == [TrialState.RUNNING]
    assert list(beats(study)) == ids(study)
    time.sleep(3.5)  # SQLite stamps whole seconds: 2 s of grace may read as 2 s after 2.9 s
    check(open_study(tmp_path, sampler="tpe"))
    assert [t.state for t in study.trials()] == [TrialState.FAIL]


def test_a_first_beat_after_a_checkers_stamp_is_an_update_not_a_conflict(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    study.optuna.ask()
    check(study)  # a checker saw the trial first
    record(study.storage, ids(study))  # then its worker's first beat: no UNIQUE violation
    assert list(beats(study)) == ids(study)
