"""What a worker takes next: queued grid points claimed, or new trials asked, decided under
the study's lock, so that any number of workers starting at the same instant never queue or
take a grid point twice and never overshoot the budget.

A grid is a queue of WAITING trials that hold their values, one per point that is neither
done, nor running, nor given up (a point whose trials failed `sweep.max_retries` times).
Progress counts distinct points, so a study holding duplicates from an older version still
ends when every point is done once.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from sweep.study._optuna import claim
from sweep.study.storage import retried
from sweep.study.study import DONE, Study


@dataclass(frozen=True)
class Tally:
    """Where the study stands, in grid points (or trials, for a sampler)."""

    total: int
    done: int
    running: int  # by any worker, this one's new trials included
    failed: int  # given up after sweep.max_retries failed trials
    best: float | None = None  # the best value of a completed trial

    @property
    def left(self) -> int:
        """Points (or trials) neither done nor given up."""
        return self.total - self.done - self.failed

    @property
    def finished(self) -> bool:
        return self.left <= 0 and self.running == 0


def _best(trials: list[FrozenTrial]) -> float | None:
    return min((t.value for t in trials if t.state == TrialState.COMPLETE), default=None)


def params_key(trial: FrozenTrial | dict[str, Any]) -> str:
    """A trial's values (or, while it waits in the queue, its fixed values) as one string."""
    if isinstance(trial, FrozenTrial):
        trial = trial.params or trial.system_attrs.get("fixed_params", {})
    return json.dumps(trial, sort_keys=True)


@dataclass
class GridBook:
    """The grid's points by state, read from the study's trials."""

    done: set[str]
    running: set[str]
    waiting: dict[str, FrozenTrial]  # the first queued trial of each point
    given_up: set[str]

    @classmethod
    def read(cls, trials: list[FrozenTrial], grid: list[dict], max_retries: int) -> GridBook:
        points = {params_key(p) for p in grid}
        book, fails = cls(set(), set(), {}, set()), Counter()
        for trial in trials:
            key = params_key(trial)
            if key not in points:
                continue  # a point of a larger budget, or of the study's earlier grid
            if trial.state in DONE:
                book.done.add(key)
            elif trial.state == TrialState.RUNNING:
                book.running.add(key)
            elif trial.state == TrialState.WAITING:
                book.waiting.setdefault(key, trial)
            elif trial.state == TrialState.FAIL:
                fails[key] += 1
        book.given_up = {k for k, n in fails.items() if n >= max_retries}
        book.given_up -= book.done | book.running
        return book

    def open(self, key: str) -> bool:
        """Still to be trained: not done, not running, not given up."""
        return key not in self.done and key not in self.running and key not in self.given_up


@retried
def tally(study: Study, grid: list[dict[str, Any]] | None, total: int, max_retries: int) -> Tally:
    """Where the study stands, read without taking anything: what a launcher shows."""
    trials = study.trials()
    if grid is None:
        return _asked(trials, total)
    return _of_grid(GridBook.read(trials, grid, max_retries), trials, grid)


def _asked(trials: list[FrozenTrial], total: int) -> Tally:
    done = sum(t.state in DONE for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return Tally(total, done, running, 0, _best(trials))


def _of_grid(book: GridBook, trials: list[FrozenTrial], grid: list[dict[str, Any]]) -> Tally:
    return Tally(len(grid), len(book.done), len(book.running), len(book.given_up), _best(trials))


@retried
def take(
    study: Study,
    n: int,
    distributions: Mapping[str, BaseDistribution],
    grid: list[dict[str, Any]] | None,
    total: int,
    max_retries: int,
) -> tuple[list[optuna.Trial], Tally]:
    """Up to `n` trials, now RUNNING for this worker, and the study's tally after taking them."""
    with study.lock():
        trials = study.trials()
        if grid is None:
            now = _asked(trials, total)
            room = max(0, min(n, total - now.done - now.running))
            taken = [study.optuna.ask(dict(distributions)) for _ in range(room)]
            return taken, dataclasses.replace(now, running=now.running + room)
        book = GridBook.read(trials, grid, max_retries)
        missing = [p for p in grid if book.open(key := params_key(p)) and key not in book.waiting]
        if missing:
            _enqueue(study.optuna, missing, distributions)
            book = GridBook.read(study.trials(), grid, max_retries)
        taken = _claim(study.optuna, list(book.waiting.values())[:n], distributions)
        now = _of_grid(book, trials, grid)
        return taken, dataclasses.replace(now, running=now.running + len(taken))


def _enqueue(
    study: optuna.Study, points: list[dict[str, Any]], distributions: Mapping[str, BaseDistribution]
) -> None:
    """Queue grid points as WAITING trials that already hold their params, so that claiming
    one writes nothing but its state (`enqueue_trial` leaves each param to a later write)."""
    for point in points:
        study.add_trial(optuna.trial.create_trial(
            state=TrialState.WAITING, params=point, distributions=dict(distributions)))  # fmt: skip


def _claim(
    study: optuna.Study, waiting: list[FrozenTrial], distributions: Mapping[str, BaseDistribution]
) -> list[optuna.Trial]:
    """These queued trials, now RUNNING (those another worker took first left out)."""
    claimed = []
    for trial in waiting:
        live = claim(study, trial)
        if live is not None:
            claimed.append(live)
            for name in distributions.keys() - trial.params.keys():
                _suggest(live, name, distributions[name])  # queued by `enqueue_trial`
    return claimed


def _suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> None:
    """A queued point's value of `name` (fixed by the queue), through the public suggest API."""
    d = distribution
    if isinstance(d, CategoricalDistribution):
        trial.suggest_categorical(name, d.choices)
    elif isinstance(d, IntDistribution):
        trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    elif isinstance(d, FloatDistribution):
        trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    else:
        raise TypeError(f"{name}: no public suggest call for {type(d).__name__}")
