"""The link: calls go straight to a live store, to the spool when the server is silent, and
what an earlier sweep left in the spool goes first; calls are routed to the store's own
methods; MLflow's retries are bounded without overriding the user's settings."""

from __future__ import annotations

import pytest

from sweep.track.link import Link, _apply, bound_retries
from sweep.track.records import study_runs
from sweep.track.runs import PLACEHOLDER, RUN_KEY, RunRecord, RunStore
from sweep.track.spool import Offline, Spool, SpoolTracker

from conftest import client_for, free_port, runs_of

RETRY_VARS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
              "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "MLFLOW_HTTP_REQUEST_TIMEOUT")  # fmt: skip


@pytest.fixture
def no_retry_settings(monkeypatch):
    for name in RETRY_VARS:
        monkeypatch.setenv(name, "placeholder")  # so that teardown restores what was there
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    """One real SQLite tracking store for the module (each test uses its own experiment)."""
    return f"sqlite:///{tmp_path_factory.mktemp('link-store') / 'mlflow.db'}"


def test_a_live_store_gets_the_call_and_gives_a_real_run_id(uri, tmp_path):
    link = Link(uri, "link-live", str(tmp_path / "spool"))
    run_id = link.call(RunStore.create, (RunRecord("r", tags={RUN_KEY: "k-live"}),))
    assert not run_id.startswith(PLACEHOLDER)
    link.call(RunStore.complete, (run_id, RunRecord("r", series={"loss": [2.0, 1.0]})))
    assert link.close() == 0
    run = client_for(uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[RUN_KEY] == "k-live"
    assert run.data.metrics == {"loss": 1.0}
    assert not link.offline and Spool(tmp_path / "spool").entries() == []


def test_a_silent_server_sends_the_calls_to_the_spool(tmp_path, monkeypatch, no_retry_settings):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    bound_retries(1)  # a tiny tracking.retry_seconds
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    link = Link(closed, "link-silent", str(tmp_path / "spool"))
    try:
        placeholder = link.call(RunStore.create, (RunRecord("r", tags={RUN_KEY: "k-silent"}),))
        assert placeholder == "spool-k-silent" and link.offline
        assert link.call(RunStore.complete, (placeholder, RunRecord("r"))) == placeholder
        with pytest.raises(Offline):  # reads need the server
            link.call(study_runs, ("some-uid",))
    finally:
        left = link.close()
    assert left == 2
    entries = [Spool.read(e) for e in link.spool.entries()]
    assert [(u, e, m) for u, e, m, _ in entries] == [
        (closed, "link-silent", "create"), (closed, "link-silent", "complete"),
    ]  # fmt: skip
    assert entries[0][3][0].tags[RUN_KEY] == "k-silent"
    assert entries[1][3][0] == placeholder


def test_what_an_earlier_sweep_spooled_goes_first_and_its_placeholders_resolve(uri, tmp_path):
    experiment = "link-leftovers"
    spool = Spool(tmp_path / "spool")
    earlier = SpoolTracker(spool, uri, experiment)
    parent = earlier.create(RunRecord("parent", tags={RUN_KEY: "k-parent"}))
    SpoolTracker(spool, "sqlite:///another.db", experiment).set_status("spool-x", "FAILED")
    link = Link(uri, experiment, str(spool.path))
    child = link.call(RunStore.create, (RunRecord("child"), parent))  # a placeholder, resolved
    assert not child.startswith(PLACEHOLDER)
    assert link.close() == 0
    runs = {r.info.run_name: r for r in runs_of(uri, experiment)}
    assert sorted(runs) == ["child", "parent"]
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id
    assert [Spool.read(e)[0] for e in spool.entries()] == ["sqlite:///another.db"]  # not ours


def probe(store, *args):
    return ("called with the store first", store, args)


def create(store, *args):  # named like RunStore.create, but not it
    return ("called with the store first", store, args)


def test_runstore_calls_go_to_the_stores_own_method_and_others_get_the_store(tmp_path):
    spooler = SpoolTracker(Spool(tmp_path), "http://mlflow", "exp")
    record = RunRecord("r", tags={RUN_KEY: "k-apply"})
    assert _apply(spooler, RunStore.create, (record,)) == "spool-k-apply"
    _apply(spooler, RunStore.set_status, ("spool-k-apply", "FAILED"))
    assert [Spool.read(e)[2] for e in spooler.spool.entries()] == ["create", "set_status"]
    assert _apply(spooler, probe, (1, 2)) == ("called with the store first", spooler, (1, 2))
    assert _apply(spooler, create, (record,)) == ("called with the store first", spooler,
                                                  (record,))  # fmt: skip
    with pytest.raises(Offline):  # study_runs(store, uid) asks the spool's stand-in to read
        _apply(spooler, study_runs, ("uid",))
    assert len(spooler.spool.entries()) == 2


@pytest.mark.parametrize(
    "seconds, retries, timeout",
    [(0, "1", "5"), (5, "3", "5"), (120, "7", "30"), (600, "10", "150")],
)
def test_bound_retries_sets_the_defaults(no_retry_settings, seconds, retries, timeout):
    import os

    bound_retries(seconds)
    assert [os.environ[n] for n in RETRY_VARS] == [retries, "1", "0", timeout]


def test_bound_retries_keeps_the_users_own_values(no_retry_settings, monkeypatch):
    import os

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")
    bound_retries(5)
    assert [os.environ[n] for n in RETRY_VARS] == ["9", "1", "0", "77"]
