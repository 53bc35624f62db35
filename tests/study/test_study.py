"""The Optuna side: a study knows what sweep it was made for, workers get their own seeds, and
trained trials are told with their outcome (what a worker takes: test_claims.py; the storage:
test_storage.py)."""

from __future__ import annotations

import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from sweep.core.config import ConfigError
from sweep.core.results import RunResult
from sweep.core.schema import SweepConfig
from sweep.study import study as studies

MADE_FOR = {"sweep.sampler": "grid", "sweep.space.x": [0, 1, 2, 3, 4]}
DIST = {"x": IntDistribution(0, 4)}
GRID = [{"x": i} for i in range(5)]


def settings(tmp_path, **over):
    base = {"storage": f"sqlite:///{tmp_path / 'o.db'}", "study_name": "s", "sampler": "grid",
            "seed": 0, "heartbeat_interval": 1, "grace_period": 2}  # fmt: skip
    return SweepConfig(**{**base, **over})


def open_study(tmp_path, made_for=MADE_FOR, **over):
    return studies.open_study(settings(tmp_path, **over), 100, made_for)


def test_a_study_refuses_a_different_sweep_and_names_the_difference(tmp_path):
    open_study(tmp_path)
    other = {**MADE_FOR, "sweep.space.x": [0, 1]}
    with pytest.raises(ConfigError) as error:
        open_study(tmp_path, other)
    message = str(error.value)
    assert message.startswith("sweep.study_name: study 's' in sqlite:///")
    assert "sweep.space.x is [0, 1] here, [0, 1, 2, 3, 4] in the study" in message
    assert "sweep.study_name=NEW_NAME" in message
    with pytest.raises(ConfigError, match=r'sweep\.sampler is "tpe" here'):
        open_study(tmp_path, {**MADE_FOR, "sweep.sampler": "tpe"})


def test_each_worker_gets_its_number_and_its_own_seed(tmp_path):
    first, second = open_study(tmp_path, sampler="random"), open_study(tmp_path, sampler="random")
    assert (first.worker, second.worker) == (0, 1)
    assert first.uid == second.uid and len(first.uid) == 32
    draws = [
        [s.optuna.sampler.sample_independent(s.optuna, None, "x", DIST["x"]) for _ in range(8)]
        for s in (first, second)
    ]
    assert draws[0] != draws[1]
    (tmp_path / "fresh").mkdir()
    again = open_study(tmp_path / "fresh", sampler="random")  # same name, another storage
    assert again.worker == 0 and again.uid != first.uid


def test_diverged_trials_get_a_finite_penalty_and_keep_their_outcome(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    trial = study.optuna.ask()
    trial.suggest_float("x", 0, 1)
    result = RunResult("diverged", [10.0, 1e30, 3.0], None, diverged_at_epoch=4)
    assert studies.tell(study.optuna, trial, result, "run-1", {"optimizer.lr": "0.1"})
    [frozen] = study.trials()
    assert frozen.state == TrialState.COMPLETE and frozen.value == 1e30
    assert frozen.user_attrs["mlflow_run_id"] == "run-1"
    assert frozen.user_attrs["result"] == {
        "params": {"optimizer.lr": "0.1"}, "status": "diverged", "final_loss": None,
        "final_val_loss": None, "w_raw": None, "b_raw": None, "epochs_trained": 3,
        "diverged_at_epoch": 4,
    }  # fmt: skip


def test_telling_a_trial_failed_meanwhile_says_so(tmp_path):
    study = open_study(tmp_path, sampler="tpe")
    trial = study.optuna.ask()
    study.optuna.tell(trial.number, state=TrialState.FAIL)  # another worker took us for dead
    result = RunResult("completed", [3.0, 2.0], None, 1.0, 0.0, 1.0, 0.0)
    assert not studies.tell(study.optuna, trial, result, "run-2", {})
