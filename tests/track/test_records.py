"""What a training run sends to MLflow: its params (dotted keys, group choices, the space as
one JSON param, no password), its config.yaml, its outcome as tags and metrics; and the sender
calls that begin, end, find and drop a study's runs, against a real SQLite store."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from sweep.core.results import RunResult
from sweep.core.schema import (
    GDConfig,
    RootConfig,
    ScaleNormalizationConfig,
    SweepConfig,
    ThermometerDataConfig,
    TrackingConfig,
    TrainConfig,
)
from sweep.core.trials import Trial
from sweep.track.records import (
    begin_run,
    config_yaml,
    drop_parents,
    end_run,
    params_of,
    study_runs,
    tail_record,
)
from sweep.track.runs import RUN_KEY, RunRecord
from sweep.track.tracker import Tracker

from conftest import client_for

SPACE = {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}
CHOICES = {"optimizer": "gd", "normalization": "scale", "data": "thermometer"}


def make_trial(run_chart: bool = False) -> Trial:
    config = RootConfig(
        name="rec",
        data=ThermometerDataConfig(),
        normalization=ScaleNormalizationConfig(),
        optimizer=GDConfig(lr=0.02),
        train=TrainConfig(epochs=3),
        tracking=TrackingConfig(uri="http://alice:s3cret@mlflow:5000", run_chart=run_chart),
        sweep=SweepConfig(space=SPACE, storage="postgresql://bob:hunter2@db/optuna"),
    )
    return Trial("scale-gd-lr0.02-e3", config, CHOICES)


COMPLETED = RunResult("completed", [3.0, 2.0, 1.0], [3.5, 2.5, 1.5], w=1.5, b=-2.0,
                      w_raw=0.15, b_raw=-2.0)  # fmt: skip
DIVERGED = RunResult("diverged", [3.0, 40.0], None, diverged_at_epoch=3)
PRUNED = RunResult("pruned", [3.0, 2.5], None, w=1.0, b=-1.0, w_raw=0.1, b_raw=-1.0)


def test_params_are_dotted_leaves_group_choices_and_the_space_as_json():
    params = params_of(make_trial())
    assert params["optimizer.lr"] == "0.02"
    assert params["train.epochs"] == "3"
    assert params["train.init_params"] == "[1.0, 0.0]"  # a list leaf, as JSON
    assert params["normalization.factor"] == "0.1"
    assert params["tracking.run_chart"] == "False"
    assert params["name"] == "rec"
    assert json.loads(params["sweep.space"]) == SPACE
    assert not [k for k in params if k.startswith("sweep.space.")]
    assert {k: params[k] for k in CHOICES} == CHOICES
    assert params["tracking.uri"] == "http://alice:***@mlflow:5000"
    assert params["sweep.storage"] == "postgresql://bob:***@db/optuna"
    assert not [k for k, v in params.items() if "s3cret" in v or "hunter2" in v]
    assert all(isinstance(v, str) for v in params.values())


def test_params_leave_out_the_skipped_keys():
    params = params_of(make_trial(), skip=("optimizer.lr", "sweep.space"))
    assert "optimizer.lr" not in params and "sweep.space" not in params
    assert params["train.epochs"] == "3"


def test_config_yaml_has_a_header_of_choices_and_no_password():
    trial = make_trial()
    text = config_yaml(trial.config, trial.choices)
    lines = text.splitlines()
    assert lines[:3] == ["# data=thermometer", "# normalization=scale", "# optimizer=gd"]
    assert "s3cret" not in text and "hunter2" not in text
    expected = dataclasses.asdict(trial.config)
    expected["tracking"]["uri"] = "http://alice:***@mlflow:5000"
    expected["sweep"]["storage"] = "postgresql://bob:***@db/optuna"
    assert yaml.safe_load(text) == expected


def test_a_completed_run_holds_its_curves_outcome_and_fitted_params():
    trial = make_trial()
    record = tail_record(trial, COMPLETED)
    assert record.name == trial.name
    assert record.params == params_of(trial)
    assert record.tags == {"status": "completed", "epochs_trained": "3"}
    assert record.series == {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5]}
    assert record.metrics == {"final_loss": 1.0, "final_val_loss": 1.5, "w_raw": 0.15,
                              "b_raw": -2.0, "w": 1.5, "b": -2.0}  # fmt: skip
    assert record.artifacts == {}  # no chart unless tracking.run_chart


def test_a_diverged_run_holds_where_it_diverged_and_no_final_values():
    record = tail_record(make_trial(), DIVERGED)
    assert record.tags == {"status": "diverged", "epochs_trained": "2", "diverged_at_epoch": "3"}
    assert record.metrics == {}
    assert record.series == {"loss": [3.0, 40.0]}
    assert record.artifacts == {}


def test_a_pruned_run_holds_where_it_was_pruned():
    record = tail_record(make_trial(), PRUNED)
    assert record.tags == {"status": "pruned", "epochs_trained": "2", "pruned_at_epoch": "2"}
    assert record.metrics == {"final_loss": 2.5, "w_raw": 0.1, "b_raw": -1.0, "w": 1.0, "b": -1.0}
    assert record.series == {"loss": [3.0, 2.5]}


@pytest.mark.parametrize("result", [COMPLETED, DIVERGED, PRUNED], ids=lambda r: r.status)
def test_run_chart_adds_the_loss_curve(result):
    record = tail_record(make_trial(run_chart=True), result)
    assert list(record.artifacts) == ["loss_curve.png"]
    assert record.artifacts["loss_curve.png"].startswith(b"\x89PNG\r\n\x1a\n")


@pytest.fixture
def tracker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite store's artifacts go under ./mlruns
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "records")


def test_a_begun_run_is_running_with_its_config_and_ended_with_its_results(tracker, tmp_path):
    trial = make_trial()
    parent = tracker.create(RunRecord("parent", tags={"sweep.role": "parent"}))
    run_id = begin_run(tracker, trial, {"sweep.role": "child", RUN_KEY: "k-child"}, parent)
    client = client_for(tracker.uri)
    begun = client.get_run(run_id)
    assert begun.info.status == "RUNNING" and begun.info.run_name == trial.name
    assert begun.data.tags["mlflow.parentRunId"] == parent
    assert begun.data.tags["sweep.role"] == "child" and begun.data.tags[RUN_KEY] == "k-child"
    assert begun.data.params == {} and begun.data.metrics == {}  # they come with the results
    saved = client.download_artifacts(run_id, "config.yaml", str(tmp_path))
    with open(saved) as f:
        assert f.read() == config_yaml(trial.config, trial.choices)

    assert end_run(tracker, run_id, trial, COMPLETED) == run_id
    ended = client.get_run(run_id)
    assert ended.info.status == "FINISHED"
    assert ended.data.params == params_of(trial)
    assert ended.data.tags["status"] == "completed" and ended.data.tags["epochs_trained"] == "3"
    assert ended.data.metrics == {"loss": 1.0, "val_loss": 1.5, "final_loss": 1.0,
                                  "final_val_loss": 1.5, "w_raw": 0.15, "b_raw": -2.0,
                                  "w": 1.5, "b": -2.0}  # fmt: skip
    assert tracker.history(run_id, "loss") == [3.0, 2.0, 1.0]


def test_a_studys_runs_are_found_and_its_extra_parents_dropped(tracker):
    def run(name: str, uid: str, role: str) -> str:
        return tracker.create(RunRecord(name, tags={"sweep.study_uid": uid, "sweep.role": role}))

    kept, extra, extra2 = (run(n, "u1", "parent") for n in ("kept", "extra", "extra2"))
    child = run("child", "u1", "child")
    other = run("other", "u2", "parent")
    assert {r.run_id for r in study_runs(tracker, "u1")} == {kept, extra, extra2, child}
    assert [r.run_id for r in study_runs(tracker, "u2")] == [other]
    assert study_runs(tracker, "u3") == []

    drop_parents(tracker, "u1", keep=kept)
    assert {r.run_id for r in study_runs(tracker, "u1")} == {kept, child}
    assert [r.run_id for r in study_runs(tracker, "u2")] == [other]  # another study's: kept
    client = client_for(tracker.uri)
    assert {client.get_run(r).info.lifecycle_stage for r in (extra, extra2)} == {"deleted"}
    drop_parents(tracker, "u1", keep=kept)  # again: nothing left to drop, no error
    assert {r.run_id for r in study_runs(tracker, "u1")} == {kept, child}
