"""The trainer's work for a batch of trials, in as few graphs as possible: one per data set
and optimizer. Trials come in as configs; the trainer gets normalizers, hyperparameters and
epochs (`RunSpec`s), and gives back one `RunResult` per trial, in the trials' order."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sweep.core.results import RunResult
from sweep.core.schema import option_of
from sweep.core.trials import Trial
from sweep.train import data

if TYPE_CHECKING:  # torch: imported when training starts, not before
    from sweep.train.bookkeeping import Ender, Reporter, RunSpec
    from sweep.train.data import Split


def run_spec(trial: Trial, train_t_u) -> RunSpec:
    """What the trainer needs of a trial: its normalizer, fitted on the training inputs."""
    from sweep.train import normalize
    from sweep.train.bookkeeping import RunSpec

    c = trial.config
    normalizer = normalize.fit(c.normalization, train_t_u)
    hparams = tuple(sorted((k, float(v)) for k, v in dataclasses.asdict(c.optimizer).items()))
    return RunSpec(normalizer, hparams, c.train.epochs, tuple(c.train.init_params))


def train_trials(
    trials: Sequence[Trial],
    datasets: dict[str, Split],
    report_every: int = 0,
    on_report: Reporter | None = None,
    on_end: Ender | None = None,
    report_val: bool = False,
) -> list[RunResult]:
    """Train `trials` on `datasets` (from `data.load_all`); `on_end` gets each trial's result
    (by trial index) as soon as the trial ends; `on_report` the validation loss if
    `report_val`."""
    from sweep.train.trainer import train

    groups: dict[tuple[str, str], list[int]] = {}
    for i, trial in enumerate(trials):
        groups.setdefault((data.key(trial), option_of(trial.config.optimizer)), []).append(i)
    results: list[RunResult | None] = [None] * len(trials)
    for (key, optimizer), members in groups.items():
        split = datasets[key]
        specs = [run_spec(trials[i], split.train.t_u) for i in members]

        def report(epoch: int, losses: dict[int, float], members=members) -> set[int]:
            pruned = on_report(epoch, {members[j]: v for j, v in losses.items()})
            return {members.index(i) for i in pruned}

        def end(j: int, result: RunResult, members=members) -> None:
            on_end(members[j], result)

        batch = train(specs, optimizer, split, report_every, report if on_report else None,
                      end if on_end else None, report_val)  # fmt: skip
        for i, result in zip(members, batch, strict=True):
            results[i] = result
    return results
