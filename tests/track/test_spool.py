"""The spool: entries on disk in the order written, whole or not at all; the spool's stand-in
tracker hands out placeholders and refuses reads; silent servers are told from other failures;
placeholders resolve to the runs found on a real store by their key."""

from __future__ import annotations

import pickle
import urllib.request

import pytest
import requests

from sweep.track.reachable import check_reachable
from sweep.track.runs import PLACEHOLDER, RUN_KEY, RunRecord
from sweep.track.spool import Offline, Resolver, Spool, SpoolTracker, unreachable
from sweep.track.tracker import Tracker

from conftest import free_port


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    """One real SQLite tracking store for the module (each test uses its own experiment)."""
    return f"sqlite:///{tmp_path_factory.mktemp('spool-store') / 'mlflow.db'}"


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # bound, then released: nothing listens there


def test_entries_come_back_in_the_order_written_with_their_destination(tmp_path):
    spool = Spool(tmp_path / "spool")
    assert spool.entries() == [] and spool.count("u", "e") == 0  # no directory yet
    for i in range(12):
        spool.put("uri-a" if i % 3 else "uri-b", "exp", "set_status", f"run{i}", "FINISHED")
    entries = spool.entries()
    assert len(entries) == 12
    assert [Spool.read(e) for e in entries] == [
        ("uri-a" if i % 3 else "uri-b", "exp", "set_status", (f"run{i}", "FINISHED"))
        for i in range(12)
    ]
    only_b = spool.entries(("uri-b", "exp"))
    assert [Spool.read(e)[3][0] for e in only_b] == ["run0", "run3", "run6", "run9"]
    assert spool.count("uri-a", "exp") == 8 and spool.count("uri-b", "exp") == 4
    assert spool.count("uri-a", "other") == 0


def test_an_entry_is_a_whole_file_and_nothing_else_is_left(tmp_path):
    spool = Spool(tmp_path)
    record = RunRecord("r", params={"lr": "0.1"}, series={"loss": [3.0, 2.0]})
    spool.put("sqlite:///x.db", "exp", "create", record, None)
    files = list(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".entry"]  # no temporary file left behind
    with open(files[0], "rb") as f:  # two pickles: the destination first, then the call
        assert pickle.load(f) == ("sqlite:///x.db", "exp")
        assert pickle.load(f) == ("create", (record, None))
        assert f.read() == b""


def test_other_files_in_the_directory_are_not_entries(tmp_path):
    spool = Spool(tmp_path)
    (tmp_path / ".tmp-abc").write_bytes(b"torn")  # a write cut short before its rename
    (tmp_path / "notes.txt").write_text("x")
    spool.put("u", "e", "set_status", "r", "FAILED")
    assert [Spool.read(e)[2:] for e in spool.entries()] == [("set_status", ("r", "FAILED"))]


def test_an_entry_replayed_meanwhile_is_not_counted(tmp_path):
    spool = Spool(tmp_path)
    spool.put("u", "e", "set_status", "r", "FAILED")
    (entry,) = spool.entries()
    entry.unlink()
    assert spool._meant(entry) is None
    with pytest.raises(FileNotFoundError):
        Spool.read(entry)


def test_the_spool_tracker_writes_entries_and_hands_out_placeholders(tmp_path):
    spool = Spool(tmp_path)
    tracker = SpoolTracker(spool, "http://mlflow", "exp")
    keyed = tracker.create(RunRecord("parent", tags={RUN_KEY: "k1", "sweep.role": "parent"}))
    assert keyed == "spool-k1"
    fresh = tracker.create(RunRecord("child", series={"loss": [1.0]}), keyed)
    assert fresh.startswith(PLACEHOLDER) and len(fresh) > len(PLACEHOLDER) and fresh != keyed
    assert tracker.complete(fresh, RunRecord("child", metrics={"w": 1.0})) == fresh
    tracker.write(fresh, RunRecord("child"), {"t": "v"})
    assert tracker.reopen(keyed, RunRecord("parent")) == keyed
    tracker.set_parent(fresh, keyed)
    tracker.set_status(keyed, "FINISHED")
    tracker.delete_runs([fresh])

    read = [Spool.read(e) for e in spool.entries()]
    assert {(uri, exp) for uri, exp, _, _ in read} == {("http://mlflow", "exp")}
    assert [method for _, _, method, _ in read] == [
        "create", "create", "complete", "write", "reopen", "set_parent", "set_status",
        "delete_runs",
    ]  # fmt: skip
    created = read[1][3][0]
    assert created.tags[RUN_KEY] == fresh.removeprefix(PLACEHOLDER)  # the key travels with it
    assert read[1][3][1] == "spool-k1"  # the parent, as its placeholder
    assert read[0][3][0].tags == {RUN_KEY: "k1", "sweep.role": "parent"}
    assert read[3][3] == (fresh, RunRecord("child"), {"t": "v"})
    assert read[7][3] == ([fresh],)


