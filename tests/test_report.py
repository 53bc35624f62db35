"""The sweep table: ordering, columns, summary text, and the report CLI's errors."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

from sweep.report import summary_text, table
from sweep.track.runs import StoredRun


def child(n, status, loss=None, lr="0.01", norm="scale", epochs="500", **tags):
    metrics = {} if loss is None else {"final_loss": loss, "w_raw": 0.5, "b_raw": -17.0}
    params = {"optimizer.lr": lr, "normalization": norm, "train.epochs": epochs, "optimizer": "gd"}
    tags = {"optuna.trial_number": str(n), "status": status, "epochs_trained": epochs, **tags}
    return StoredRun(f"run{n}", f"t{n}", "FINISHED", params, metrics, tags)


def test_table_orders_completed_by_loss_then_pruned_then_diverged():
    runs = [
        child(0, "diverged", norm="none", diverged_at_epoch="11", epochs_trained="10"),
        child(1, "completed", 3.5, lr="0.001"),
        child(2, "pruned", 9.0),
        child(3, "completed", 2.9),
    ]
    frame = table(runs, ["optimizer.lr", "normalization"])
    assert frame["trial"].tolist() == [3, 1, 2, 0]
    assert list(frame.columns[:5]) == ["trial", "status", "final_loss", "optimizer.lr",
                                       "normalization"]  # fmt: skip
    assert frame.loc[3, "diverged_at_epoch"] == 11 and frame.loc[3, "epochs_trained"] == 10
    assert frame["optimizer.lr"].tolist() == [0.01, 0.001, 0.01, 0.01]
    text = summary_text(frame, top=2)
    assert text.startswith("Best 2 of 4 trials (by final loss):")
    assert text.endswith("Status: completed 2, diverged 1, pruned 1")
    assert "run3" not in text


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
