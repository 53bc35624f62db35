"""The config schemas: every option file of conf/ composes to its dataclass, SCHEMAS names
exactly those files, and a value of the wrong type fails while Hydra composes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

import sweep
from sweep.core import schema
from sweep.core.schema import SCHEMAS, make_option, option_of

CONF = Path(sweep.__file__).parent / "conf"
OPTION_FILES = sorted((p.parent.name, p.stem) for g in SCHEMAS for p in (CONF / g).glob("*.yaml"))


def composed(*overrides: str):
    schema.register()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            return compose("config", overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()


def test_schemas_name_exactly_the_option_files():
    assert sorted((g, o) for g, options in SCHEMAS.items() for o in options) == OPTION_FILES
    assert len(OPTION_FILES) == 9


@pytest.mark.parametrize(
    ("group", "option"), OPTION_FILES, ids=[f"{g}/{o}" for g, o in OPTION_FILES]
)
def test_each_option_file_composes_to_its_schema(group, option):
    extra = ["data.path=readings.csv"] if (group, option) == ("data", "csv") else []
    root = OmegaConf.to_object(composed(f"{group}={option}", *extra))
    assert isinstance(root, schema.RootConfig)
    node = getattr(root, group)
    assert type(node) is SCHEMAS[group][option]
    assert option_of(node) == option


def test_the_files_values_override_the_schemas_defaults():
    root = OmegaConf.to_object(composed("optimizer=sgd"))
    assert root.optimizer == schema.SGDConfig(lr=1e-2, momentum=0.9)
    assert schema.SGDConfig().momentum == 0.0
    assert isinstance(root.train, schema.TrainConfig) and root.train.epochs == 5000
    assert isinstance(root.sweep.pruner, schema.PrunerConfig)


@pytest.mark.parametrize("node", [schema.TrainConfig(), schema.RootConfig(), {"lr": 0.1}, None])
def test_option_of_refuses_what_is_no_option(node):
    with pytest.raises(TypeError, match=f"^{type(node).__name__} is no option of a config group$"):
        option_of(node)


def test_option_of_a_subclass_is_no_option():
    class MyAdam(schema.AdamConfig):
        pass

    with pytest.raises(TypeError):
        option_of(MyAdam())


def test_make_option_takes_the_schemas_defaults_then_the_settings():
    assert make_option("optimizer", "adam") == schema.AdamConfig(0.1, 0.9, 0.999, 1e-8)
    adam = make_option("optimizer", "adam", lr=0.5, eps=1e-6)
    assert (type(adam), adam.lr, adam.beta1, adam.eps) == (schema.AdamConfig, 0.5, 0.9, 1e-6)
    assert option_of(make_option("normalization", "scale", factor=2.0)) == "scale"
    assert make_option("normalization", "scale", factor=2.0).factor == 2.0
    with pytest.raises(TypeError):
        make_option("normalization", "none", factor=2.0)
    with pytest.raises(KeyError):
        make_option("optimizer", "rmsprop")


@pytest.mark.parametrize(
    ("override", "key"),
    [("optimizer.lr=fast", "lr"), ("train.epochs=many", "epochs"), ("train.epochs=1.5", "epochs"),
     ("sweep.batch_size=big", "batch_size"), ("tracking.run_chart=maybe", "run_chart")],
)  # fmt: skip
def test_a_wrong_type_on_the_command_line_fails_at_composition(override, key):
    with pytest.raises(ConfigCompositionException) as caught:
        composed(override)
    cause = caught.value.__cause__
    assert isinstance(cause, ValidationError)
    assert cause.key == key


def test_an_unknown_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match=r"optimizer\.rate"):
        composed("optimizer.rate=0.1")


def test_any_key_may_go_into_the_space():
    cfg = composed("sweep.space={optimizer.momentum:[0.5]}")
    assert OmegaConf.to_container(cfg.sweep.space) == {"optimizer.momentum": [0.5]}
