"""The update rules: the lecture's line, and sgd and adam as torch.optim computes them, for K
rows at once, each row with its own hyperparameters and none affecting another."""

from __future__ import annotations

import pytest
import torch

from sweep.core.schema import SCHEMAS
from sweep.train import optimizers
from sweep.train.trainer import train
from train.runs import DATA, spec

T_UN, T_C = 0.1 * DATA.train.t_u, DATA.train.t_c  # the lecture's normalized inputs


def test_each_kind_is_its_rule():
    hparams = [{"lr": 0.1, "momentum": 0.5, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}]
    made = {kind: type(optimizers.make(kind, hparams)) for kind in SCHEMAS["optimizer"]}
    assert made == {"gd": optimizers.GD, "sgd": optimizers.SGD, "adam": optimizers.Adam}


def rows(values: list[list[float]]) -> torch.Tensor:
    """params of shape [2, K, 1] from K rows [w, b]."""
    return torch.tensor(values).T.unsqueeze(-1).contiguous().requires_grad_(True)


def as_rows(params: torch.Tensor) -> list[list[float]]:
    return params.detach()[:, :, 0].T.tolist()


def test_gd_steps_each_row_by_its_own_learning_rate():
    params = rows([[1.0, 2.0], [1.0, 2.0]])
    params.grad = torch.tensor([[[4.0], [4.0]], [[-8.0], [-8.0]]])
    optimizers.make("gd", [{"lr": 0.5}, {"lr": 0.25}]).step(params)
    assert as_rows(params) == [[-1.0, 6.0], [0.0, 4.0]]


def test_sgd_keeps_a_momentum_buffer_that_starts_as_a_copy_of_the_first_gradient():
    params = rows([[0.0, 0.0]])
    params.grad = torch.ones(2, 1, 1)
    step = optimizers.make("sgd", [{"lr": 1.0, "momentum": 0.5}])
    step.step(params)  # buffer 1
    assert as_rows(params) == [[-1.0, -1.0]]
    params.grad.zero_()  # as the loop clears it, in place, before the next backward
    params.grad += 2.0
    step.step(params)  # buffer 0.5 * 1 + 2
    assert as_rows(params) == [[-3.5, -3.5]]


def test_adams_first_step_moves_each_row_by_about_its_learning_rate():
    params = rows([[0.0, 0.0], [0.0, 0.0]])
    params.grad = torch.tensor([[[3.0], [-0.01]], [[-40.0], [5.0]]])
    hparams = [{"lr": 0.5, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
               {"lr": 0.125, "beta1": 0.5, "beta2": 0.9, "eps": 1e-8}]  # fmt: skip
    optimizers.make("adam", hparams).step(params)
    # m / sqrt(v) after one step, bias-corrected, is the gradient's sign.
    first, second = as_rows(params)  # [w, b] of each row
    assert first == pytest.approx([-0.5, 0.5], rel=1e-5)
    assert second == pytest.approx([0.125, -0.125], rel=1e-5)


def lecture_grad_steps(step: optimizers.GD, params: torch.Tensor, epochs: int) -> torch.Tensor:
    """`epochs` steps of `step` on the lecture's loss, every row its own run."""
    for _ in range(epochs):
        if params.grad is not None:
            params.grad.zero_()
        ((params[0] * T_UN + params[1] - T_C) ** 2).mean(-1).sum().backward()
        step.step(params)
    return params


TORCH = {
    "sgd": lambda p, h: torch.optim.SGD(p, lr=h["lr"], momentum=h["momentum"]),
    "adam": lambda p, h: torch.optim.Adam(p, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                          eps=h["eps"]),
}  # fmt: skip
ROWS = {
    "gd": [{"lr": 1e-2}, {"lr": 1e-3}, {"lr": 2e-2}],
    "sgd": [{"lr": 1e-3, "momentum": 0.5}, {"lr": 3e-3, "momentum": 0.0},
            {"lr": 2e-2, "momentum": 0.8}],
    "adam": [{"lr": 3e-2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
             {"lr": 1e-2, "beta1": 0.95, "beta2": 0.9999, "eps": 1e-4},
             {"lr": 5e-2, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8}],
}  # fmt: skip


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_rows_with_different_hyperparameters_each_follow_torch_optim(kind):
    params = lecture_grad_steps(optimizers.make(kind, ROWS[kind]), rows([[1.0, 0.0]] * 3), 300)
    for h, row in zip(ROWS[kind], as_rows(params), strict=True):
        alone = torch.tensor([1.0, 0.0], requires_grad=True)
        optimizer = TORCH[kind]([alone], h)
        for _ in range(300):
            optimizer.zero_grad()
            ((alone[0] * T_UN + alone[1] - T_C) ** 2).mean().backward()
            optimizer.step()
        assert row == pytest.approx(alone.tolist(), rel=1e-5)


@pytest.mark.parametrize("kind", list(SCHEMAS["optimizer"]))
@pytest.mark.parametrize("at", [0, 40])  # before the first step (adam: no moments yet), later
def test_dropping_rows_changes_nothing_for_the_others(kind, at):
    keep = torch.tensor([0, 2])
    step, params = optimizers.make(kind, ROWS[kind]), rows([[1.0, 0.0]] * 3)
    params = lecture_grad_steps(step, params, at)
    params = params[:, keep].detach().requires_grad_(True)
    step.keep(keep)
    dropped = lecture_grad_steps(step, params, 100 - at)
    kept = [ROWS[kind][i] for i in keep.tolist()]
    alone = lecture_grad_steps(optimizers.make(kind, kept), rows([[1.0, 0.0]] * 2), 100)
    assert as_rows(dropped) == as_rows(alone)


def test_sgd_without_momentum_agrees_with_gd():
    [gd] = train([spec()], "gd", DATA)
    [sgd] = train([spec(momentum=0.0)], "sgd", DATA)
    assert max(abs(a - b) for a, b in zip(gd.losses, sgd.losses, strict=True)) <= 1e-5


def torch_optim_losses(make, epochs):
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    optimizer = make([params])
    losses = []
    for _ in range(epochs):
        loss = ((params[0] * (0.1 * DATA.train.t_u) + params[1] - DATA.train.t_c) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses, params.tolist()


@pytest.mark.parametrize(
    ("kind", "hparams", "make"),
    [
        ("sgd", {"lr": 1e-2, "momentum": 0.9},
         lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
        ("adam", {"lr": 1e-1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
         lambda p: torch.optim.Adam(p, lr=1e-1)),
    ],
)  # fmt: skip
def test_vectorized_optimizers_follow_torch_optim(kind, hparams, make):
    expected, params = torch_optim_losses(make, 2000)
    [r] = train([spec(epochs=2000, **hparams)], kind, DATA)
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(r.losses, expected, strict=True))
    assert worst <= 1e-5
    assert [r.w, r.b] == pytest.approx(params, rel=1e-5)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_vectorized_optimizers_batched_equal_alone(kind):
    hp = {"momentum": 0.5} if kind == "sgd" else {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    specs = [spec(n, lr, 800, **hp) for n in ("scale", "standard") for lr in (1e-3, 1e-2, 0.5)]
    together = train(specs, kind, DATA)
    for s, r in zip(specs, together, strict=True):
        [alone] = train([s], kind, DATA)
        assert (r.losses, r.w, r.b) == (alone.losses, alone.w, alone.b)
