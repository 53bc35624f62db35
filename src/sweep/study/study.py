"""The Optuna side of a sweep: the study in its storage, what it was made for, and how a
trained trial is told (samplers and pruners: `sweep.samplers`).

All trial bookkeeping lives in the study, not in this process: which trials are done, which
run elsewhere, which died (heartbeats), the parent run's id, how many workers joined. That is
what makes a sweep resumable and lets several workers share one study.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweep.core.config import ConfigError
from sweep.core.locks import database_lock
from sweep.core.redact import redact
from sweep.core.results import Outcome, RunResult
from sweep.study._optuna import engine
from sweep.study.samplers import make_pruner, make_sampler
from sweep.study.storage import open_storage, reason, retried

DONE = (TrialState.COMPLETE, TrialState.PRUNED)
# The study's user attributes (what optuna-dashboard shows under the study).
IDENTITY, UID, WORKERS = "sweep.identity", "sweep.uid", "sweep.workers"
PARENT, PARENT_STATUS = "mlflow_parent_run_id", "mlflow_parent_status"
CLEANED = "sweep.failed_cleaned"  # how many FAIL trials have had their child runs deleted
# A trial's user attributes, written when it is told.
RUN_ID, RESULT = "mlflow_run_id", "result"


def identity(
    settings: dict[str, Any], choices: dict[str, str], space: Any, sampler: Any
) -> dict[str, Any]:
    """What makes two invocations the same sweep: the sampler, the space, and every trial
    setting (`core.config.trial_settings`) and group choice that the space does not vary."""
    fixed = {**settings, **choices}
    out: dict[str, Any] = {"sweep.sampler": sampler}
    for axis in space.axes:
        spec = {"low": axis.low, "high": axis.high, "log": axis.log, "step": axis.step}
        out[f"sweep.space.{axis.key}"] = list(axis.choices) if axis.choices else spec
    out |= {k: v for k, v in fixed.items() if k not in space.keys}
    return json.loads(json.dumps(out))  # as the storage gives it back


@dataclass
class Study:
    """An Optuna study and what this worker knows of it."""

    optuna: optuna.Study
    storage: Any  # optuna.storages.RDBStorage, or None for an in-memory study
    lock: Callable[[], contextlib.AbstractContextManager]  # serialises this study's workers
    uid: str  # unique to this study, also when another storage has one of the same name
    worker: int  # 0 for the first worker that joined the study, 1 for the next, ...
    id: int | None  # the study's id in its storage (None in memory)

    @property
    def name(self) -> str:
        return self.optuna.study_name

    def attr(self, key: str) -> Any:
        """A study attribute as the storage holds it now."""
        return self.optuna.user_attrs.get(key)

    def trials(self, *states: TrialState) -> list[optuna.trial.FrozenTrial]:
        return self.optuna.get_trials(deepcopy=False, states=states or None)


def open_study(sweep: Any, max_epochs: int, made_for: dict[str, Any]) -> Study:
    """Create or load the study `sweep.study_name`; refuse one that was made for another
    sweep; give this worker its number (and so its sampler's seed)."""
    storage = open_storage(sweep.storage, sweep.heartbeat_interval, sweep.grace_period)
    name = sweep.study_name
    lock = contextlib.nullcontext
    if storage is not None:

        def lock() -> contextlib.AbstractContextManager:
            return database_lock(engine(storage), sweep.storage, f"study:{name}")

    with lock():
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                    pruner=make_pruner(sweep.pruner, max_epochs),
                                    load_if_exists=True)  # fmt: skip
        attrs = study.user_attrs
        if IDENTITY in attrs:
            _check_identity(name, sweep.storage, attrs[IDENTITY], made_for)
        else:
            study.set_user_attr(IDENTITY, made_for)
        uid = attrs.get(UID) or uuid.uuid4().hex
        if UID not in attrs:
            study.set_user_attr(UID, uid)
        worker = attrs.get(WORKERS, 0)
        study.set_user_attr(WORKERS, worker + 1)
    # One worker alone draws what `sweep.seed` gives; the workers that join draw other values.
    study.sampler = make_sampler(sweep.sampler, sweep.seed + worker)
    study_id = None if storage is None else storage.get_study_id_from_name(name)
    return Study(study, storage, lock, uid, worker, study_id)


def peek(sweep: Any, made_for: dict[str, Any]) -> Study | None:
    """The study as its workers hold it, read without creating or joining anything (None while
    none of them has created it), and refused like `open_study` when it was made for another
    sweep: what a launcher checks before it submits, then watches."""
    if not sweep.storage:
        return None
    import sqlalchemy

    url = sqlalchemy.engine.make_url(sweep.storage)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None  # connecting would create the file
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            made = sqlalchemy.inspect(connection).has_table("studies")
    except sqlalchemy.exc.SQLAlchemyError as ex:
        raise ConfigError("sweep.storage", f"cannot open {redact(sweep.storage)} "
                          f"({reason(ex)})") from None  # fmt: skip
    finally:
        engine.dispose()
    if not made:
        return None
    storage = optuna.storages.RDBStorage(sweep.storage, skip_table_creation=True,
                                         engine_kwargs={"pool_pre_ping": True})  # fmt: skip
    try:
        study = optuna.load_study(study_name=sweep.study_name, storage=storage)
    except KeyError:
        return None
    attrs = study.user_attrs
    if IDENTITY in attrs:
        _check_identity(study.study_name, sweep.storage, attrs[IDENTITY], made_for)
    study_id = storage.get_study_id_from_name(study.study_name)
    return Study(study, storage, contextlib.nullcontext, attrs.get(UID, ""), -1, study_id)


def _check_identity(name: str, storage: str, stored: dict, here: dict) -> None:
    differ = [k for k in {**stored, **here} if stored.get(k) != here.get(k)]
    if not differ:
        return
    key = differ[0]
    where = redact(storage) if storage else "memory"
    raise ConfigError(
        "sweep.study_name",
        f"study '{name}' in {where} belongs to another sweep ({key} is "
        f"{_short(here.get(key))} here, {_short(stored.get(key))} in the study); start a new "
        f"study with sweep.study_name=NEW_NAME",
    )


def _short(value: Any) -> str:
    text = "unset" if value is None else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


@retried
def tell(
    study: optuna.Study,
    trial: optuna.Trial,
    result: RunResult,
    run_id: str,
    params: dict,
    metric: str = "loss",
) -> bool:
    """Record a trained trial with its `Outcome` and `params` (the summary table's columns),
    valued by `metric`'s last point (a diverged trial gets a finite penalty, so samplers learn
    from it). False when the trial was failed meanwhile (its worker was taken for dead)."""
    curve = result.val_losses if metric == "val_loss" else result.losses
    summary = {**Outcome.of(result).as_dict(), "params": params}
    if result.status == "pruned":
        value, state = None, TrialState.PRUNED
    elif result.status == "diverged":
        # Worse than anything the run reached before blowing up, and never inf or NaN.
        value, state = max(curve, default=math.ldexp(1, 1000)), None
    else:
        value, state = curve[-1], None
    try:
        trial.set_user_attr(RUN_ID, run_id)
        trial.set_user_attr(RESULT, summary)
        if study.tell(trial, value, state=state, skip_if_finished=True).state in DONE:
            return True
    except optuna.exceptions.UpdateFinishedTrialError:
        pass
    # Finished already: by a retried call whose first try went through, or failed by a worker
    # that took this one for dead.
    [now] = [t for t in study.get_trials(deepcopy=False) if t.number == trial.number]
    return now.state in DONE and now.user_attrs.get(RUN_ID) == run_id
