"""The range checks and the one-line ConfigError: check_value's rules, a config's dotted
leaves (composed or typed), and validate on configs Hydra composes from conf/."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import sweep
from sweep.core import schema
from sweep.core.config import RULES, ConfigError, check_value, leaves, plain, validate

CONF = str(Path(sweep.__file__).parent / "conf")


def composed(*overrides: str):
    """The root config as `python -m sweep` composes it, with `overrides`."""
    schema.register()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF, version_base=None):
            return compose("config", overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize(
    ("key", "value"),
    [("optimizer.lr", 1e-3), ("optimizer.momentum", 0.0), ("optimizer.beta2", 0.999),
     ("train.epochs", 1), ("train.epochs", 1_000_000), ("train.init_params", [1.0, 0.0]),
     ("sweep.grace_period", 2), ("sweep.pruner.n_startup_trials", 0), ("name", "anything")],
)  # fmt: skip
def test_values_in_range_and_keys_without_a_rule_pass(key, value):
    check_value(key, value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("optimizer.lr", 0.0, "optimizer.lr: must be a number > 0 (got 0.0)"),
     ("optimizer.momentum", 1.0, "optimizer.momentum: must be a number in [0, 1) (got 1.0)"),
     ("optimizer.beta1", -0.1, "optimizer.beta1: must be a number in [0, 1) (got -0.1)"),
     ("train.epochs", 0, "train.epochs: must be an integer in [1, 1000000] (got 0)"),
     ("train.epochs", 1_000_001, "train.epochs: must be an integer in [1, 1000000] (got 1000001)"),
     ("train.init_params", [1.0],
      "train.init_params: must be two finite numbers [w, b] (got [1.0])"),
     ("sweep.grace_period", 1, "sweep.grace_period: must be an integer >= 2 (got 1)"),
     ("sweep.pruner.n_warmup_steps", -1,
      "sweep.pruner.n_warmup_steps: must be an integer >= 0 (got -1)")],
)  # fmt: skip
def test_values_out_of_range_raise_one_line_naming_key_and_range(key, value, message):
    with pytest.raises(ConfigError) as caught:
        check_value(key, value)
    assert str(caught.value) == message
    assert caught.value.key == key


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, [1.0, math.nan], [math.inf, 0]])
def test_infinite_and_nan_values_are_refused_even_where_the_test_would_pass(value):
    with pytest.raises(ConfigError) as caught:
        check_value("train.init_params" if isinstance(value, list) else "optimizer.lr", value)
    assert caught.value.problem.startswith("must be ")


@pytest.mark.parametrize(("key", "value"), [("train.epochs", True), ("optimizer.lr", True),
                                            ("train.init_params", [True, 0.0]),
                                            ("optimizer.lr", "0.1")])  # fmt: skip
def test_bools_and_strings_are_no_numbers(key, value):
    with pytest.raises(ConfigError) as caught:
        check_value(key, value)
    assert str(caught.value) == f"{key}: must be {RULES[key][0]} (got {value!r})"


@pytest.mark.parametrize("key", ["sweep.n_trials", "optimizer.lr", "train.init_params"])
def test_none_passes_every_rule(key):
    check_value(key, None)


def test_plain_and_leaves_give_the_same_dotted_leaves_composed_or_typed():
    cfg = composed("optimizer=adam", "normalization=scale", "train.epochs=7")
    typed = OmegaConf.to_object(cfg)
    assert isinstance(typed, schema.RootConfig)
    as_plain = plain(cfg)
    assert isinstance(as_plain, dict) and as_plain["train"]["epochs"] == 7
    assert plain(typed)["optimizer"] == {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    from_cfg, from_typed = leaves(cfg), leaves(typed)
    assert from_cfg == from_typed
    assert from_cfg["optimizer.beta2"] == 0.999
    assert from_cfg["normalization.factor"] == 0.1
    assert from_cfg["train.init_params"] == [1.0, 0.0]  # a list is one leaf
    assert from_cfg["sweep.pruner.kind"] == "none"
    assert from_cfg["tracking.uri"] == "sqlite:///mlflow.db"  # interpolations resolved
    assert from_cfg["sweep.study_name"] == "sweep"
    assert leaves(typed.optimizer, "optimizer.") == {
        k: v for k, v in from_typed.items() if k.startswith("optimizer.")
    }


def test_plain_leaves_a_scalar_as_it_is():
    assert plain(3) == 3


def test_a_composed_default_config_validates(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    validate(composed())
    validate(composed("+experiment=lr_grid"))
    validate(composed("sweep.metric=val_loss", "train.val_fraction=0.2"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["tracking.uri="], "tracking.uri: must not be empty"),
     (["tracking.uri=' '"], "tracking.uri: must not be empty"),
     (["name=" + "n" * 251], "name: must be at most 250 characters long"),
     (["name=n", "tracking.experiment=" + "e" * 501],
      "tracking.experiment: must be at most 500 characters long"),
     (["sweep.metric=val_loss"],
      "sweep.metric: val_loss needs a validation split: set train.val_fraction in (0, 1), "
      "e.g. train.val_fraction=0.2"),
     (["sweep.heartbeat_interval=5", "sweep.grace_period=9"],
      "sweep.grace_period: must be at least 2 x sweep.heartbeat_interval = 10 (got 9)"),
     (["sweep.metric=accuracy"],
      "sweep.metric: unknown metric 'accuracy'; allowed: loss, val_loss"),
     (["optimizer.lr=0"], "optimizer.lr: must be a number > 0 (got 0.0)"),
     (["data=csv"], "data.path: a value is required (add data.path=...)")],
)  # fmt: skip
def test_bad_values_raise_their_one_line(monkeypatch, overrides, message):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError) as caught:
        validate(composed(*overrides))
    assert str(caught.value) == message


def test_a_grace_period_of_exactly_two_beats_is_enough(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    validate(composed("sweep.heartbeat_interval=5", "sweep.grace_period=10"))


def test_the_space_is_not_range_checked_by_validate(monkeypatch):
    """sweep.space's values are a space's, checked by space.parse with its own messages."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    validate(composed("+experiment=lr_grid", "sweep.space.optimizer.lr=[0]"))
