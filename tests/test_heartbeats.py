"""Heartbeats: a dead worker's trials fail, a live worker's keep running."""

from __future__ import annotations

import time

from optuna.trial import TrialState

from sweep import study as studies
from sweep.heartbeats import Heartbeat, fail_stale
from test_study import settings


def test_heartbeats_fail_the_trials_of_a_dead_worker(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    beat = Heartbeat(study, 1)
    assert beat.enabled
    trials = [study.ask() for _ in range(3)]
    beat.add(trials)
    beat.stop.set()  # the worker dies: no more heartbeats
    time.sleep(3.5)
    other = studies.open_study(settings(tmp_path), 100)
    fail_stale(other, 2)
    assert [t.state for t in other.trials] == [TrialState.FAIL] * 3


def test_live_heartbeats_keep_trials_running(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    beat = Heartbeat(study, 1)
    trials = [study.ask()]
    beat.add(trials)
    time.sleep(3.5)
    fail_stale(studies.open_study(settings(tmp_path), 100), 2)
    assert [t.state for t in study.trials] == [TrialState.RUNNING]
    beat.stop.set()


def test_a_worker_killed_before_its_first_heartbeat_is_failed_too(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    study.ask()  # asked, then the worker died before recording any heartbeat
    fail_stale(study, 1)
    assert [t.state for t in study.trials] == [TrialState.RUNNING]
    time.sleep(2.5)
    fail_stale(studies.open_study(settings(tmp_path), 100), 1)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
