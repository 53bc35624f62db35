"""One outcome record: made from a run's result, kept by the study, shown by MLflow, read back
by both tables, with the same values each way."""

from __future__ import annotations

import json
import math

import pytest

from sweep.core.results import Outcome, RunResult

COMPLETED = RunResult("completed", [9.0, 3.0, 2.927647], [4.0, 3.5], 5.3671, -17.3012,
                      0.53671, -17.3012)  # fmt: skip
DIVERGED = RunResult("diverged", [1e3, 1e30], None, diverged_at_epoch=3)
PRUNED = RunResult("pruned", [9.0, 8.0], None, 1.0, 2.0, 0.1, 2.0)


def test_a_completed_run_keeps_its_last_points_and_raw_params():
    outcome = Outcome.of(COMPLETED)
    assert outcome == Outcome("completed", 3, 2.927647, 3.5, 0.53671, -17.3012, None)
    assert outcome.metrics() == {"final_loss": 2.927647, "final_val_loss": 3.5,
                                 "w_raw": 0.53671, "b_raw": -17.3012}  # fmt: skip
    assert outcome.tags() == {"status": "completed", "epochs_trained": "3"}


def test_a_diverged_run_has_no_final_values_only_where_it_diverged():
    outcome = Outcome.of(DIVERGED)
    assert outcome.metrics() == {}
    assert outcome.tags() == {"status": "diverged", "epochs_trained": "2", "diverged_at_epoch": "3"}


def test_a_pruned_run_says_where_it_was_pruned():
    assert Outcome.of(PRUNED).tags() == {"status": "pruned", "epochs_trained": "2",
                                         "pruned_at_epoch": "2"}  # fmt: skip


@pytest.mark.parametrize("result", [COMPLETED, DIVERGED, PRUNED])
def test_the_study_and_mlflow_give_back_the_same_record(result):
    outcome = Outcome.of(result)
    stored = json.loads(json.dumps({**outcome.as_dict(), "params": {"x": "1"}}))
    assert Outcome.from_dict(stored) == outcome
    assert Outcome.from_run(outcome.metrics(), {**outcome.tags(), "other": "tag"}) == outcome
    assert all(math.isfinite(v) for v in outcome.metrics().values())


def test_a_run_that_never_ended_has_no_outcome():
    assert Outcome.from_run({"final_loss": 1.0}, {"optuna.trial_number": "3"}) is None
