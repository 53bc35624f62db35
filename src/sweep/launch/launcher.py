"""`python -m sweep`'s top: the config checked and typed, then this process is the one worker
(`launcher=none`), or it launches workers (`local`, `slurm`) and follows the study until it is
done. Every check a sweep makes before it creates anything is made here before any worker
starts: a bad setting costs one line and leaves no job and nothing in either store."""

from __future__ import annotations

import math
import os
import shlex
import sys

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sweep.app import dispatch, summary
from sweep.app.parent import write_summary
from sweep.app.plan import plan_sweep
from sweep.core import signals
from sweep.core.config import METRICS, ConfigError
from sweep.core.redact import redact
from sweep.core.schema import NoLauncherConfig, RootConfig, SlurmLauncherConfig
from sweep.launch import jobs, watch
from sweep.launch.local import Local
from sweep.launch.slurm import Slurm
from sweep.study import study as studies
from sweep.study.claims import tally
from sweep.study.study import PARENT
from sweep.track.reachable import check_reachable


def run(cfg: DictConfig) -> None:
    config, choices = dispatch.typed(cfg)
    if isinstance(config.launcher, NoLauncherConfig):
        dispatch.run(config, choices)
    else:
        launch(config, choices)


def launch(config: RootConfig, choices: dict[str, str]) -> None:
    if not config.sweep.space:
        raise ConfigError(
            "launcher",
            "launches the workers of a sweep, and this config has no "
            "sweep.space (e.g. +experiment=lr_grid; launcher=none for one run)",
        )
    slurm = isinstance(config.launcher, SlurmLauncherConfig)
    launcher = Slurm(config) if slurm else Local(config)
    launcher.check()
    plan = plan_sweep(config)
    check_reachable(config.tracking.uri)
    made_for = studies.identity(plan.settings, choices, plan.space, config.sweep.sampler)
    found = studies.peek(config.sweep, made_for)  # another sweep's study is refused here

    hydra = HydraConfig.get()
    out = hydra.runtime.output_dir
    os.environ.update(jobs.secrets(config))  # inherited by the workers; sbatch exports it
    # Each worker's share of the study in one batch, at most sweep.batch_size: the first to
    # start does not take it all.
    workers = config.launcher.workers
    batch = min(config.sweep.batch_size, math.ceil(plan.total / workers))
    argv = jobs.command(hydra, batch)
    started = launcher.start(jobs.Worker(argv, os.getcwd(), f"{out}/workers"))
    if slurm:
        print(started.hints(), flush=True)
        if not config.launcher.wait:
            return

    def read():
        nonlocal found
        found = found or studies.peek(config.sweep, made_for)
        return (
            None if found is None else tally(found, plan.grid, plan.total, config.sweep.max_retries)
        )

    every = config.launcher.poll_seconds if slurm else 1.0
    try:
        final = watch.follow(started, read, plan.total, every)
    except KeyboardInterrupt as ex:
        print(started.interrupted(ex), flush=True)
        raise SystemExit(signals.exit_status(ex)) from None
    watch.verdict(final, started, resume_command())
    by = METRICS[config.sweep.metric]
    path = write_summary(summary.frame(found, plan, config.sweep), out, by, {})
    print(
        f"Done: {final.done} trials by {workers} workers. Parent run "
        f"{found.attr(PARENT)} ('{found.name}').\nSummary table: {path}"
    )


def resume_command() -> str:
    """The command that launched this one, to run again (passwords left out)."""
    return redact(shlex.join(["python", "-m", "sweep", *sys.argv[1:]]))
