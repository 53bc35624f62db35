"""What `python -m sweep` does with a composed config: one run, or a sweep, side by side.

A single run goes through the same path as a batch of trials (a batch of one), but lands in
MLflow as a plain run with no parent. A sweep's MLflow writes go through a sender process,
started here, so that this one trains while that one sends.
"""

from __future__ import annotations

import logging
import time

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sweep.core.config import validate
from sweep.core.results import RunResult
from sweep.core.schema import RootConfig
from sweep.core.trials import Trial, choices_of, run_name
from sweep.train import data
from sweep.train.batching import train_trials

log = logging.getLogger(__name__)


def typed(cfg: DictConfig) -> tuple[RootConfig, dict[str, str]]:
    """The composed config checked, then typed once, here (everything below reads the typed
    one), and the group options it was composed from."""
    validate(cfg)
    config: RootConfig = OmegaConf.to_object(cfg)
    return config, choices_of(HydraConfig.get().runtime.choices)


def run(config: RootConfig, choices: dict[str, str]) -> None:
    """What this process does as the one worker: a sweep when the config has a space, else
    one run."""
    if config.sweep.space:
        run_sweep(config, choices)
    else:
        run_single(config, choices)


def run_sweep(cfg: RootConfig, choices: dict[str, str]) -> None:
    from sweep.app import sweeper
    from sweep.core.defaults import optuna_defaults
    from sweep.track.sender import Sender

    optuna_defaults()

    # The sender process imports MLflow while this one imports torch and Optuna.
    t = cfg.tracking
    sender = Sender(t.uri, t.experiment, t.spool_dir, t.retry_seconds)
    try:
        sweeper.run_sweep(cfg, choices, sender)
    finally:
        sender.close()
    if sender.waiting:
        from sweep.core.errors import Spooled
        from sweep.core.redact import redact

        sync = "python -m sweep.sync"
        if t.spool_dir != ".sweep/spool":
            sync += f" --spool-dir {t.spool_dir}"
        raise Spooled(
            f"tracking.uri: MLflow at {redact(t.uri)} did not answer; {sender.waiting} "
            f"entries of this sweep wait in {t.spool_dir}/: send them with `{sync}`"
        )


def run_single(cfg: RootConfig, choices: dict[str, str]) -> None:
    from sweep.track.records import run_record
    from sweep.track.tracker import Tracker

    trial = Trial(run_name(cfg, choices), cfg, choices)
    data.check_all([trial])  # bad data fails here, before anything is tracked
    datasets = data.load_all([trial])
    t0 = time.perf_counter()
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment)  # a bad server fails here
    t1 = time.perf_counter()
    [result] = train_trials([trial], datasets)
    t2 = time.perf_counter()
    run_id = tracker.log_run(run_record(trial, result))
    t3 = time.perf_counter()
    print_run(result)
    print(f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' at {cfg.tracking.uri}")
    timings = (t2 - t1, t1 - t0, t3 - t2)
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
