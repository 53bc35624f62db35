"""Normalizations are fitted on training data, and map params back to raw units."""

from __future__ import annotations

import pytest
import torch

from sweep.core.config import ConfigError
from sweep.core.schema import SCHEMAS, make_option
from sweep.train import normalize

T_U = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
KINDS = list(SCHEMAS["normalization"])


def fit(kind: str, t_u: torch.Tensor) -> normalize.Normalizer:
    """The option `kind` with its schema's defaults (scale: the lecture's 0.1)."""
    return normalize.fit(make_option("normalization", kind), t_u)


def test_scale_is_the_lectures_expression():
    assert torch.equal(fit("scale", T_U).apply(T_U), 0.1 * T_U)
    assert torch.equal(fit("none", T_U).apply(T_U), T_U)


def test_standard_and_minmax_statistics():
    z = fit("standard", T_U).apply(T_U).double()
    assert z.mean().item() == pytest.approx(0, abs=1e-6)
    assert z.std(correction=0).item() == pytest.approx(1, abs=1e-6)
    m = fit("minmax", T_U).apply(T_U)
    assert (m.min().item(), m.max().item()) == pytest.approx((0, 1), abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_raw_params_predict_what_normalized_params_predict(kind):
    norm = fit(kind, T_U)
    w, b = 1.7, -3.2
    w_raw, b_raw = norm.to_raw(w, b)
    predicted = w * norm.apply(T_U).double() + b
    assert (w_raw * T_U.double() + b_raw).tolist() == pytest.approx(predicted.tolist(), rel=1e-5)


def test_constant_inputs_cannot_be_standardized():
    with pytest.raises(ConfigError, match="normalization: 'standard' needs"):
        fit("standard", torch.ones(5))
