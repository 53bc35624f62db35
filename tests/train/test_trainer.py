"""The batched trainer: the lecture's numbers and bits, runs batched as they run alone, shorter
runs as prefixes of longer ones, validation curves (the optimizers: test_optimizers.py; losses,
divergence, pruning and hand-over: test_bookkeeping.py)."""

from __future__ import annotations

import math

import pytest
import torch

from sweep.core.schema import make_option
from sweep.train.data import load, split
from sweep.train.lecture import training_loop
from sweep.train.normalize import fit
from sweep.train.trainer import RunSpec, train
from train.runs import DATA, spec

from conftest import LECTURE_LOSSES, LECTURE_PARAMS


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
