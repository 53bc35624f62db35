"""Readings in, float32 tensors out: the lecture's thermometer or a CSV file.

`check` reads and checks them without torch, so a sweep can refuse bad data for every data
option before it starts, and import torch only when it trains. Trials that share a data set
(option, settings, split) share one load: `check_all`, `load_all`, `key`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweep.core.config import ConfigError
from sweep.core.schema import CsvDataConfig, option_of

if TYPE_CHECKING:
    import torch

    from sweep.core.trials import Trial

# Normalizations fitted by dividing by the spread of the training inputs.
SPREAD = {"standard", "minmax"}

# The lecture's readings: t_c in Celsius, t_u in the unknown thermometer's units.
T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


@dataclass(frozen=True)
class Readings:
    t_u: torch.Tensor
    t_c: torch.Tensor


@dataclass(frozen=True)
class Split:
    """Training readings and, when `train.val_fraction` > 0, held-out validation readings."""

    train: Readings
    val: Readings | None


def load(config: Any) -> Readings:
    """The readings a `data` config (`thermometer` or `csv`) names."""
    import torch

    t_u, t_c = columns(config)
    return Readings(torch.tensor(t_u, dtype=torch.float32), torch.tensor(t_c, dtype=torch.float32))


def check(config: Any, val_fraction: float, seed: int, normalizations: set[str]) -> None:
    """Raise the ConfigError that loading and splitting these readings, or fitting one of
    `normalizations` on the training split, would raise."""
    t_u = columns(config)[0]
    held_out = n_val(len(t_u), val_fraction)
    spread = sorted(normalizations & SPREAD)
    if spread and len(set(_training_inputs(t_u, val_fraction, seed))) == 1:
        where = (
            f"'{config.path}' column '{config.x}'" if isinstance(config, CsvDataConfig) else "t_u"
        )
        part = " in the training split" if held_out else ""
        raise ConfigError(
            "normalization",
            f"'{spread[0]}' divides by the spread of {where}, which is constant{part}; "
            "allowed here: none, scale",
        )


def _training_inputs(t_u: list[float], val_fraction: float, seed: int) -> list[float]:
    """The training split's inputs; torch (for the split's permutation) only when they could
    all be equal: some value occurs at least as often as the split is long."""
    held_out = n_val(len(t_u), val_fraction)
    if not held_out or max(map(t_u.count, set(t_u))) < len(t_u) - held_out:
        return t_u
    import torch

    readings = Readings(torch.tensor(t_u, dtype=torch.float32), torch.zeros(len(t_u)))
    return split(readings, val_fraction, seed).train.t_u.tolist()


def columns(config: Any) -> tuple[list[float], list[float]]:
    """t_u and t_c as floats, checked."""
    if isinstance(config, CsvDataConfig):
        return _read_csv(Path(config.path), config.x, config.y)
    return T_U, T_C


def _read_csv(path: Path, x: str, y: str) -> tuple[list[float], list[float]]:
    import pandas as pd

    if not path.is_file():
        raise ConfigError("data.path", f"no such file '{path}'")
    try:
        frame = pd.read_csv(path)  # pandas parses "35.7" to the same double Python does
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as ex:
        raise ConfigError("data.path", f"'{path}' is not a readable CSV file ({ex})") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas made the surplus fields an index
        raise ConfigError(
            "data.path",
            f"'{path}' has rows with more fields than its header's {len(frame.columns)}",
        )
    values = []
    for key, name in (("data.x", x), ("data.y", y)):
        if name not in frame.columns:
            raise ConfigError(key, f"'{path}' has no column '{name}'; it has {list(frame.columns)}")
        column = pd.to_numeric(frame[name], errors="coerce")
        bad = column.isna() & frame[name].notna()
        if bad.any():
            row = int(bad.idxmax()) + 2
            raise ConfigError(key, f"'{path}' column '{name}' is not numeric (line {row})")
        if column.isna().any() or not column.map(_finite).all():
            row = int((~column.map(_finite)).idxmax()) + 2
            raise ConfigError(key, f"'{path}' column '{name}' holds NaN or inf (line {row})")
        values.append(column.to_numpy(dtype="float64").tolist())
    if len(frame) < 2:
        raise ConfigError("data.path", f"'{path}' has {len(frame)} rows; at least 2 are needed")
    return values[0], values[1]


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def n_val(n_samples: int, val_fraction: float) -> int:
    """How many of `n_samples` readings `train.val_fraction` holds out (0 for none)."""
    if val_fraction == 0:
        return 0
    held_out = int(val_fraction * n_samples)
    if held_out < 1 or n_samples - held_out < 2:
        raise ConfigError(
            "train.val_fraction",
            f"{val_fraction} of {n_samples} readings leaves {held_out} for validation and "
            f"{n_samples - held_out} for training; need at least 1 and 2",
        )
    return held_out


def split(readings: Readings, val_fraction: float, seed: int) -> Split:
    """Hold out a seeded random `val_fraction` of the readings, as the book's next section does."""
    import torch

    n_samples = readings.t_u.shape[0]
    held_out = n_val(n_samples, val_fraction)
    if held_out == 0:
        return Split(readings, None)
    generator = torch.Generator().manual_seed(seed)
    shuffled_indices = torch.randperm(n_samples, generator=generator)
    train_indices = shuffled_indices[:-held_out]
    val_indices = shuffled_indices[-held_out:]
    return Split(
        Readings(readings.t_u[train_indices], readings.t_c[train_indices]),
        Readings(readings.t_u[val_indices], readings.t_c[val_indices]),
    )


def key(trial: Trial) -> str:
    """What makes two trials' data sets the same: option, its settings, and the split."""
    c = trial.config
    return json.dumps(
        [type(c.data).__name__, dataclasses.asdict(c.data), c.train.val_fraction, c.train.seed],
        sort_keys=True,
    )


def _distinct(trials: Sequence[Trial]) -> dict[str, Trial]:
    found: dict[str, Trial] = {}
    for trial in trials:
        found.setdefault(key(trial), trial)
    return found


def check_all(trials: Sequence[Trial]) -> None:
    """Raise the ConfigError that loading the trials' data, or fitting their normalizations on
    it, would raise (without torch, unless a training split could be constant)."""
    normalizations: dict[str, set[str]] = {}
    for trial in trials:
        normalizations.setdefault(key(trial), set()).add(option_of(trial.config.normalization))
    for k, trial in _distinct(trials).items():
        c = trial.config
        check(c.data, c.train.val_fraction, c.train.seed, normalizations[k])


def load_all(trials: Sequence[Trial]) -> dict[str, Split]:
    """Each distinct data set the trials use, loaded and split once, by `key`."""
    datasets = {}
    for k, trial in _distinct(trials).items():
        c = trial.config
        datasets[k] = split(load(c.data), c.train.val_fraction, c.train.seed)
    return datasets
