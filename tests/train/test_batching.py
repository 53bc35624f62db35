"""Trials in, results out: train_trials groups typed trials by data set and optimizer, gives
each group one graph, and hands back one result per trial in the trials' order, the same bits
as each trial trained alone (the trainer itself: test_trainer.py)."""

from __future__ import annotations

import math

import pytest

from sweep.core.schema import (
    RootConfig,
    SweepConfig,
    TrackingConfig,
    TrainConfig,
    make_option,
)
from sweep.core.trials import Trial
from sweep.train import data
from sweep.train.batching import run_spec, train_trials
from train.runs import DATA, normalizer

from conftest import LECTURE_LOSSES


def trial(norm="scale", optimizer="gd", epochs=300, val_fraction=0.0, seed=0, **settings):
    config = RootConfig(
        data=make_option("data", "thermometer"),
        normalization=make_option("normalization", norm),
        optimizer=make_option("optimizer", optimizer, **settings),
        train=TrainConfig(epochs=epochs, val_fraction=val_fraction, seed=seed),
        tracking=TrackingConfig(),
        sweep=SweepConfig(),
    )
    choices = {"data": "thermometer", "normalization": norm, "optimizer": optimizer}
    return Trial("batching", config, choices)


# Interleaved optimizers, data splits and normalizations: several groups, mixed in order.
TRIALS = [
    trial("scale", "gd", 300, lr=1e-2),
    trial("standard", "adam", 200, lr=1e-1),
    trial("none", "gd", 100, lr=1e-2),  # diverges
    trial("minmax", "sgd", 250, lr=1e-2, momentum=0.5),
    trial("scale", "gd", 300, val_fraction=0.2, lr=1e-2),
    trial("standard", "gd", 150, lr=1e-1),
    trial("scale", "adam", 120, val_fraction=0.2, seed=3, lr=5e-2),
]


def fields(r):
    return (r.status, r.losses, r.val_losses, r.w, r.b, r.w_raw, r.b_raw, r.diverged_at_epoch)


def test_results_come_in_the_trials_order_and_equal_each_trial_alone():
    datasets = data.load_all(TRIALS)
    assert len(datasets) == 3  # the whole set, and two seeded validation splits
    together = train_trials(TRIALS, datasets)
    assert len(together) == len(TRIALS)
    for t, r in zip(TRIALS, together, strict=True):
        [alone] = train_trials([t], data.load_all([t]))
        assert fields(r) == fields(alone)
        if r.status == "completed":
            assert len(r.losses) == t.config.train.epochs
    statuses = [r.status for r in together]
    assert statuses[2] == "diverged" and statuses.count("completed") == 6
    assert [r.val_losses is not None for r in together] == [
        False, False, False, False, True, False, True]  # fmt: skip
    assert together[0].losses != together[4].losses  # another training split


def test_the_lectures_trial_gives_the_lectures_numbers():
    [r] = train_trials([trial("scale", "gd", 5000, lr=1e-2)], {data.key(TRIALS[0]): DATA})
    assert [round(r.losses[e - 1], 6) for e in range(500, 5001, 500)] == LECTURE_LOSSES


def test_run_spec_takes_the_trials_normalizer_hyperparameters_and_epochs():
    s = run_spec(trial("standard", "adam", 42, lr=0.5, eps=1e-6), DATA.train.t_u)
    assert s.normalizer == normalizer("standard")
    assert s.hparams == (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-6), ("lr", 0.5))
    assert all(type(v) is float for _, v in s.hparams)
    assert (s.epochs, s.init_params) == (42, (1.0, 0.0))
    s = run_spec(trial("scale", "sgd", 7, lr=1e-3), DATA.train.t_u)
    assert s.normalizer == normalizer("scale")
    assert s.hparams == (("lr", 1e-3), ("momentum", 0.0))
    assert s.epochs == 7


def test_run_spec_fits_the_normalizer_on_the_given_inputs():
    t = trial("minmax", "gd", 10)
    half = DATA.train.t_u[:5]
    assert run_spec(t, half).normalizer == normalizer("minmax", half)
    assert run_spec(t, half).normalizer != normalizer("minmax")


def test_on_end_gets_every_trials_index_once_with_its_result():
    ended: list[tuple[int, object]] = []
    results = train_trials(TRIALS, data.load_all(TRIALS), on_end=lambda i, r: ended.append((i, r)))
    assert sorted(i for i, _ in ended) == list(range(len(TRIALS)))
    for i, r in ended:
        assert r is results[i]


def test_on_report_sees_trial_indices_and_prunes_by_them():
    reported: dict[int, set[int]] = {}

    def on_report(epoch, losses):
        reported.setdefault(epoch, set()).update(losses)
        assert all(math.isfinite(v) for v in losses.values())
        return {5} & set(losses)  # trial 5, wherever it sits in its group

    results = train_trials(TRIALS, data.load_all(TRIALS), 50, on_report)
    assert results[5].status == "pruned" and len(results[5].losses) == 50
    assert [r.status for i, r in enumerate(results) if i != 5].count("pruned") == 0
    assert reported[50] == {0, 1, 3, 4, 5, 6}  # trial 2 diverged before epoch 50


@pytest.mark.parametrize("report_val", [False, True])
def test_reports_are_of_the_validation_loss_when_asked(report_val):
    t = trial("scale", "gd", 200, val_fraction=0.2, lr=1e-2)
    seen = {}
    [r] = train_trials([t], data.load_all([t]), 100, lambda e, v: seen.update(v) or set(),
                       report_val=report_val)  # fmt: skip
    assert r.val_losses[99] != r.losses[99]
    assert seen[0] == pytest.approx((r.val_losses if report_val else r.losses)[99])
