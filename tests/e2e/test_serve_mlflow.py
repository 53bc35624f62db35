"""`make serve`'s server (scripts/serve_mlflow.py): healthy on its port, says where to send
sweeps, and stops cleanly on Ctrl-C (which reaches the whole process group, as in a terminal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from conftest import ROOT, free_port


def test_serve_prints_where_to_send_sweeps_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve_mlflow.py"), "--dir", str(tmp_path),
         "--port", str(port), "--artifacts", str(tmp_path / "mlartifacts")],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        assert proc.stdout.readline().strip() == f"MLflow tracking server and dashboard: {url}"
        assert f"tracking.uri={url}" in proc.stdout.readline()
        with urllib.request.urlopen(f"{url}/health", timeout=5) as health:
            assert health.status == 200
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal that ran `make serve`
        assert proc.wait(timeout=30) == 0
        assert "MLflow server stopped." in proc.stdout.read()
        assert (tmp_path / "mlflow.db").is_file()
        with pytest.raises(OSError):  # nothing listens any more
            urllib.request.urlopen(f"{url}/health", timeout=5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
