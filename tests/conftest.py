"""Shared fixtures: a real MLflow tracking server, and a way to run `python -m sweep`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from serve_mlflow import start  # noqa: E402

# The lecture's float32 losses at epochs 500, 1000, ..., 5000 (../shared/NOTES.md).
LECTURE_LOSSES = [
    7.860115, 3.828538, 3.092191, 2.957698, 2.933134,
    2.928648, 2.927830, 2.927679, 2.927652, 2.927647,
]  # fmt: skip
LECTURE_PARAMS = [5.367084503173828, -17.301193237304688]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real, lean tracking server (scripts/serve_mlflow.py): SQLite, proxied artifacts."""
    port = free_port()
    proc = start(tmp_path_factory.mktemp("mlflow-server"), port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def run_sweep(*overrides: str, cwd: Path, env: dict | None = None, timeout: float = 600):
    """Run `python -m sweep` as a user does; returns the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sweep", *overrides],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def runs_of(uri: str, experiment: str) -> list:
    client = client_for(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], max_results=1000)
