"""Samplers and pruners from names or `_target_` entries, with the sweep's settings they take,
and one line for what cannot be made."""

from __future__ import annotations

import optuna
import pytest

from sweep.core.config import ConfigError
from sweep.core.schema import PrunerConfig, SweepConfig
from sweep.study.samplers import PRUNERS, SAMPLERS, check_settings, make_pruner, make_sampler


@pytest.mark.parametrize(
    ("name", "cls"),
    [("tpe", optuna.samplers.TPESampler), ("random", optuna.samplers.RandomSampler),
     ("cmaes", optuna.samplers.CmaEsSampler), ("gp", optuna.samplers.GPSampler),
     ("grid", optuna.samplers.RandomSampler)],
)  # fmt: skip
def test_named_samplers_are_optunas_classes_seeded(name, cls):
    assert type(make_sampler(name, 7)) is cls

    def first(seed: int) -> float:
        study = optuna.create_study(sampler=make_sampler(name, seed))
        return study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}).params["x"]

    assert first(7) == first(7) != first(8)


def test_tpe_is_made_with_the_constant_liar_for_batches():
    assert make_sampler("tpe", 0)._constant_liar is True
    assert set(SAMPLERS) == {"tpe", "random", "cmaes", "gp", "grid"}


def test_any_sampler_class_with_its_arguments():
    entry = {"_target_": "optuna.samplers.QMCSampler", "qmc_type": "halton", "scramble": True}
    sampler = make_sampler(entry, 3)
    assert type(sampler) is optuna.samplers.QMCSampler
    assert (sampler._qmc_type, sampler._scramble, sampler._seed) == ("halton", True, 3)


def test_named_pruners_get_their_settings():
    median = make_pruner(PrunerConfig(kind="median", n_startup_trials=2, n_warmup_steps=9), 500)
    assert type(median) is optuna.pruners.MedianPruner
    assert (median._n_startup_trials, median._n_warmup_steps) == (2, 9)
    band = make_pruner(PrunerConfig(kind="hyperband", min_resource=10, reduction_factor=4), 500)
    assert (band._min_resource, band._max_resource, band._reduction_factor) == (10, 500, 4)
    assert type(make_pruner(PrunerConfig(), 500)) is optuna.pruners.NopPruner
    assert set(PRUNERS) == {"none", "median", "hyperband"}


def test_any_pruner_class_takes_its_arguments_and_the_settings_it_names():
    kind = {"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0}
    pruner = make_pruner(PrunerConfig(kind=kind, n_startup_trials=3), 100)
    assert type(pruner) is optuna.pruners.PercentilePruner
    assert (pruner._percentile, pruner._n_startup_trials) == (25.0, 3)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (SweepConfig(sampler="bogus"), "sweep.sampler: unknown sampler 'bogus'; allowed: tpe, "
         "random, cmaes, gp, grid, or a mapping {_target_: CLASS, ARG: VALUE, ...}"),
        (SweepConfig(sampler={"_target_": "optuna.samplers.Nope"}),
         "sweep.sampler: optuna.samplers.Nope cannot be made: No module named "
         "'optuna.samplers.Nope'"),
        (SweepConfig(sampler={"_target_": "optuna.samplers.TPESampler", "bogus": 1}),
         "sweep.sampler: optuna.samplers.TPESampler cannot be made: TPESampler.__init__() got "
         "an unexpected keyword argument 'bogus'"),
        (SweepConfig(pruner=PrunerConfig(kind="bogus")), "sweep.pruner.kind: unknown pruner "
         "'bogus'; allowed: none, median, hyperband, or a mapping {_target_: CLASS, ARG: VALUE, "
         "...}"),
    ],
)  # fmt: skip
def test_what_cannot_be_made_is_one_config_error(sweep, message):
    with pytest.raises(ConfigError) as caught:
        check_settings(sweep, 100)
    assert str(caught.value) == message
