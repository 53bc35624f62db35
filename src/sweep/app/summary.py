"""A sweep's table, from the study alone: each told trial carries its outcome and its params
(user attributes written when it is told), so the summary of a finished sweep, or of one that
other workers share, needs no read of the tracking store. Rows are `StoredRun`s, the shape
`report.table` also reads back from MLflow, so both tables agree column for column."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    import pandas as pd

from sweep.app.plan import Plan
from sweep.core.config import METRICS
from sweep.core.results import Outcome
from sweep.core.schema import SweepConfig
from sweep.core.trials import Trial
from sweep.study.claims import GridBook, params_key
from sweep.study.study import DONE, RESULT, RUN_ID, Study
from sweep.track.records import params_of
from sweep.track.runs import StoredRun
from sweep.track.table import ALWAYS


def frame(study: Study, plan: Plan, sweep: SweepConfig) -> pd.DataFrame:
    """The summary table as the study holds it now (a worker's, or a launcher's at the end)."""
    from sweep.track.table import table

    def describe(values: dict) -> dict[str, str]:
        return shown_params(plan.composer.trial(values), plan.space.keys)

    found = rows(study.trials(), plan.grid, sweep.max_retries, describe)
    return table(found, plan.space.keys, METRICS[sweep.metric])


def shown_params(trial: Trial, keys: list[str]) -> dict[str, str]:
    """A trial's params as the summary shows them: the space's keys and the ALWAYS columns."""
    columns = [*keys, *ALWAYS]
    return {k: v for k, v in params_of(trial).items() if k in columns}


def rows(
    trials: list[FrozenTrial],
    grid: list[dict[str, Any]] | None,
    max_retries: int,
    describe: Callable[[dict[str, Any]], dict[str, str]],
) -> list[StoredRun]:
    """One row per trial that was told, and one (`failed`) per grid point given up after
    `max_retries` failed trials; `describe(values)` gives a point's params as strings."""
    out = [_told(t) for t in trials if t.state in DONE and RESULT in t.user_attrs]
    if grid is not None:
        given_up = GridBook.read(trials, grid, max_retries).given_up
        last: dict[str, FrozenTrial] = {}
        for trial in trials:
            if trial.state == TrialState.FAIL and params_key(trial) in given_up:
                last[params_key(trial)] = trial
        for trial in last.values():
            out.append(StoredRun("", "", "FAILED", describe(trial.params), {},
                                 _number(trial), Outcome("failed")))  # fmt: skip
    return out


def _number(trial: FrozenTrial) -> dict[str, str]:
    return {"optuna.trial_number": str(trial.number)}


def _told(trial: FrozenTrial) -> StoredRun:
    stored = trial.user_attrs[RESULT]
    run_id = trial.user_attrs.get(RUN_ID, "")
    return StoredRun(run_id, "", "FINISHED", stored.get("params", {}), {}, _number(trial),
                     Outcome.from_dict(stored))  # fmt: skip
