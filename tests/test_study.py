"""The Optuna side: grid points queued, claimed once and tracked; diverged trials told."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from sweep import study as studies
from sweep.config import ConfigError
from sweep.results import RunResult


def settings(tmp_path, **over):
    base = {"storage": f"sqlite:///{tmp_path / 'o.db'}", "study_name": "s", "sampler": "grid",
            "seed": 0, "heartbeat_interval": 1, "grace_period": 2,
            "pruner": {"kind": "none"}}  # fmt: skip
    return OmegaConf.create({**base, **over})


def test_missing_grid_points_skip_done_running_and_queued(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    grid = [{"x": i} for i in range(5)]
    for point in grid[:3]:
        study.enqueue_trial(point)
    done = study.ask()
    done.suggest_int("x", 0, 4)
    study.tell(done, 1.0)
    running = study.ask()
    assert studies.missing_grid_points(study, grid) == [{"x": 3}, {"x": 4}]
    study.tell(running, state=TrialState.FAIL)
    assert studies.missing_grid_points(study, grid) == [{"x": 1}, {"x": 3}, {"x": 4}]
    assert studies.count(study, studies.DONE, grid) == 1


def test_diverged_trials_get_a_finite_penalty(tmp_path):
    study = studies.open_study(settings(tmp_path, sampler="tpe"), 100)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    result = RunResult("diverged", [10.0, 1e30, 3.0], None, diverged_at_epoch=4)
    studies.tell(study, trial, result, "run-1")
    [frozen] = study.trials
    assert frozen.state == TrialState.COMPLETE and frozen.value == 1e30
    assert frozen.user_attrs == {"mlflow_run_id": "run-1", "status": "diverged"}


def test_unopenable_storage_is_a_one_line_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^sweep\.storage: cannot open"):
        studies.open_study(settings(tmp_path, storage=f"sqlite:///{tmp_path}/no/such/dir/o.db"), 1)


def test_workers_claim_each_queued_point_once_with_its_values(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    studies.enqueue(study, [{"x": i} for i in range(3)], {"x": IntDistribution(0, 4)})
    other = studies.open_study(settings(tmp_path), 100)  # a second worker on the same storage
    dist = {"x": IntDistribution(0, 4)}
    mine, theirs = studies.claim(study, 2, dist), studies.claim(other, 5, dist)
    assert [t.params for t in mine] == [{"x": 0}, {"x": 1}]
    assert [t.params for t in theirs] == [{"x": 2}]
    assert studies.claim(study, 1, dist) == []
    assert [t.state for t in other.trials] == [TrialState.RUNNING] * 3
    assert studies.missing_grid_points(other, [{"x": i} for i in range(5)]) == [{"x": 3}, {"x": 4}]


def test_points_queued_by_enqueue_trial_get_their_values_when_claimed(tmp_path):
    study = studies.open_study(settings(tmp_path), 100)
    study.enqueue_trial({"x": 3})  # how earlier versions queued a grid: values not yet written
    [trial] = studies.claim(study, 1, {"x": IntDistribution(0, 4)})
    assert trial.params == {"x": 3} and study.trials[0].params == {"x": 3}
