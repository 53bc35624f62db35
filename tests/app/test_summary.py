"""The summary table from the study alone: told trials with their outcome and params, and a
grid point given up after `sweep.max_retries` failed trials as one `failed` row."""

from __future__ import annotations

from optuna.trial import TrialState

from study.test_study import DIST, GRID, open_study
from sweep import report
from sweep.app.summary import rows
from sweep.core.results import RunResult
from sweep.study import study as studies
from sweep.study.claims import take


def describe(values: dict) -> dict[str, str]:
    return {"x": str(values["x"]), "optimizer.lr": "0.01"}


def test_told_trials_and_given_up_points_make_the_table(tmp_path):
    study = open_study(tmp_path)
    taken, _ = take(study, 3, DIST, GRID[:3], 3, 2)
    completed = RunResult("completed", [5.0, 2.5], None, 1.0, 2.0, 0.1, 2.0)
    diverged = RunResult("diverged", [5.0, 9.0], None, diverged_at_epoch=3)
    assert studies.tell(study.optuna, taken[0], completed, "run-a", describe({"x": 0}))
    assert studies.tell(study.optuna, taken[1], diverged, "run-b", describe({"x": 1}))
    study.optuna.tell(taken[2], state=TrialState.FAIL)
    [again], _ = take(study, 1, DIST, GRID[:3], 3, 2)
    assert again.params == {"x": 2}
    study.optuna.tell(again, state=TrialState.FAIL)  # the second failure: given up
    frame = report.table(rows(study.trials(), GRID[:3], 2, describe), ["x"])
    assert frame["status"].tolist() == ["completed", "diverged", "failed"]
    assert frame["trial"].tolist() == [0, 1, 3]
    assert frame["x"].tolist() == [0, 1, 2]
    assert frame["run_id"].tolist() == ["run-a", "run-b", ""]
    assert frame["final_loss"].iloc[0] == 2.5 and frame["w_raw"].iloc[0] == 0.1
    assert frame["epochs_trained"].tolist()[:2] == [2, 2] and frame["epochs_trained"].isna()[2]
    assert frame["diverged_at_epoch"].tolist()[1] == 3
    assert "failed 1" in report.summary_text(frame)