def test_the_spool_tracker_refuses_non_finite_values_and_all_reads(tmp_path):
    spool = Spool(tmp_path)
    tracker = SpoolTracker(spool, "http://mlflow", "exp")
    with pytest.raises(ValueError, match="non-finite"):
        tracker.create(RunRecord("r", series={"loss": [1.0, float("nan")]}))
    with pytest.raises(ValueError, match="non-finite"):
        tracker.complete("spool-x", RunRecord("r", metrics={"w": float("inf")}))
    assert spool.entries() == []
    with pytest.raises(Offline, match="http://mlflow"):
        tracker.find_runs(**{RUN_KEY: "k"})
    with pytest.raises(Offline):
        tracker.history("spool-x", "loss")
    with pytest.raises(Offline):
        tracker.client  # noqa: B018


def raised(call) -> BaseException:
    try:
        call()
    except BaseException as ex:
        return ex
    raise AssertionError("no exception")


def test_real_failures_to_connect_count_as_unreachable():
    url = closed_port_url()
    from_requests = raised(lambda: requests.get(url + "/health", timeout=5))
    from_urllib = raised(lambda: urllib.request.urlopen(url + "/health", timeout=5))
    from_check = raised(lambda: check_reachable(url, timeout=2))
    for ex in (from_requests, from_urllib, from_check):
        assert unreachable(ex), repr(ex)

    def wrapped():
        try:
            urllib.request.urlopen(url, timeout=5)
        except OSError as ex:
            raise RuntimeError("the call failed") from ex

    assert unreachable(raised(wrapped))  # through the cause


def test_other_failures_do_not_count_as_unreachable(store_uri):
    tracker = Tracker(store_uri, "spool-not-unreachable")
    missing_run = raised(lambda: tracker.client.get_run("no-such-run"))
    assert not unreachable(missing_run)
    assert not unreachable(ValueError("refusing to log non-finite loss (nan)"))
    assert not unreachable(raised(lambda: {}["key"]))


def test_placeholders_resolve_to_the_runs_holding_their_key(store_uri):
    tracker = Tracker(store_uri, "spool-resolver")
    run_id = tracker.create(RunRecord("r", tags={RUN_KEY: "key-1"}))
    other = tracker.create(RunRecord("s", tags={RUN_KEY: "key-2"}))
    resolver = Resolver(tracker)
    assert resolver.run_id("spool-key-1") == run_id
    assert resolver.run_id("spool-key-2") == other
    assert resolver.run_id("spool-not-there") == "spool-not-there"  # not on the store yet
    assert "spool-not-there" not in resolver.known
    assert resolver.run_id(run_id) == run_id and resolver.run_id(None) is None

    args = resolver.args(
        ("spool-key-1", ["spool-key-2", "spool-not-there", run_id], "FINISHED", None, 3)
    )
    assert args == (run_id, [other, run_id], "FINISHED", None, 3)
    record = RunRecord("r")
    assert resolver.args((record, [])) == (record, [])


def test_a_placeholder_resolves_once_its_run_reaches_the_store(store_uri):
    tracker = Tracker(store_uri, "spool-resolver-late")
    resolver = Resolver(tracker)
    assert resolver.run_id("spool-late") == "spool-late"
    run_id = tracker.create(RunRecord("late", tags={RUN_KEY: "late"}))
    assert resolver.run_id("spool-late") == run_id
    assert resolver.known == {"spool-late": run_id}
