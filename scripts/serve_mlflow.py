"""Start a lean local MLflow tracking server (one worker, no job runner) and wait until healthy.

    python scripts/serve_mlflow.py --dir /tmp/mlflow --port 5000     # runs until Ctrl-C
    python scripts/serve_mlflow.py --backend-store-uri postgresql+psycopg://postgres@HOST/mlflow

The backend store is a SQLite file in --dir unless --backend-store-uri names another (a
PostgreSQL one, say: scripts/postgres.py starts a throwaway one). Used by scripts/bench.py; the
tests start the same server through tests/conftest.py, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def start(
    workdir: Path, port: int, workers: int = 1, backend_store_uri: str | None = None
) -> subprocess.Popen:
    """Start the server with proxied artifacts in `workdir` and its backend store there (a
    SQLite file) or at `backend_store_uri`."""
    workdir.mkdir(parents=True, exist_ok=True)
    backend = backend_store_uri or f"sqlite:///{workdir / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--backend-store-uri", backend,
         "--artifacts-destination", str(workdir / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited; see {workdir / 'server.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("mlflow server did not become healthy in 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("mlflow-server"))
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backend-store-uri", default=None, help="default: SQLite in --dir")
    args = parser.parse_args()
    proc = start(args.dir, args.port, args.workers, args.backend_store_uri)
    print(f"MLflow server at http://127.0.0.1:{args.port} (files in {args.dir}); Ctrl-C stops it")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()


if __name__ == "__main__":
    main()
