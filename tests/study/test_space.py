"""Search spaces: grids, Optuna distributions, and one-line errors for bad specs."""

from __future__ import annotations

import optuna
import pytest
from omegaconf import OmegaConf

from sweep.core.config import ConfigError, trial_settings
from sweep.study.space import parse

CFG = OmegaConf.create({
    "name": "t",
    "data": {},
    "normalization": {"factor": 0.1},
    "optimizer": {"lr": 0.01},
    "train": {"epochs": 5000, "init_params": [1.0, 0.0], "seed": 0, "val_fraction": 0.0},
    "tracking": {"uri": "sqlite:///m.db", "experiment": "t"},
})  # fmt: skip
OPTIONS = {
    "normalization": ["minmax", "none", "scale", "standard"],
    "optimizer": ["adam", "gd", "sgd"],
    "data": ["csv", "thermometer"],
}


def space(spec):
    return parse(spec, trial_settings(CFG), OPTIONS.__getitem__)


def test_lr_grid_has_60_points_in_a_stable_order():
    s = space({
        "optimizer.lr": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
        "normalization": ["none", "scale", "standard", "minmax"],
        "train.epochs": [500, 1000, 5000],
    })  # fmt: skip
    grid = s.grid()
    assert len(grid) == 60
    assert grid[0] == {"optimizer.lr": 0.1, "normalization": "none", "train.epochs": 500}
    assert len({tuple(p.values()) for p in grid}) == 60


def test_stepped_ranges_make_a_grid():
    s = space({"train.epochs": {"low": 100, "high": 500, "step": 200}})
    assert s.grid() == [{"train.epochs": 100}, {"train.epochs": 300}, {"train.epochs": 500}]


def test_optuna_distributions_follow_the_keys_types():
    s = space({
        "optimizer.lr": {"low": 1e-5, "high": 1.0, "log": True},
        "train.epochs": {"low": 100, "high": 5000},
        "normalization": ["none", "scale"],
    })  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask(s.distributions)
    values = trial.params
    assert 1e-5 <= values["optimizer.lr"] <= 1.0
    assert isinstance(values["train.epochs"], int) and 100 <= values["train.epochs"] <= 5000
    dists = trial.distributions
    assert dists["optimizer.lr"] == optuna.distributions.FloatDistribution(1e-5, 1.0, log=True)
    assert dists["train.epochs"] == optuna.distributions.IntDistribution(100, 5000)
    assert dists["normalization"].choices == ("none", "scale")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"optimizer.rate": [0.1]}, "sweep.space.optimizer.rate: unknown key 'optimizer.rate'"),
        ({"tracking.uri": ["x"]}, "sweep.space.tracking.uri: unknown key"),
        ({"optimizer.lr": []}, "sweep.space.optimizer.lr: empty list"),
        ({"normalization": []}, "sweep.space.normalization: empty list"),
        ({"normalization": ["bogus"]}, "sweep.space.normalization: unknown option 'bogus'"),
        ({"optimizer.lr": {"low": 1.0, "high": 0.1}}, "sweep.space.optimizer.lr: low (1.0) > high"),
        ({"optimizer.lr": {"low": 0.0, "high": 1, "log": True}}, "a log range needs low > 0"),
        ({"optimizer.lr": [0.1, -1.0]}, "sweep.space.optimizer.lr: must be a number > 0"),
        ({"train.epochs": {"low": 1.5, "high": 9}}, "'train.epochs' is an integer"),
        ({"train.epochs": [10, 0]}, "sweep.space.train.epochs: must be an integer in [1, 1000000]"),
        ({"optimizer.lr": {"low": 0.1}}, "a range is {low, high}"),
    ],
)
def test_bad_specs_name_the_key(spec, message):
    with pytest.raises(ConfigError) as info:
        space(spec)
    assert message in str(info.value)


def test_a_grid_needs_values_not_a_continuous_range():
    with pytest.raises(ConfigError, match="a grid needs a list"):
        space({"optimizer.lr": {"low": 1e-3, "high": 1.0}}).grid()


def test_nested_keys_from_the_command_line_override_dotted_ones():
    s = space({"optimizer.lr": [0.1, 0.2], "train.epochs": [5], "optimizer": {"lr": [0.3]}})
    assert s.grid() == [{"optimizer.lr": 0.3, "train.epochs": 5}]
