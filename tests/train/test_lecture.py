"""The lecture's loop, the reference the trainer is checked against: its model and loss, the
losses it prints, and a diverging run's losses kept as they come."""

from __future__ import annotations

import math

import torch

from sweep.train.lecture import loss_fn, model, training_loop
from train.runs import DATA


def test_the_model_is_a_line_and_the_loss_its_mean_squared_error():
    assert model(torch.tensor([1.0, 2.0, -4.0]), 3.0, 0.5).tolist() == [3.5, 6.5, -11.5]
    loss = loss_fn(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 1.0]))
    assert loss.shape == () and loss.item() == torch.tensor(13 / 3).item()


def test_every_epochs_loss_is_handed_to_on_epoch_as_the_lecture_prints_it():
    seen = []
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    trained, losses = training_loop(
        100, 1e-2, params, 0.1 * DATA.train.t_u, DATA.train.t_c, lambda e, v: seen.append((e, v))
    )
    assert trained is params  # trained in place
    assert seen == list(enumerate(losses, 1)) and len(losses) == 100
    assert ["%f" % v for v in losses[:3]] == ["80.364342", "37.574913", "30.871077"]


def test_a_diverging_run_keeps_its_non_finite_losses():
    _, losses = training_loop(
        20, 1e-2, torch.tensor([1.0, 0.0], requires_grad=True), DATA.train.t_u, DATA.train.t_c
    )
    assert ["%f" % v for v in losses[:2]] == ["1763.884766", "5802486.000000"]
    assert all(math.isfinite(v) for v in losses[:10])
    assert losses[10:] == [math.inf] * 10
    assert len(losses) == 20


def test_a_gradient_left_on_the_params_is_cleared_before_the_first_step():
    t_un, t_c = 0.1 * DATA.train.t_u, DATA.train.t_c
    fresh, fresh_losses = training_loop(50, 1e-2, torch.tensor([1.0, 0.0], requires_grad=True),
                                        t_un, t_c)  # fmt: skip
    stale = torch.tensor([1.0, 0.0], requires_grad=True)
    stale.grad = torch.tensor([100.0, -100.0])
    stale, stale_losses = training_loop(50, 1e-2, stale, t_un, t_c)
    assert stale_losses == fresh_losses
    assert stale.tolist() == fresh.tolist()
