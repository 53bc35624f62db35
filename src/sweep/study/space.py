"""A sweep's search space, from `sweep.space`: keys are the dotted keys users override.

A list is a set of choices (for a group name such as `normalization`, a list of options); a
mapping `{low, high, log, step}` is a range, integer or float after the key's own type.
Grids enumerate choices (and stepped ranges); Optuna samples any of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sweep.core.config import GROUPS, ConfigError, check_value

RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Axis:
    key: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    is_int: bool = False

    def values(self) -> list[Any]:
        """The axis's grid values."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None:
            raise ConfigError(
                f"sweep.space.{self.key}", "a grid needs a list of values or a range with step"
            )
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [min(self.low + i * self.step, self.high) for i in range(count)]
        return [int(v) for v in values] if self.is_int else values

    def distribution(self) -> BaseDistribution:
        """What Optuna samples this axis from (and records with each trial's value)."""
        if self.choices is not None:
            return CategoricalDistribution(list(self.choices))
        if self.is_int:
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=int(self.step or 1))  # fmt: skip
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Space:
    axes: tuple[Axis, ...]

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the axes' values, in a stable order."""
        names = [a.key for a in self.axes]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(
            *(a.values() for a in self.axes))]  # fmt: skip

    @cached_property
    def distributions(self) -> dict[str, BaseDistribution]:
        """Built once: every ask and every queued grid point use them."""
        return {a.key: a.distribution() for a in self.axes}

    @property
    def keys(self) -> list[str]:
        return [a.key for a in self.axes]


def parse(
    space: Mapping[str, Any], known: dict[str, Any], options: Callable[[str], list[str]]
) -> Space:
    """Validate `sweep.space` against the trial settings it may vary (`known`, dotted keys:
    `core.config.trial_settings`) and the groups' options."""
    axes = []
    for key, spec in dict(_flatten(space)).items():
        where = f"sweep.space.{key}"
        if key in GROUPS:
            axes.append(_group_axis(where, key, spec, options(key)))
        elif key in known:
            axes.append(_leaf_axis(where, key, spec, known[key]))
        else:
            allowed = ", ".join([*GROUPS, *sorted(known)])
            raise ConfigError(where, f"unknown key '{key}'; a sweep can vary {allowed}")
    return Space(tuple(axes))


def _flatten(space: Mapping[str, Any], prefix: str = ""):
    """Dotted keys, also from nested mappings (`sweep.space.optimizer.lr=[...]` on the command
    line nests); a later entry for the same key wins."""
    for key, spec in space.items():
        if isinstance(spec, dict) and spec and not set(spec) & RANGE_KEYS:
            yield from _flatten(spec, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", spec


def _group_axis(where: str, group: str, spec: Any, allowed: list[str]) -> Axis:
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise ConfigError(where, "empty list; give at least one option")
    for value in values:
        if value not in allowed:
            raise ConfigError(where, f"unknown option '{value}'; allowed: {', '.join(allowed)}")
    return Axis(group, choices=tuple(values))


def _leaf_axis(where: str, key: str, spec: Any, current: Any) -> Axis:
    is_int = isinstance(current, int) and not isinstance(current, bool)
    if isinstance(spec, dict):
        return _range_axis(where, key, spec, is_int)
    values = spec if isinstance(spec, list) and not isinstance(current, list) else [spec]
    if not values:
        raise ConfigError(where, "empty list; give at least one value")
    for value in values:
        if is_int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(where, f"{value!r} is not an integer")
        _check(where, key, value)
    return Axis(key, choices=tuple(values))


def _range_axis(where: str, key: str, spec: dict, is_int: bool) -> Axis:
    unknown = set(spec) - RANGE_KEYS
    if unknown or not {"low", "high"} <= set(spec):
        raise ConfigError(where, "a range is {low, high} with optional log and step")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), bool(spec.get("log"))
    numbers = [n for n in (low, high, step) if n is not None]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        raise ConfigError(where, "low, high and step must be numbers")
    if is_int and not all(isinstance(n, int) for n in numbers):
        raise ConfigError(where, f"'{key}' is an integer: low, high and step must be integers")
    if low > high:
        raise ConfigError(where, f"low ({low}) > high ({high})")
    if log and low <= 0:
        raise ConfigError(where, f"a log range needs low > 0 (got {low})")
    if step is not None and (step <= 0 or log):
        raise ConfigError(where, "step must be > 0 and cannot be combined with log")
    _check(where, key, low)
    _check(where, key, high)
    return Axis(key, low=low, high=high, log=log, step=step, is_int=is_int)


def _check(where: str, key: str, value: Any) -> None:
    try:
        check_value(key, value)
    except ConfigError as ex:
        raise ConfigError(where, str(ex).split(": ", 1)[1]) from None
