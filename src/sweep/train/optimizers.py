"""Update rules for K parameter rows at once, each row with its own hyperparameters.

`params` has shape [2, K, 1] (w and b of each row) and every hyperparameter is a [K, 1]
column, so one rule serves a single run and a batch alike. `gd` is the lecture's line;
`sgd` and `adam` follow torch.optim.SGD / torch.optim.Adam step for step (PyTorch's own
optimizers take one learning rate per parameter group, not one per row). Rows are
independent, so dropping finished rows (`keep`) changes nothing for the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _column(values: Sequence[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.tensor(list(values), dtype=torch.float64).to(dtype).reshape(-1, 1)


class GD:
    """The lecture: `params -= learning_rate * params.grad`."""

    def __init__(self, hparams: Sequence[dict[str, float]]) -> None:
        self.learning_rate = _column(h["lr"] for h in hparams)

    def step(self, params: torch.Tensor) -> None:
        with torch.no_grad():
            params -= self.learning_rate * params.grad

    def keep(self, rows: torch.Tensor) -> None:
        self.learning_rate = self.learning_rate[rows]


class SGD(GD):
    """torch.optim.SGD with momentum (no dampening, no Nesterov, no weight decay)."""

    def __init__(self, hparams: Sequence[dict[str, float]]) -> None:
        super().__init__(hparams)
        self.momentum = _column(h["momentum"] for h in hparams)
        self.buf: torch.Tensor | None = None

    def step(self, params: torch.Tensor) -> None:
        with torch.no_grad():
            grad = params.grad
            # torch starts the buffer as a copy of the first gradient; 0 * m + g is exactly g.
            self.buf = grad.clone() if self.buf is None else self.momentum * self.buf + grad
            params -= self.learning_rate * self.buf

    def keep(self, rows: torch.Tensor) -> None:
        super().keep(rows)
        self.momentum = self.momentum[rows]
        if self.buf is not None:
            self.buf = self.buf[:, rows]


class Adam(GD):
    """torch.optim.Adam (no AMSGrad, no weight decay), bias corrections in float64 as torch does."""

    def __init__(self, hparams: Sequence[dict[str, float]]) -> None:
        super().__init__(hparams)
        self.lr64 = _column((h["lr"] for h in hparams), torch.float64)
        self.beta1 = _column((h["beta1"] for h in hparams), torch.float64)
        self.beta2 = _column((h["beta2"] for h in hparams), torch.float64)
        self.eps = _column(h["eps"] for h in hparams)
        self.t = 0
        self.exp_avg = torch.zeros(())
        self.exp_avg_sq = torch.zeros(())

    def step(self, params: torch.Tensor) -> None:
        with torch.no_grad():
            grad = params.grad
            self.t += 1
            one_minus_beta1 = (1 - self.beta1).float()
            self.exp_avg = self.exp_avg + one_minus_beta1 * (grad - self.exp_avg)
            self.exp_avg_sq = (
                self.exp_avg_sq * self.beta2.float() + (1 - self.beta2).float() * grad * grad
            )
            bias_correction1 = 1 - self.beta1**self.t
            bias_correction2_sqrt = (1 - self.beta2**self.t).sqrt()
            step_size = (self.lr64 / bias_correction1).float()
            denom = self.exp_avg_sq.sqrt() / bias_correction2_sqrt.float() + self.eps
            params -= step_size * self.exp_avg / denom

    def keep(self, rows: torch.Tensor) -> None:
        super().keep(rows)
        for name in ("lr64", "beta1", "beta2", "eps"):
            setattr(self, name, getattr(self, name)[rows])
        if self.t:
            self.exp_avg = self.exp_avg[:, rows]
            self.exp_avg_sq = self.exp_avg_sq[:, rows]


# The rule of each `optimizer` option (the options: `sweep.core.schema.SCHEMAS`).
RULES: dict[str, type[GD]] = {"gd": GD, "sgd": SGD, "adam": Adam}


def make(kind: str, hparams: Sequence[dict[str, float]]) -> GD:
    """The update rule `kind` for rows with the given hyperparameters."""
    return RULES[kind](hparams)
