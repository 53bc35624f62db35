"""Optuna's samplers and pruners as Hydra `_target_` entries, and the per-epoch reports a
pruner judges.

`sweep.sampler` and `sweep.pruner.kind` take a name from `SAMPLERS` / `PRUNERS`, or any
class with its arguments, the way Hydra's own Optuna sweeper takes them:

    sweep.sampler='{_target_: optuna.samplers.QMCSampler, qmc_type: halton}'
    sweep.pruner.kind='{_target_: optuna.pruners.PercentilePruner, percentile: 25.0}'

A class is also given the sweep's settings it takes by name: `seed` (`sweep.seed`, plus the
worker's number) and the `sweep.pruner.*` settings (Optuna's own argument names).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Mapping
from typing import Any

import optuna

from sweep.core.config import ConfigError

SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {"_target_": "optuna.samplers.TPESampler", "constant_liar": True},
    "random": {"_target_": "optuna.samplers.RandomSampler"},
    "cmaes": {"_target_": "optuna.samplers.CmaEsSampler", "warn_independent_sampling": False},
    "gp": {"_target_": "optuna.samplers.GPSampler", "warn_independent_sampling": False},
    # A grid's points are all enqueued with fixed values, so its sampler is never consulted.
    "grid": {"_target_": "optuna.samplers.RandomSampler"},
}
PRUNERS: dict[str, dict[str, Any]] = {
    "none": {"_target_": "optuna.pruners.NopPruner"},
    "median": {"_target_": "optuna.pruners.MedianPruner"},
    "hyperband": {"_target_": "optuna.pruners.HyperbandPruner"},
}


def check_settings(sweep: Any, max_epochs: int) -> None:
    """The sampler and the pruner can be made, before anything is created."""
    make_sampler(sweep.sampler, sweep.seed)
    make_pruner(sweep.pruner, max_epochs)


def make_sampler(sampler: Any, seed: int) -> optuna.samplers.BaseSampler:
    entry = _entry("sweep.sampler", "sampler", sampler, SAMPLERS)
    return _build("sweep.sampler", entry, {"seed": seed})


def make_pruner(pruner: Any, max_epochs: int) -> optuna.pruners.BasePruner:
    settings = {f.name: getattr(pruner, f.name) for f in dataclasses.fields(pruner)}
    settings["max_resource"] = max(max_epochs, pruner.min_resource + 1)
    where = "sweep.pruner.kind"
    return _build(where, _entry(where, "pruner", pruner.kind, PRUNERS), settings)


def _entry(where: str, what: str, value: Any, named: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(value, str) and value in named:
        return named[value]
    if isinstance(value, Mapping) and isinstance(value.get("_target_"), str):
        return dict(value)
    allowed = ", ".join(named)
    shown = f"'{value}'" if isinstance(value, str) else repr(value)
    raise ConfigError(where, f"unknown {what} {shown}; allowed: {allowed}, or a mapping "
                      "{_target_: CLASS, ARG: VALUE, ...}")  # fmt: skip


def _build(where: str, entry: dict[str, Any], settings: dict[str, Any]) -> Any:
    from hydra.utils import get_class, instantiate

    hydra_log = logging.getLogger("hydra.utils")  # logs what we raise, on several lines
    level = hydra_log.level
    hydra_log.setLevel(logging.CRITICAL)
    try:
        takes = inspect.signature(get_class(entry["_target_"])).parameters
        given = {k: v for k, v in settings.items() if k in takes and k not in entry}
        return instantiate(entry, **given)
    except Exception as ex:  # a wrong class path or arguments: the user's input
        cause = ex.__cause__ or ex  # Hydra's wrapper adds lines of hints around the cause
        reason = " ".join(str(cause).split()) or type(cause).__name__
        raise ConfigError(where, f"{entry['_target_']} cannot be made: {reason}") from None
    finally:
        hydra_log.setLevel(level)


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
