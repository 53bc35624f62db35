"""Input normalizations, fitted on the training readings, and the map back to raw units.

The model is `w * t_un + b` with `t_un = (t_u - shift) / div` (for `scale`, the lecture's
`factor * t_u`), so in raw units it is `w_raw = w / div`, `b_raw = b - w * shift / div`:
that is what lets runs with different normalizations be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from sweep.core.config import ConfigError
from sweep.core.schema import option_of


@dataclass(frozen=True)
class Normalizer:
    kind: str
    shift: float = 0.0
    div: float = 1.0
    factor: float = 1.0

    def apply(self, t_u: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return t_u
        if self.kind == "scale":
            return self.factor * t_u
        return (t_u - self.shift) / self.div

    def to_raw(self, w: float, b: float) -> tuple[float, float]:
        """(w, b) as trained -> (w, b) for raw inputs."""
        if self.kind == "scale":
            return w * self.factor, b
        return w / self.div, b - w * self.shift / self.div


def fit(config: Any, t_u: torch.Tensor) -> Normalizer:
    """The normalizer a `normalization` config asks for, fitted on training inputs `t_u`
    (float64 statistics)."""
    kind = option_of(config)
    values = t_u.double()
    if kind == "none":
        return Normalizer(kind)
    if kind == "scale":
        return Normalizer(kind, factor=config.factor)
    if kind == "standard":
        shift, div = values.mean().item(), values.std(correction=0).item()
    else:  # minmax
        shift, div = values.min().item(), (values.max() - values.min()).item()
    if div == 0:
        raise ConfigError("normalization", f"'{kind}' needs at least two distinct inputs")
    return Normalizer(kind, shift=shift, div=div)
