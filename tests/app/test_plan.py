"""What a sweep will run, planned before either store is touched: the budget, the grid within
it, the pruners' horizon, and the one-line error of a bad sweep spec (in process under a
Hydra context, and through `python -m sweep`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

import sweep
from sweep.app.plan import plan_sweep
from sweep.core import schema
from sweep.core.config import ConfigError

from conftest import run_sweep, runs_of

CONF = str(Path(sweep.__file__).parent / "conf")


@pytest.fixture
def plan(monkeypatch):
    """plan(*overrides): plan_sweep on the config `python -m sweep` composes, in its context."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    schema.register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base=None):

        def make(*overrides: str):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            with open_dict(cfg):
                del cfg["hydra"]
            return plan_sweep(OmegaConf.to_object(cfg))

        yield make
    GlobalHydra.instance().clear()


def test_a_grid_plans_every_point_in_order(plan):
    p = plan("+experiment=lr_grid")
    assert (p.total, len(p.grid), p.max_epochs) == (60, 60, 5000)
    assert p.space.keys == ["optimizer.lr", "normalization", "train.epochs"]
    assert p.grid[0] == {"optimizer.lr": 0.1, "normalization": "none", "train.epochs": 500}
    assert len({tuple(sorted(point.items())) for point in p.grid}) == 60
    assert p.composer.config_name == "config"
    assert p.composer.base == ["+experiment=lr_grid"]


def test_a_grids_budget_is_cut_to_n_trials_and_never_beyond_the_grid(plan):
    p = plan("+experiment=lr_grid", "sweep.n_trials=7")
    assert p.total == 7 and p.grid == plan("+experiment=lr_grid").grid[:7]
    assert plan("+experiment=lr_grid", "sweep.n_trials=100").total == 60


def test_a_search_has_no_grid_and_its_horizon_is_the_epochs_range(plan):
    p = plan("+experiment=tpe_search", "sweep.n_trials=30")
    assert (p.total, p.grid, p.max_epochs) == (30, None, 5000)
    p = plan("+experiment=tpe_search", "sweep.space.train.epochs={low:10,high:800}")
    assert (p.total, p.max_epochs) == (100, 800)


def test_without_an_epochs_axis_the_horizon_is_train_epochs(plan):
    p = plan("sweep=grid", "sweep.space={optimizer.lr:[0.1]}", "train.epochs=321")
    assert (p.total, p.max_epochs, p.grid) == (1, 321, [{"optimizer.lr": 0.1}])


def test_a_search_needs_a_budget(plan):
    with pytest.raises(ConfigError) as caught:
        plan("+experiment=tpe_search", "sweep.n_trials=null")
    assert str(caught.value) == "sweep.n_trials: required for sampler 'tpe'"


def test_every_combination_of_group_options_has_its_data_checked(plan, tmp_path):
    """A csv option in the space is read while planning, before anything is created."""
    with pytest.raises(ConfigError) as caught:
        plan("+experiment=lr_grid", "sweep.space={data:[thermometer,csv]}",
             f"+data.path={tmp_path / 'missing.csv'}")  # fmt: skip
    assert str(caught.value) == f"data.path: no such file '{tmp_path / 'missing.csv'}'"


BAD_SPECS = [
    (["+experiment=lr_grid", "sweep.space={optimizer.rate:[0.1]}"],
     "sweep.space.optimizer.rate: unknown key 'optimizer.rate'"),
    (["+experiment=lr_grid", "sweep.space={normalization:[]}"],
     "sweep.space.normalization: empty list"),
    (["+experiment=tpe_search", "sweep.space={optimizer.lr:{low:1.0,high:0.1}}"],
     "sweep.space.optimizer.lr: low (1.0) > high (0.1)"),
    (["+experiment=tpe_search", "sweep.space={optimizer.lr:{low:0.0,high:1.0}}"],
     "sweep.space.optimizer.lr: a log range needs low > 0"),
    (["+experiment=tpe_search", "sweep.sampler=bogus"], "sweep.sampler: unknown sampler 'bogus'"),
    (["+experiment=tpe_search", "sweep.pruner.kind=bogus"],
     "sweep.pruner.kind: unknown pruner 'bogus'"),
    (["+experiment=tpe_search", "sweep.n_trials=0"], "sweep.n_trials: must be an integer >= 1"),
]  # fmt: skip


PLANNED = BAD_SPECS[:-1]  # sweep.n_trials=0 is validate's (test_config.py)


@pytest.mark.parametrize(("overrides", "message"), PLANNED, ids=[m for _, m in PLANNED])
def test_plan_raises_the_bad_specs_error(plan, overrides, message):
    with pytest.raises(ConfigError) as caught:
        plan(*overrides)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("overrides", "message"), BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_bad_sweep_specs_fail_before_anything_is_created(tmp_path, mlflow_server, overrides,
                                                         message):  # fmt: skip
    done = run_sweep(*overrides, f"tracking.uri={mlflow_server}", "tracking.experiment=bad-spec",
                     cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: {message}"), done.stderr
    assert runs_of(mlflow_server, "bad-spec") == []
    assert not (tmp_path / "optuna.db").exists()
