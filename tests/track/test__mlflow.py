"""The fence around MLflow's private parts: each use still does what sweep relies on against a
real tracking server, and an MLflow of another version fails here before a sweep runs on it."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from sweep.track import _mlflow as internals

from conftest import client_for


def test_mlflow_is_the_version_the_fence_was_checked_against():
    # An upgrade fails here on purpose: check each use below, then move CHECKED.
    assert mlflow.__version__ == internals.CHECKED


def test_a_server_client_has_the_rest_store_a_local_one_has_not(tmp_path, mlflow_server):
    # If MLflow moved or renamed its REST store, sweep would silently take the slow path.
    assert internals.log_batch_sender(client_for(mlflow_server)) is not None
    assert internals.log_batch_sender(client_for(f"sqlite:///{tmp_path / 'm.db'}")) is None


def test_a_log_batch_written_as_json_lands_as_sent(mlflow_server):
    client = client_for(mlflow_server)
    experiment = client.create_experiment("internals-batch")
    run_id = client.create_run(experiment).info.run_id
    payload = {"run_id": run_id, "params": [{"key": "p", "value": "1"}],
               "tags": [{"key": "t", "value": "x"}],
               "metrics": [{"key": "loss", "value": 1.0 / s, "timestamp": 0, "step": s}
                           for s in range(1, 999)]}  # fmt: skip
    internals.log_batch_sender(client)(json.dumps(payload))
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1"} and run.data.tags["t"] == "x"
    history = sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / s) for s in range(1, 999)]


def test_the_artifact_repository_writes_where_the_run_reads(tmp_path, mlflow_server):
    client = client_for(mlflow_server)
    experiment = client.create_experiment("internals-artifacts")
    run = client.create_run(experiment)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "note.txt").write_text("kept")
    repository = internals.artifact_repository(run.info.artifact_uri, mlflow_server)
    repository.log_artifacts(str(tmp_path / "up"))
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["note.txt"]
    got = client.download_artifacts(run.info.run_id, "note.txt", str(tmp_path))
    assert Path(got).read_text() == "kept"
