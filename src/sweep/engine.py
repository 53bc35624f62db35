"""From a composed config to trained, tracked runs: one run, or a study's batches of trials.

A single run goes through the same path as a batch of trials (a batch of one), but lands in
MLflow as a plain run with no parent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sweep.config import validate
from sweep.records import Trial
from sweep.results import RunResult

if TYPE_CHECKING:  # torch: imported when training starts, not before
    from sweep.bookkeeping import Ender, Reporter, RunSpec

log = logging.getLogger(__name__)


def choices_of(hydra_choices: dict) -> dict[str, str]:
    """The option chosen in each of our config groups (Hydra's own groups left out)."""
    return {g: str(o) for g, o in hydra_choices.items() if not g.startswith("hydra") and o}


def run_name(config: dict, choices: dict[str, str], number: int | None = None) -> str:
    """`scale-gd-lr0.01-e5000`, prefixed with `t007-` for trial 7 of a study."""
    name = (
        f"{choices['normalization']}-{choices['optimizer']}"
        f"-lr{config['optimizer']['lr']:g}-e{config['train']['epochs']}"
    )
    return name if number is None else f"t{number:03d}-{name}"


def run(cfg: DictConfig) -> None:
    """The entry point behind `python -m sweep`."""
    validate(cfg)
    choices = choices_of(HydraConfig.get().runtime.choices)
    if cfg.sweep.space:
        from sweep.sender import Sender

        # The sender process imports MLflow while this one imports torch and Optuna.
        t = cfg.tracking
        sender = Sender(t.uri, t.experiment, t.spool_dir, t.retry_seconds)
        try:
            from sweep.sweeper import run_sweep

            run_sweep(cfg, choices, sender)
        finally:
            sender.close()
        if sender.waiting:
            from sweep.redact import redact
            from sweep.spool import Spooled

            sync = "python -m sweep.sync"
            if t.spool_dir != ".sweep/spool":
                sync += f" --spool-dir {t.spool_dir}"
            raise Spooled(
                f"tracking.uri: MLflow at {redact(t.uri)} did not answer; {sender.waiting} "
                f"entries of this sweep wait in {t.spool_dir}/: send them with `{sync}`"
            )
    else:
        run_single(cfg, choices)


def run_single(cfg: DictConfig, choices: dict[str, str]) -> None:
    from sweep.reachable import check_reachable
    from sweep.records import run_record
    from sweep.tracking import Tracker

    config = OmegaConf.to_container(cfg, resolve=True)
    trial = Trial(run_name(config, choices), config, choices)
    check_data([trial])  # bad data fails here, before anything is tracked
    datasets = load_data([trial])
    check_reachable(cfg.tracking.uri)
    t0 = time.perf_counter()
    [result] = train_trials([trial], datasets)
    t1 = time.perf_counter()
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment)
    t2 = time.perf_counter()
    run_id = tracker.log_run(run_record(trial, result))
    t3 = time.perf_counter()
    print_run(result)
    print(f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' at {cfg.tracking.uri}")
    timings = (t1 - t0, t2 - t1, t3 - t2)
    log.info("timings: training %.2f s, store setup %.2f s, logging %.2f s", *timings)


def print_run(result: RunResult, every: int = 500) -> None:
    """The lecture's progress lines, then the final params (or where the run diverged)."""
    n = len(result.losses)
    for epoch in range(every, n + 1, every):
        print("Epoch %d, Loss %f" % (epoch, result.losses[epoch - 1]))
    if n % every and result.status != "diverged":
        print("Epoch %d, Loss %f" % (n, result.losses[-1]))
    if result.status == "diverged":
        print(
            f"Diverged: loss is not finite from epoch {result.diverged_at_epoch}; "
            f"epochs 1 to {n} are finite and logged"
        )
    else:
        print(
            f"params [{result.w:.4f}, {result.b:.4f}]  (raw units: w={result.w_raw:.6g}, "
            f"b={result.b_raw:.6g})  status {result.status}"
        )


def _data_key(trial: Trial) -> str:
    c = trial.config
    return json.dumps(
        [trial.choices["data"], c["data"], c["train"]["val_fraction"], c["train"]["seed"]],
        sort_keys=True,
    )


def _distinct_data(trials: Sequence[Trial]) -> dict[str, Trial]:
    found: dict[str, Trial] = {}
    for trial in trials:
        found.setdefault(_data_key(trial), trial)
    return found


def check_data(trials: Sequence[Trial]) -> None:
    """Raise the ConfigError that loading the trials' data, or fitting their normalizations on
    it, would raise (without torch, unless a training split could be constant)."""
    from sweep import data

    normalizations: dict[str, set[str]] = {}
    for trial in trials:
        normalizations.setdefault(_data_key(trial), set()).add(trial.choices["normalization"])
    for key, trial in _distinct_data(trials).items():
        c = trial.config
        data.check(trial.choices["data"], OmegaConf.create(c["data"]), c["train"]["val_fraction"],
                   c["train"]["seed"], normalizations[key])  # fmt: skip


def load_data(trials: Sequence[Trial]) -> dict:
    """Each distinct data set the trials use, loaded and split once."""
    from sweep import data

    datasets = {}
    for key, trial in _distinct_data(trials).items():
        c = trial.config
        readings = data.load(trial.choices["data"], OmegaConf.create(c["data"]))
        datasets[key] = data.split(readings, c["train"]["val_fraction"], c["train"]["seed"])
    return datasets


def run_spec(trial: Trial, train_t_u) -> RunSpec:
    from sweep import normalize
    from sweep.bookkeeping import RunSpec

    c = trial.config
    normalizer = normalize.fit(trial.choices["normalization"], train_t_u, **c["normalization"])
    hparams = tuple(sorted((k, float(v)) for k, v in c["optimizer"].items()))
    return RunSpec(normalizer, hparams, c["train"]["epochs"], tuple(c["train"]["init_params"]))


def train_trials(
    trials: Sequence[Trial],
    datasets: dict,
    report_every: int = 0,
    on_report: Reporter | None = None,
    on_end: Ender | None = None,
    report_val: bool = False,
) -> list[RunResult]:
    """Train trials in as few graphs as possible: one per data set and optimizer; `on_end`
    gets each trial's result (by trial index) as soon as the trial ends; `on_report` the
    validation loss if `report_val`."""
    from sweep.trainer import train

    groups: dict[tuple[str, str], list[int]] = {}
    for i, trial in enumerate(trials):
        groups.setdefault((_data_key(trial), trial.choices["optimizer"]), []).append(i)
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
