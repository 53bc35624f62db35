"""The lecture's loop: exact numbers, divergence, batching, optimizers, pruning hooks."""

from __future__ import annotations

import math

import pytest
import torch

from sweep.core.schema import make_option
from sweep.train.data import load, split
from sweep.train.lecture import training_loop
from sweep.train.normalize import fit
from sweep.train.trainer import RunSpec, train

from conftest import LECTURE_LOSSES, LECTURE_PARAMS

DATA = split(load(make_option("data", "thermometer")), 0.0, 0)


def spec(norm="scale", lr=1e-2, epochs=5000, **hparams) -> RunSpec:
    h = tuple(sorted({"lr": lr, **hparams}.items()))
    return RunSpec(fit(make_option("normalization", norm), DATA.train.t_u), h, epochs)


def test_lecture_numbers_exactly():
    [r] = train([spec()], "gd", DATA)
    assert r.status == "completed"
    assert len(r.losses) == 5000
    assert [round(r.losses[e - 1], 6) for e in range(500, 5001, 500)] == LECTURE_LOSSES
    assert [r.w, r.b] == LECTURE_PARAMS
    assert r.w_raw == pytest.approx(0.5367084503173828)
    assert r.b_raw == LECTURE_PARAMS[1]


def test_same_bits_as_the_lecture_code():
    t_un = 0.1 * DATA.train.t_u
    params, losses = training_loop(
        5000, 1e-2, torch.tensor([1.0, 0.0], requires_grad=True), t_un, DATA.train.t_c
    )
    [r] = train([spec()], "gd", DATA)
    assert r.losses == losses
    assert [r.w, r.b] == params.tolist()


def test_divergent_case_stops_at_first_non_finite_epoch():
    [r] = train([spec("none", 1e-2)], "gd", DATA)
    assert r.status == "diverged"
    assert r.diverged_at_epoch == 11
    assert len(r.losses) == 10
    assert all(math.isfinite(v) for v in r.losses)
    assert r.w is None


def test_unnormalized_small_lr_matches_notes():
    [r] = train([spec("none", 1e-4)], "gd", DATA)
    assert round(r.losses[-1], 6) == 24.907743
    assert [round(r.w, 4), round(r.b, 4)] == [0.2577, -1.4631]


def test_batched_rows_are_bitwise_identical_to_runs_alone():
    specs = [
        spec(n, lr, e)
        for n in ("none", "scale", "standard", "minmax")
        for lr in (1e-1, 1e-2, 1e-3)
        for e in (300, 1000)
    ]
    together = train(specs, "gd", DATA)
    for s, r in zip(specs, together, strict=True):
        [alone] = train([s], "gd", DATA)
        assert (r.status, r.losses, r.w, r.b) == (alone.status, alone.losses, alone.w, alone.b)
    assert {r.status for r in together} == {"completed", "diverged"}


def test_shorter_runs_are_prefixes_of_longer_ones():
    short, long_ = train([spec(epochs=1000), spec(epochs=5000)], "gd", DATA)
    assert long_.losses[:1000] == short.losses
    assert len(short.losses) == 1000
    assert round(long_.losses[-1], 6) == 2.927647


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


def test_pruned_runs_keep_their_curve_up_to_the_pruning_epoch():
    seen = []

    def on_report(epoch, latest):
        seen.append((epoch, sorted(latest)))
        return {1} if epoch == 200 else set()

    a, b = train([spec(epochs=600), spec(lr=1e-3, epochs=600)], "gd", DATA, 100, on_report)
    assert (a.status, len(a.losses)) == ("completed", 600)
    assert (b.status, len(b.losses)) == ("pruned", 200)
    assert seen[:3] == [(100, [0, 1]), (200, [0, 1]), (300, [0])]
    assert b.w is not None


def test_validation_split_gives_a_val_curve():
    data = split(load(make_option("data", "thermometer")), 0.2, 0)
    assert data.val.t_u.shape[0] == 2 and data.train.t_u.shape[0] == 9
    [r] = train(
        [
            RunSpec(
                fit(make_option("normalization", "scale"), data.train.t_u), (("lr", 1e-2),), 3000
            )
        ],
        "gd",
        data,
    )
    assert len(r.val_losses) == 3000
    assert all(math.isfinite(v) for v in r.val_losses)
    assert r.val_losses[-1] != r.losses[-1]


def test_the_whole_lr_grid_batched_is_bitwise_the_runs_alone():
    specs = [
        spec(n, lr, e)
        for lr in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
        for n in ("none", "scale", "standard", "minmax")
        for e in (500, 1000, 5000)
    ]
    together = train(specs, "gd", DATA)
    for s, r in zip(specs, together, strict=True):
        [alone] = train([s], "gd", DATA)
        assert r.status == alone.status and r.diverged_at_epoch == alone.diverged_at_epoch
        assert r.losses == alone.losses and (r.w, r.b) == (alone.w, alone.b)
    assert sum(r.status == "diverged" for r in together) == 12
    assert sum(len(r.losses) for r in together) == 104204


def test_each_run_is_handed_over_as_soon_as_it_ends():
    ended = []

    def on_end(i, result):
        ended.append((i, result.status, len(result.losses)))

    specs = [spec(epochs=5000), spec("none", 1e-2, epochs=1000), spec(epochs=500)]
    results = train(specs, "gd", DATA, on_end=on_end)
    # Shortest first; the diverging run leaves at the first check after its loss blows up.
    assert [e[0] for e in ended] == [1, 2, 0]
    assert ended[0][1] == "diverged" and ended[0][2] < 100
    assert ended[1:] == [(2, "completed", 500), (0, "completed", 5000)]
    assert [(r.status, len(r.losses)) for r in results] == [(s, n) for _, s, n in sorted(ended)]
