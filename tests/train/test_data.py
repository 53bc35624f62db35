"""Readings: the built-in thermometer, CSV files, and the validation split."""

from __future__ import annotations

import pytest
import torch

from sweep.core.config import ConfigError
from sweep.core.schema import CsvDataConfig, ThermometerDataConfig
from sweep.train.data import T_C, T_U, check, load, split

THERMOMETER = ThermometerDataConfig()


def csv_config(path, x="t_u", y="t_c"):
    return CsvDataConfig(path=str(path), x=x, y=y)


def write_csv(tmp_path, text, name="r.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def lecture_csv(tmp_path):
    rows = "".join(f"{u},{c}\n" for u, c in zip(T_U, T_C, strict=True))
    return write_csv(tmp_path, "t_u,t_c\n" + rows)


def test_thermometer_is_the_lecture_data():
    r = load(THERMOMETER)
    assert r.t_u.dtype == torch.float32
    assert r.t_u.tolist() == torch.tensor(T_U).tolist()
    assert r.t_c.tolist() == T_C


def test_csv_of_the_same_readings_gives_the_same_bits(tmp_path):
    r = load(csv_config(lecture_csv(tmp_path)))
    t = load(THERMOMETER)
    assert torch.equal(r.t_u, t.t_u) and torch.equal(r.t_c, t.t_c)


@pytest.mark.parametrize(
    ("text", "x", "key", "needle"),
    [
        ("a,t_c\n1,2\n3,4\n", "t_u", "data.x", "has no column 't_u'"),
        ("t_u,t_c\n1,2\nhot,4\n", "t_u", "data.x", "not numeric (line 3)"),
        ("t_u,t_c\n1,2\n,4\n", "t_u", "data.x", "NaN or inf (line 3)"),
        ("t_u,t_c\n1,2\nnan,4\n", "t_u", "data.x", "NaN or inf (line 3)"),
        ("t_u,t_c\n1,2\n", "t_u", "data.path", "has 1 rows; at least 2"),
        ("t_u,t_c\n", "t_u", "data.path", "has 0 rows"),
        ("", "t_u", "data.path", "not a readable CSV"),
    ],
)
@pytest.mark.parametrize("read", [load, lambda config: check(config, 0.0, 0, {"standard"})])
def test_bad_csv_names_the_key_and_the_problem(tmp_path, text, x, key, needle, read):
    path = write_csv(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read(csv_config(path, x=x))
    assert info.value.key == key
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.path: no such file"):
        load(csv_config(tmp_path / "missing.csv"))


def test_split_is_seeded_and_disjoint():
    readings = load(THERMOMETER)
    a, b = split(readings, 0.2, 7), split(readings, 0.2, 7)
    assert torch.equal(a.val.t_u, b.val.t_u)
    assert a.val.t_u.shape[0] == 2 and a.train.t_u.shape[0] == 9
    together = sorted(a.train.t_u.tolist() + a.val.t_u.tolist())
    assert together == sorted(readings.t_u.tolist())
    assert not torch.equal(split(readings, 0.2, 8).val.t_u, a.val.t_u)


def test_split_too_small_is_an_error():
    with pytest.raises(ConfigError, match=r"train\.val_fraction"):
        split(load(THERMOMETER), 0.05, 0)
    with pytest.raises(ConfigError, match=r"train\.val_fraction: 0.05 of 11 readings leaves 0"):
        check(THERMOMETER, 0.05, 0, set())
    check(THERMOMETER, 0.2, 0, {"minmax"})  # 2 held out, 9 to train on
