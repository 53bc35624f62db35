"""The Optuna side of a sweep: the study in its storage, samplers, pruners, trial states.

All trial bookkeeping lives in the study, not in this process: how many trials are done,
which are running elsewhere, which died (heartbeats), which grid points are missing. That is
what makes a sweep resumable and lets several workers share one study.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from sweep.config import ConfigError
from sweep.results import RunResult

SAMPLERS = ("tpe", "random", "cmaes", "gp", "grid")
PRUNERS = ("none", "median", "hyperband")
DONE = (TrialState.COMPLETE, TrialState.PRUNED)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def check_settings(sweep: Any) -> None:
    """Sampler and pruner names, before anything is created."""
    if sweep.sampler not in SAMPLERS:
        allowed = ", ".join(SAMPLERS)
        raise ConfigError("sweep.sampler", f"unknown sampler '{sweep.sampler}'; allowed: {allowed}")
    if sweep.pruner.kind not in PRUNERS:
        allowed = ", ".join(PRUNERS)
        raise ConfigError(
            "sweep.pruner.kind", f"unknown pruner '{sweep.pruner.kind}'; allowed: {allowed}"
        )


def make_sampler(kind: str, seed: int) -> optuna.samplers.BaseSampler:
    # A grid's points are all enqueued with fixed values, so its sampler is never consulted.
    if kind in ("random", "grid"):
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(pruner: Any, max_epochs: int) -> optuna.pruners.BasePruner:
    if pruner.kind == "median":
        return optuna.pruners.MedianPruner(pruner.n_startup_trials, pruner.n_warmup_steps)
    if pruner.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            pruner.min_resource, max(max_epochs, pruner.min_resource + 1), pruner.reduction_factor
        )
    return optuna.pruners.NopPruner()


def open_study(sweep: Any, max_epochs: int) -> optuna.Study:
    """Create or load the study `sweep.study_name` in `sweep.storage` (heartbeats on)."""
    storage: Any = None
    if sweep.storage:
        try:
            storage = optuna.storages.RDBStorage(
                sweep.storage,
                heartbeat_interval=sweep.heartbeat_interval,
                grace_period=sweep.grace_period,
            )
            if storage.engine.name == "sqlite":
                _write_ahead(storage.engine)
        except Exception as ex:  # SQLAlchemy's many ways to say "cannot open that"
            reason = " ".join(str(ex).split())[:200]
            raise ConfigError("sweep.storage", f"cannot open {sweep.storage} ({reason})") from None
    return optuna.create_study(
        storage=storage,
        study_name=sweep.study_name,
        direction="minimize",
        sampler=make_sampler(sweep.sampler, sweep.seed),
        pruner=make_pruner(sweep.pruner, max_epochs),
        load_if_exists=True,
    )


def _write_ahead(engine: Any) -> None:
    """SQLite in WAL mode with `synchronous=NORMAL`: a sweep commits several times per trial
    (ask, params, heartbeats, tell), and each commit otherwise waits for fsyncs that compete
    with the tracking store's. A crashed process still loses nothing; several workers on one
    machine still share the file."""
    from sqlalchemy import event

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # connections opened before the listener are replaced


def params_key(trial: optuna.trial.FrozenTrial | dict[str, Any]) -> str:
    """A trial's values (or, while it waits in the queue, its fixed values) as one string."""
    if isinstance(trial, optuna.trial.FrozenTrial):
        trial = trial.params or trial.system_attrs.get("fixed_params", {})
    return json.dumps(trial, sort_keys=True)


def missing_grid_points(study: optuna.Study, grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grid points that are neither done, nor running, nor waiting in the queue."""
    states = (*DONE, TrialState.RUNNING, TrialState.WAITING)
    taken = {params_key(t) for t in study.get_trials(deepcopy=False, states=states)}
    return [p for p in grid if params_key(p) not in taken]


def enqueue(
    study: optuna.Study, points: list[dict[str, Any]], distributions: Mapping[str, BaseDistribution]
) -> None:
    """Queue grid points as WAITING trials that already hold their params, so that claiming
    one writes nothing but its state (`enqueue_trial` leaves each param to a later write)."""
    for point in points:
        study.add_trial(optuna.trial.create_trial(
            state=TrialState.WAITING, params=point, distributions=dict(distributions)))  # fmt: skip


def claim(
    study: optuna.Study, n: int, distributions: Mapping[str, BaseDistribution]
) -> list[optuna.Trial]:
    """Up to `n` queued trials, now RUNNING for this worker: what `study.ask` does for one
    trial, with one read of the queue per batch instead of one per trial. Each claim is atomic;
    a trial another worker took first is skipped."""
    storage, claimed = study._storage, []
    for waiting in storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.WAITING,)
    ):
        if len(claimed) == n:
            break
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            if storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING):
                trial = optuna.Trial(study, waiting._trial_id)
                for name in distributions.keys() - waiting.params.keys():
                    trial._suggest(name, distributions[name])  # queued by `enqueue_trial`
                claimed.append(trial)
    return claimed


def count(study: optuna.Study, states: Iterable[TrialState], grid: list | None = None) -> int:
    trials = study.get_trials(deepcopy=False, states=tuple(states))
    if grid is None:
        return len(trials)
    points = {params_key(p) for p in grid}
    return sum(params_key(t) in points for t in trials)


def tell(study: optuna.Study, trial: optuna.Trial, result: RunResult, run_id: str) -> None:
    """Record a trained trial; a diverged one gets a finite penalty so samplers learn from it."""
    trial.set_user_attr("mlflow_run_id", run_id)
    trial.set_user_attr("status", result.status)
    if result.status == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    elif result.status == "diverged":
        # Worse than anything the run reached before blowing up, and never inf or NaN.
        study.tell(trial, max(result.losses, default=math.ldexp(1, 1000)))
    else:
        study.tell(trial, result.losses[-1])
