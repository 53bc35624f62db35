"""Start a lean local MLflow tracking server (one worker, no job runner) and wait until healthy.

    python scripts/serve_mlflow.py --dir /tmp/mlflow --port 5000     # runs until Ctrl-C

Used by scripts/bench.py; the tests start the same server through tests/conftest.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def start(workdir: Path, port: int, workers: int = 1) -> subprocess.Popen:
    """Start the server with a SQLite backend and proxied artifacts in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
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
    args = parser.parse_args()
    proc = start(args.dir, args.port, args.workers)
    print(f"MLflow server at http://127.0.0.1:{args.port} (data in {args.dir}); Ctrl-C stops it")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()


if __name__ == "__main__":
    main()
