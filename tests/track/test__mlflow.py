"""The fence around MLflow's private parts: each use still does what sweep relies on against a
real tracking server, and an MLflow of another version fails here before a sweep runs on it."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import pytest

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


def test_a_get_as_the_client_gives_the_servers_status(mlflow_server):
    assert internals.get_as_client(mlflow_server, "/health", 5) == 200
    search = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert internals.get_as_client(mlflow_server + "/", search, 5) == 200
    assert internals.get_as_client(mlflow_server, "/api/2.0/mlflow/no-such-call", 5) == 404


def test_a_get_as_the_client_tries_once_and_says_why_it_failed():
    # MLflow's own default (7 retries with backoff) would take minutes here.
    started = time.monotonic()
    with pytest.raises(OSError, match=r"^\[Errno 111\] Connection refused$"):
        internals.get_as_client("http://u:hunter2@127.0.0.1:9", "/health", 5)
    assert time.monotonic() - started < 3


SEEN: list[str | None] = []  # the Authorization header of each request _Recorder answered


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request with an empty JSON object, keeping its Authorization header."""

    def _answer(self):
        SEEN.append(self.headers.get("Authorization"))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def test_a_get_as_the_client_authenticates_as_mlflows_client_does(tmp_path, monkeypatch):
    # What the server is sent, compared with what MlflowClient sends under the same settings.
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"

    def sent() -> list:
        SEEN.clear()
        assert internals.get_as_client(uri, "/health", 5) == 200
        client_for(uri).search_experiments(max_results=1)
        return list(SEEN)

    try:
        assert sent() == [None, None]
        (tmp_path / ".mlflow").mkdir()
        (tmp_path / ".mlflow" / "credentials").write_text(
            "[mlflow]\nmlflow_tracking_username = ann\nmlflow_tracking_password = from-file\n"
        )
        from_file = "Basic " + base64.b64encode(b"ann:from-file").decode()
        assert sent() == [from_file, from_file]
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "from-env")  # the variable wins
        from_env = "Basic " + base64.b64encode(b"ann:from-env").decode()
        assert sent() == [from_env, from_env]
        (tmp_path / ".mlflow" / "credentials").unlink()
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-1")
        assert sent() == ["Bearer tok-1", "Bearer tok-1"]
    finally:
        server.shutdown()
