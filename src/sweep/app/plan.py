"""What a sweep will run, checked before anything is created in either store: the space, the
budget, and every combination of group options composed with its data read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from sweep.core.config import GROUPS, ConfigError, trial_settings
from sweep.core.schema import RootConfig
from sweep.core.trials import Composer
from sweep.study.samplers import check_settings
from sweep.study.space import Space, parse
from sweep.train import data


@dataclass(frozen=True)
class Plan:
    space: Space
    settings: dict[str, Any]  # the trials' settings, dotted (`core.config.trial_settings`)
    composer: Composer
    total: int  # the study's budget: trials done, running or to run
    grid: list[dict[str, Any]] | None  # the grid's points within the budget, or None
    max_epochs: int  # the most epochs any trial can ask for (the pruners' horizon)


def plan_sweep(cfg: RootConfig) -> Plan:
    """Raise the ConfigError of any bad sweep setting, trial config or data."""
    loader = GlobalHydra.instance().config_loader()
    settings = trial_settings(cfg)
    space = parse(cfg.sweep.space, settings, lambda g: sorted(loader.get_group_options(g)))
    hydra = HydraConfig.get()
    composer = Composer(hydra.job.config_name, list(hydra.overrides.task))
    grid = space.grid() if cfg.sweep.sampler == "grid" else None
    total = _budget(cfg, grid)
    max_epochs = _max_epochs(space, cfg)
    check_settings(cfg.sweep, max_epochs)
    combos: list[dict[str, Any]] = [{}]
    for axis in (a for a in space.axes if a.key in GROUPS):
        combos = [{**c, axis.key: v} for c in combos for v in axis.choices]
    data.check_all([composer.trial(combo) for combo in combos])
    return Plan(
        space, settings, composer, total, None if grid is None else grid[:total], max_epochs
    )


def _budget(cfg: RootConfig, grid: list | None) -> int:
    n_trials = cfg.sweep.n_trials
    if grid is not None:
        return min(n_trials or len(grid), len(grid))
    if n_trials is None:
        raise ConfigError("sweep.n_trials", f"required for sampler '{cfg.sweep.sampler}'")
    return n_trials


def _max_epochs(space: Space, cfg: RootConfig) -> int:
    epochs = next((a for a in space.axes if a.key == "train.epochs"), None)
    if epochs is None:
        return int(cfg.train.epochs)
    return int(max(epochs.choices) if epochs.choices is not None else epochs.high)
