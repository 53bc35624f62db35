"""Start a lean local MLflow tracking server (one worker, no job runner) and wait until healthy.

    python scripts/serve_mlflow.py --dir /tmp/mlflow --port 5000     # runs until Ctrl-C
    make serve        # on 127.0.0.1:5000: ./mlflow.db (what `make run` wrote), ./mlartifacts
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
    workdir: Path,
    port: int,
    workers: int = 1,
    backend_store_uri: str | None = None,
    artifacts: Path | None = None,
    env: dict[str, str] | None = None,
    app_name: str | None = None,
) -> subprocess.Popen:
    """Start the server with its log and backend store in `workdir` (a SQLite file, unless
    `backend_store_uri` names another) and proxied artifacts in `artifacts` (default
    `workdir`/artifacts); `app_name="basic-auth"` with `env` holding the admin password and a
    secret key turns MLflow's basic auth on."""
    workdir.mkdir(parents=True, exist_ok=True)
    backend = backend_store_uri or f"sqlite:///{workdir.resolve() / 'mlflow.db'}"
    # No job runner: it starts ~8 processes that a 2-core machine would rather not feed.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    log = open(workdir / "mlflow-server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--backend-store-uri", backend,
         "--artifacts-destination", str((artifacts or workdir / "artifacts").resolve()),
         *(["--app-name", app_name] if app_name else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited; see {workdir / 'mlflow-server.log'}")
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
    parser.add_argument("--workers", type=int, default=1, help="1: no 40 ms stall (NOTES)")
    parser.add_argument("--backend-store-uri", default=None, help="default: SQLite in --dir")
    parser.add_argument("--artifacts", type=Path, default=None, help="default: --dir/artifacts")
    args = parser.parse_args()
    proc = start(args.dir, args.port, args.workers, args.backend_store_uri, args.artifacts)
    url = f"http://127.0.0.1:{args.port}"
    print(f"MLflow tracking server and dashboard: {url}")
    print(f"Send sweeps to it: python -m sweep +experiment=lr_grid tracking.uri={url}")
    print(f"  (or export MLFLOW_TRACKING_URI={url}); log in {args.dir / 'mlflow-server.log'}")
    print("Ctrl-C stops it.", flush=True)
    try:
        proc.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C; wait until it is gone
        proc.terminate()
        proc.wait(timeout=30)
        print("MLflow server stopped.")


if __name__ == "__main__":
    main()
