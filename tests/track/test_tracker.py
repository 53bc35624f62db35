"""The tracker: log-batch payloads within MLflow's limits, nothing non-finite, fast failures,
and runs read back from a real tracking server."""

from __future__ import annotations

import math

import pytest

from sweep.core.config import ConfigError
from sweep.track.reachable import check_reachable
from sweep.track.runs import RunRecord
from sweep.track.tracker import Tracker

from conftest import client_for, runs_of


def record(n_points=2500, n_params=25, **metrics):
    return RunRecord(
        "r",
        params={f"p{i}": str(i) for i in range(n_params)},
        tags={"status": "completed"},
        series={"loss": [1.0 / s for s in range(1, n_points + 1)]},
        metrics={"w": 1.5, "b": -2.0, **metrics},
    )


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_values_are_refused_before_a_run_exists(mlflow_server, bad):
    tracker = Tracker(mlflow_server, "refused")
    broken = record(10, 2)
    broken.series["loss"][4] = bad
    with pytest.raises(ValueError, match="refusing to log non-finite"):
        tracker.log_run(broken)
    with pytest.raises(ValueError):
        tracker.log_run(record(10, 2, final_loss=bad))
    assert runs_of(mlflow_server, "refused") == []


def test_unreachable_and_impossible_stores_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^tracking\.uri: cannot reach MLflow"):
        check_reachable("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ConfigError, match="no directory"):
        check_reachable(f"sqlite:///{tmp_path}/missing/dir/mlflow.db")
    check_reachable(f"sqlite:///{tmp_path}/mlflow.db")


def test_runs_round_trip_through_a_server(mlflow_server):
    tracker = Tracker(mlflow_server, "round-trip")
    parent = tracker.create(RunRecord("parent", tags={"sweep.role": "parent"}))
    ids = [tracker.log_run(record(1200, 3), parent) for _ in range(3)]
    assert [r.run_id for r in tracker.find_runs(**{"mlflow.parentRunId": parent})] == ids[::-1]
    client = client_for(mlflow_server)
    for run_id in ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {"loss": 1 / 1200, "w": 1.5, "b": -2.0}
        assert run.data.params == {"p0": "0", "p1": "1", "p2": "2"}
        assert tracker.history(run_id, "loss") == [1.0 / s for s in range(1, 1201)]
    tracker.delete_runs(ids[:1])
    tracker.delete_runs(ids[:1])  # deleted already (by another worker): no error
    assert len(tracker.find_runs(**{"mlflow.parentRunId": parent})) == 2


def test_a_run_begun_then_completed_holds_both_parts(mlflow_server):
    tracker = Tracker(mlflow_server, "two-parts")
    head = RunRecord("r", params={"lr": "0.01"}, tags={"phase": "head"}, artifacts={"a.txt": b"1"})
    run_id = tracker.create(head)
    assert client_for(mlflow_server).get_run(run_id).info.status == "RUNNING"
    tracker.complete(run_id, record(10, 0))
    run = client_for(mlflow_server).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags["phase"] == "head" and run.data.tags["status"] == "completed"
    assert run.data.metrics == {"loss": 0.1, "w": 1.5, "b": -2.0}
    artifacts = client_for(mlflow_server).list_artifacts(run_id)
    assert [a.path for a in artifacts] == ["a.txt"]


def test_reopen_refreshes_a_parent_or_replaces_one_that_is_gone(mlflow_server):
    tracker = Tracker(mlflow_server, "reopen")
    first = tracker.create(RunRecord("p", tags={"n": "1", "started": "x"}))
    tracker.set_status(first, "KILLED")
    assert tracker.reopen(first, RunRecord("p", tags={"n": "2"})) == first
    run = client_for(mlflow_server).get_run(first)
    assert run.info.status == "RUNNING"
    assert (run.data.tags["n"], run.data.tags["started"]) == ("2", "x")
    child = tracker.create(RunRecord("c"), first)
    tracker.delete_runs([first])
    other = tracker.reopen(first, RunRecord("p", tags={"n": "3"}))
    assert other != first
    assert client_for(mlflow_server).get_run(other).data.tags["n"] == "3"
    tracker.set_parent(child, other)
    assert [r.run_id for r in tracker.find_runs(**{"mlflow.parentRunId": other})] == [child]
