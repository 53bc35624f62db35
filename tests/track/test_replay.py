"""Replaying the spool against a real SQLite store is idempotent: entries applied twice (a
replay killed between applying an entry and deleting it) create each run once and send each
metric step once; placeholders resolve to the runs they stand for."""

from __future__ import annotations

import shutil

import pytest

from sweep.track.replay import Replayer
from sweep.track.runs import RUN_KEY, RunRecord
from sweep.track.spool import Spool, SpoolTracker, replay
from sweep.track.tracker import Tracker

from conftest import client_for, runs_of


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    """One real SQLite tracking store for the module (each test uses its own experiment)."""
    return f"sqlite:///{tmp_path_factory.mktemp('replay-store') / 'mlflow.db'}"


def spool_a_sweep(spool: Spool, uri: str, experiment: str) -> None:
    """What a sweep spools while its server is silent: a parent, two finished children."""
    offline = SpoolTracker(spool, uri, experiment)
    parent = offline.create(RunRecord("parent", tags={"sweep.role": "parent"}))
    for name, losses in (("a", [3.0, 2.0, 1.0]), ("b", [5.0, 4.0])):
        child = offline.create(RunRecord(name, tags={"trial": name}), parent)
        offline.complete(child, RunRecord(name, params={"lr": "0.1"}, tags={"status": "ok"},
                                          series={"loss": losses}, metrics={"w": 1.5}))  # fmt: skip
    offline.set_status(parent, "FINISHED")


def points(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client_for(uri).get_metric_history(run_id, key))


def test_replaying_the_same_entries_twice_creates_each_run_and_step_once(uri, tmp_path):
    experiment = "replay-twice"
    spool = Spool(tmp_path / "spool")
    spool_a_sweep(spool, uri, experiment)
    kept = tmp_path / "kept"
    shutil.copytree(spool.path, kept)
    written = len(spool.entries())
    assert written == 6

    def tracker_for(*_):
        return Replayer(Tracker(uri, experiment))

    assert replay(spool, tracker_for) == written
    assert spool.entries() == []
    for entry in kept.iterdir():  # as if every entry had been applied but not deleted
        shutil.copy(entry, spool.path)
    assert replay(spool, tracker_for) == written
    assert spool.entries() == []

    runs = {r.info.run_name: r for r in runs_of(uri, experiment)}
    assert sorted(runs) == ["a", "b", "parent"]  # each run once
    parent = runs["parent"]
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.role"] == "parent"
    for name, losses in (("a", [3.0, 2.0, 1.0]), ("b", [5.0, 4.0])):
        run = runs[name]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.params == {"lr": "0.1"}
        assert run.data.tags["status"] == "ok" and run.data.tags["trial"] == name
        assert points(uri, run.info.run_id, "loss") == list(enumerate(losses, start=1))
        assert points(uri, run.info.run_id, "w") == [(0, 1.5)]  # the scalar once, at step 0


def test_a_call_retried_into_the_spool_adds_only_what_the_run_lacks(uri, tmp_path):
    """A run created live before the server went silent, whose completion was spooled: replay
    finds it by its key, sends the missing steps only, and creates nothing."""
    experiment = "replay-partial"
    tracker = Tracker(uri, experiment)
    run_id = tracker.create(RunRecord("r", tags={RUN_KEY: "k-partial"}))
    tracker.write(run_id, RunRecord("r", series={"loss": [3.0, 2.0]}, metrics={"w": 1.0}))
    spool = Spool(tmp_path)
    offline = SpoolTracker(spool, uri, experiment)
    again = offline.create(RunRecord("r", tags={RUN_KEY: "k-partial"}))
    assert again == "spool-k-partial"
    offline.complete(again, RunRecord("r", series={"loss": [3.0, 2.0, 1.0]},
                                      metrics={"w": 1.0, "b": -2.0}))  # fmt: skip
    replayer = Replayer(tracker)
    assert replay(spool, lambda *_: replayer) == 2

    (run,) = runs_of(uri, experiment)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert points(uri, run_id, "loss") == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert points(uri, run_id, "w") == [(0, 1.0)]  # the same value: not sent again
    assert points(uri, run_id, "b") == [(0, -2.0)]
    assert replayer.resolver.known == {"spool-k-partial": run_id}


def test_replay_applies_only_its_destination_and_skips_runs_that_never_arrived(uri, tmp_path):
    experiment = "replay-only"
    spool = Spool(tmp_path)
    offline = SpoolTracker(spool, uri, experiment)
    kept = offline.create(RunRecord("kept", tags={RUN_KEY: "k-kept"}))
    gone = offline.create(RunRecord("gone", tags={RUN_KEY: "k-gone"}))
    offline.delete_runs([gone, "spool-never-created"])
    SpoolTracker(spool, "sqlite:///elsewhere.db", experiment).set_status("spool-x", "FAILED")
    replayer = Replayer(Tracker(uri, experiment))
    assert replay(spool, lambda *_: replayer, only=(uri, experiment)) == 3
    assert [Spool.read(e)[0] for e in spool.entries()] == ["sqlite:///elsewhere.db"]
    (run,) = runs_of(uri, experiment)
    assert run.info.run_name == "kept" and run.data.tags[RUN_KEY] == "k-kept"
    assert replayer.resolver.run_id(kept) == run.info.run_id
