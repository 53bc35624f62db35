"""Optuna's samplers and pruners, by the names `sweep.sampler` and `sweep.pruner.kind` take,
and the per-epoch reports a pruner judges."""

from __future__ import annotations

from typing import Any

import optuna

from sweep.core.config import ConfigError

SAMPLERS = ("tpe", "random", "cmaes", "gp", "grid")
PRUNERS = ("none", "median", "hyperband")


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


def reporter(asked: list[optuna.Trial]):
    """Per-epoch reports to Optuna, for the trainer's `on_report`: the indices of the runs
    the pruner prunes, which the trainer then stops."""

    def on_report(epoch: int, losses: dict[int, float]) -> set[int]:
        pruned = set()
        for i, loss in losses.items():
            asked[i].report(loss, epoch)
            if asked[i].should_prune():
                pruned.add(i)
        return pruned

    return on_report
