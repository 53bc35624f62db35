"""A trial: one training run's typed config and group choices, its name, and how Hydra
composes it from the user's command line plus the trial's values.

Group choices (`normalization=minmax`) need Hydra to compose, because an option brings its
own settings; composition is cached per combination of group choices, and leaf values
(`optimizer.lr`) are then set on a copy, with the schema checking their types, before the
copy becomes the typed `RootConfig`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from sweep.core.config import GROUPS
from sweep.core.schema import RootConfig


@dataclass(frozen=True)
class Trial:
    """One training run's typed config and the option chosen in each config group."""

    name: str
    config: RootConfig
    choices: dict[str, str]
    number: int | None = None  # Optuna's trial number, when the run is part of a study


def choices_of(hydra_choices: dict) -> dict[str, str]:
    """The option chosen in each of our config groups (Hydra's own groups left out, and the
    launcher: how workers start is no part of what they train)."""
    ours = {g: o for g, o in hydra_choices.items() if not g.startswith(("hydra", "launcher"))}
    return {g: str(o) for g, o in ours.items() if o}


def run_name(config: RootConfig, choices: dict[str, str], number: int | None = None) -> str:
    """`scale-gd-lr0.01-e5000`, prefixed with `t007-` for trial 7 of a study."""
    name = (
        f"{choices['normalization']}-{choices['optimizer']}"
        f"-lr{config.optimizer.lr:g}-e{config.train.epochs}"
    )
    return name if number is None else f"t{number:03d}-{name}"


def override_key(override: str) -> str:
    """`+experiment=x` -> `experiment`, `optimizer.lr=1` -> `optimizer.lr`."""
    return override.split("=", 1)[0].lstrip("+~")


class Composer:
    def __init__(self, config_name: str, base_overrides: list[str]) -> None:
        self.config_name = config_name  # the sweep's own (`--config-name/-cn`), not "config"
        self.base = list(base_overrides)
        self.cache: dict[tuple, tuple[DictConfig, dict[str, str]]] = {}

    def compose(self, params: dict[str, Any]) -> tuple[RootConfig, dict[str, str]]:
        """The typed config and group choices of a trial with values `params`."""
        from hydra import compose

        groups = {k: v for k, v in params.items() if k in GROUPS}
        key = tuple(sorted(groups.items()))
        if key not in self.cache:
            kept = [o for o in self.base if override_key(o) not in params]
            overrides = kept + [f"{g}={o}" for g, o in groups.items()]
            cfg = compose(self.config_name, overrides=overrides, return_hydra_config=True)
            choices = choices_of(cfg.hydra.runtime.choices)
            with open_dict(cfg):
                del cfg["hydra"]
            self.cache[key] = (cfg, choices)
        cfg, choices = self.cache[key]
        cfg = copy.deepcopy(cfg)
        for name, value in params.items():
            if name not in GROUPS:
                OmegaConf.update(cfg, name, value, merge=False)
        return OmegaConf.to_object(cfg), choices

    def trial(self, params: dict[str, Any], number: int | None = None) -> Trial:
        """The trial with values `params`, named (as trial `number` of a study, if given)."""
        config, choices = self.compose(params)
        return Trial(run_name(config, choices, number), config, choices, number)
