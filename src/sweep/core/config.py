"""The checks Hydra's types cannot express, and the error every bad value becomes.

Types and keys are checked by the schemas (`sweep.core.schema`) while Hydra composes;
`validate` then checks ranges and what values must agree on. Both kinds of failure end up as one
`ConfigError` line that names the key and what is allowed (see `errors.py`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from sweep.core.schema import LAUNCHERS, SCHEMAS

# Groups whose option is itself a choice a sweep can vary.
GROUPS = tuple(SCHEMAS)


class ConfigError(Exception):
    """A bad value, reported as one line that names the key and what is allowed."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


# sweep.metric -> the summary column it ranks trials by.
METRICS = {"loss": "final_loss", "val_loss": "final_val_loss"}
MAX_EPOCHS = 1_000_000  # each run keeps its loss curve: 8 MB, and minutes of training


def _positive(v: float) -> bool:
    return v > 0


def _unit(v: float) -> bool:
    return 0 <= v < 1


# Range rules for leaves whose type alone does not make them valid: key -> (allowed, test).
RULES: dict[str, tuple[str, Any]] = {
    "optimizer.lr": ("a number > 0", _positive),
    "optimizer.momentum": ("a number in [0, 1)", _unit),
    "optimizer.beta1": ("a number in [0, 1)", _unit),
    "optimizer.beta2": ("a number in [0, 1)", _unit),
    "optimizer.eps": ("a number > 0", _positive),
    "normalization.factor": ("a number > 0", _positive),
    "train.epochs": ("an integer in [1, 1000000]", lambda v: 1 <= v <= MAX_EPOCHS),
    "train.val_fraction": ("a number in [0, 1)", _unit),
    "train.init_params": ("two finite numbers [w, b]", lambda v: len(v) == 2),
    "tracking.retry_seconds": ("a number > 0", _positive),
    "sweep.n_trials": ("an integer >= 1, or null for the whole grid", lambda v: v >= 1),
    "sweep.batch_size": ("an integer >= 1", lambda v: v >= 1),
    "sweep.report_every": ("an integer >= 1", lambda v: v >= 1),
    "sweep.heartbeat_interval": ("an integer >= 1", lambda v: v >= 1),
    "sweep.grace_period": ("an integer >= 2", lambda v: v >= 2),
    "sweep.max_retries": ("an integer >= 1", lambda v: v >= 1),
    "sweep.pruner.n_startup_trials": ("an integer >= 0", lambda v: v >= 0),
    "sweep.pruner.n_warmup_steps": ("an integer >= 0", lambda v: v >= 0),
    "sweep.pruner.min_resource": ("an integer >= 1", lambda v: v >= 1),
    "sweep.pruner.reduction_factor": ("an integer >= 2", lambda v: v >= 2),
    "launcher.workers": ("an integer >= 1", lambda v: v >= 1),
    "launcher.time": ("an integer >= 1 (minutes)", lambda v: v >= 1),
    "launcher.cpus_per_task": ("an integer >= 1", lambda v: v >= 1),
    "launcher.mem_gb": ("a number > 0 (GB), or null for the cluster's default", _positive),
    "launcher.gpus_per_node": ("an integer >= 0, or null", lambda v: v >= 0),
    "launcher.array_parallelism": ("an integer >= 1, or null for all at once", lambda v: v >= 1),
    "launcher.poll_seconds": ("a number > 0", _positive),
}


def check_value(key: str, value: Any) -> None:
    """Raise ConfigError unless `value` is allowed at `key` (keys without a rule pass)."""
    if key not in RULES or value is None:
        return
    allowed, test = RULES[key]
    numbers = value if isinstance(value, list | tuple) else [value]
    ok = all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
    if not (ok and all(math.isfinite(n) for n in numbers) and test(value)):
        raise ConfigError(key, f"must be {allowed} (got {value!r})")


def plain(node: Any) -> Any:
    """A config, composed (DictConfig) or typed (the schema's dataclasses), as plain dicts and
    lists with every interpolation resolved."""
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    if dataclasses.is_dataclass(node):
        return dataclasses.asdict(node)
    return node


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a config under its dotted key; lists count as leaves."""
    out: dict[str, Any] = {}
    for key, value in plain(node).items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict | DictConfig) or dataclasses.is_dataclass(value):
            out.update(leaves(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def trial_settings(config: Any) -> dict[str, Any]:
    """The dotted leaves a trial's run is made of (its data, normalization, optimizer and
    training settings): what a sweep may vary, and what a study remembers of the rest."""
    return leaves({g: getattr(config, g) for g in (*GROUPS, "train")})


def validate(cfg: DictConfig) -> None:
    """Check every ranged leaf of a composed config (types were checked by the schema)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(missing[0], f"a value is required (add {missing[0]}=...)")
    # A user's own option must say which kind it is.
    for group, options in {**SCHEMAS, "launcher": LAUNCHERS}.items():
        if OmegaConf.get_type(cfg, group) not in options.values():
            schemas = f"/schema/{group}/{{{','.join(options)}}}@_here_"
            raise ConfigError(group, "the option's file names no schema; start its defaults "
                              f"list with one of {schemas}")  # fmt: skip
    for key, value in leaves(cfg).items():
        if not key.startswith("sweep.space."):
            check_value(key, value)
    for key in ("tracking.uri", "tracking.experiment", "tracking.spool_dir", "name"):
        if not str(OmegaConf.select(cfg, key) or "").strip():
            raise ConfigError(key, "must not be empty")
    for key, most in (("tracking.experiment", 500), ("name", 250), ("sweep.study_name", 250)):
        if len(str(OmegaConf.select(cfg, key) or "")) > most:  # MLflow's and Optuna's limits
            raise ConfigError(key, f"must be at most {most} characters long")
    if cfg.sweep.metric not in METRICS:
        raise ConfigError("sweep.metric", f"unknown metric '{cfg.sweep.metric}'; allowed: "
                          f"{', '.join(METRICS)}")  # fmt: skip
    if cfg.sweep.metric == "val_loss" and not cfg.train.val_fraction:
        raise ConfigError("sweep.metric", "val_loss needs a validation split: set "
                          "train.val_fraction in (0, 1), e.g. train.val_fraction=0.2")  # fmt: skip
    beat, grace = cfg.sweep.heartbeat_interval, cfg.sweep.grace_period
    if grace < 2 * beat:
        # One late beat must not make a live worker's trials look dead.
        raise ConfigError(
            "sweep.grace_period",
            f"must be at least 2 x sweep.heartbeat_interval = {2 * beat} (got {grace})",
        )
