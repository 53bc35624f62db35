"""The fence around Optuna's private parts: each use still does what sweep relies on, against
a real RDB storage, and an Optuna of another version fails here before a sweep runs on it."""

from __future__ import annotations

import optuna
import sqlalchemy
from optuna.trial import TrialState

from study.test_study import open_study
from sweep.study import _optuna as internals


def test_optuna_is_the_version_the_fence_was_checked_against():
    # An upgrade fails here on purpose: check each use below, then move CHECKED.
    assert optuna.__version__ == internals.CHECKED


def test_optunas_heartbeat_table_has_the_shape_we_write():
    assert {"trial_id", "heartbeat"} <= set(internals.HEARTBEATS.c.keys())
    assert any(c.columns.keys() == ["trial_id"] for c in internals.HEARTBEATS.constraints
               if isinstance(c, sqlalchemy.UniqueConstraint))  # fmt: skip
    assert {"trial_id", "study_id", "state"} <= set(internals.TRIALS.c.keys())


def test_the_engine_is_the_storages_own_and_reads_its_tables(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    study.optuna.ask()
    engine = internals.engine(study.storage)
    assert isinstance(engine, sqlalchemy.engine.Engine)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.select(internals.TRIALS.c.state)).all()
    assert [r.state for r in rows] == [TrialState.RUNNING]


def test_trial_ids_are_the_storages_ids(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    asked = [study.optuna.ask() for _ in range(3)]
    public = [study.storage.get_trial_id_from_study_id_trial_number(study.id, t.number)
              for t in asked]  # fmt: skip
    assert [internals.trial_id(t) for t in asked] == public
    assert [internals.trial_id(t) for t in study.trials()] == public


def test_claiming_a_queued_trial_makes_it_running_once(tmp_path):
    study = open_study(tmp_path)
    study.optuna.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params={"x": 2},
        distributions={"x": optuna.distributions.IntDistribution(0, 4)}))  # fmt: skip
    [waiting] = study.trials(TrialState.WAITING)
    live = internals.claim(study.optuna, waiting)
    assert isinstance(live, optuna.Trial)
    assert live.number == waiting.number and live.params == {"x": 2}
    assert internals.claim(study.optuna, waiting) is None  # taken: nobody gets it twice
    study.optuna.tell(live, 0.5)
    [done] = study.trials()
    assert (done.state, done.value, done.params) == (TrialState.COMPLETE, 0.5, {"x": 2})
