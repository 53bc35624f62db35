"""The one error path: the line, the status, the traceback switch."""

from __future__ import annotations

import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from sweep.core.config import ConfigError
from sweep.core.errors import Spooled, exit_status, fail, full_traceback, one_line
from sweep.core.schema import TrainConfig


def test_one_line_names_the_key_and_hides_passwords():
    ex = ConfigError("tracking.uri", "cannot reach http://me:secret@host:5000\n(refused)")
    assert one_line(ex) == "tracking.uri: cannot reach http://me:***@host:5000 (refused)"


def test_one_line_for_an_unknown_group_option_lists_the_options():
    ex = MissingConfigException(
        "Could not find 'optimizer/nope'", "optimizer/nope", options=["sgd", "adam", "gd"]
    )
    assert one_line(ex) == "optimizer: unknown option 'nope'; allowed: adam, gd, sgd"


def test_one_line_for_an_unknown_key_lists_the_schema_keys():
    train = OmegaConf.structured(TrainConfig)
    with pytest.raises(ConfigAttributeError) as caught:
        train.epoch = 3
    assert one_line(caught.value) == (
        "epoch: unknown key; allowed: epochs, init_params, seed, val_fraction"
    )


@pytest.mark.parametrize(
    ("ex", "status"),
    [
        (ConfigError("train.epochs", "too many"), 2),
        (ConfigKeyError("x"), 2),
        (Spooled("3 entries wait"), 3),
        (RuntimeError("boom"), 1),
    ],
)
def test_exit_status_follows_the_table(ex, status):
    assert exit_status(ex) == status


def test_fail_prints_one_line_and_exits_with_the_status(monkeypatch, capsys):
    monkeypatch.delenv("SWEEP_FULL_ERROR", raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as caught:
        fail(ConfigError("sweep.metric", "unknown metric 'acc'"))
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: sweep.metric: unknown metric 'acc'\n"


def test_the_traceback_switch(monkeypatch):
    monkeypatch.delenv("SWEEP_FULL_ERROR", raising=False)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    assert full_traceback()
    with pytest.raises(RuntimeError, match="boom"):
        fail(RuntimeError("boom"))
    # `python -m sweep` keeps the user's choice before it sets HYDRA_FULL_ERROR for itself.
    monkeypatch.setenv("SWEEP_FULL_ERROR", "")
    assert not full_traceback()
