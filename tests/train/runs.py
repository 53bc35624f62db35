"""Runs on the lecture's readings, built from plain values (no config), for the trainer's, the
optimizers' and the book's tests."""

from __future__ import annotations

import torch

from sweep.train.bookkeeping import RunSpec
from sweep.train.data import T_C, T_U, Readings, split
from sweep.train.normalize import Normalizer

# The thermometer's readings, all of them for training (as `load` gives them: float32).
DATA = split(Readings(torch.tensor(T_U), torch.tensor(T_C)), 0.0, 0)


def normalizer(kind: str, t_u: torch.Tensor = DATA.train.t_u) -> Normalizer:
    """Normalization `kind` fitted on `t_u` with normalize.fit's float64 statistics
    (`scale`: the lecture's factor 0.1)."""
    values = t_u.double()
    if kind == "standard":
        return Normalizer(kind, values.mean().item(), values.std(correction=0).item())
    if kind == "minmax":
        return Normalizer(kind, values.min().item(), (values.max() - values.min()).item())
    return Normalizer(kind, factor=0.1) if kind == "scale" else Normalizer(kind)


def spec(norm="scale", lr=1e-2, epochs=5000, **hparams) -> RunSpec:
    h = tuple(sorted({"lr": lr, **hparams}.items()))
    return RunSpec(normalizer(norm), h, epochs)
