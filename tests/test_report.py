"""The report CLI: its errors are one line with the documented exit status."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading


def test_report_cli_errors_are_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sweep.report", "--experiment", "nope"],
                          cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "error: --tracking-uri: no MLflow store at sqlite:///mlflow.db\n"
    assert not (tmp_path / "mlflow.db").exists()


class HealthOnly(http.server.BaseHTTPRequestHandler):
    """A server that says it is healthy and refuses every API request, as MLflow does."""

    def do_GET(self):
        if self.path == "/health":
            body, code = b"OK", 200
        else:
            body, code = b'{"error_code": "INVALID_STATE", "message": "the store is broken"}', 400
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def serving(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_report_cli_mlflow_error_is_one_line(tmp_path):
    server = serving(HealthOnly)
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "sweep.report", "--experiment", "x", "--tracking-uri", uri],
            cwd=tmp_path, capture_output=True, text=True,
            env={**os.environ, "HYDRA_FULL_ERROR": ""},
        )  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 1
    assert done.stderr == "error: INVALID_STATE: the store is broken\n"
    assert done.stdout == ""


def test_report_cli_full_error_shows_the_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sweep.report", "--experiment", "nope"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "HYDRA_FULL_ERROR": "1"})  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert done.stderr.rstrip().endswith(
        "ConfigError: --tracking-uri: no MLflow store at sqlite:///mlflow.db"
    )
