"""Benchmark: `lr_grid` through `launcher=slurm` with 1, 2 and 4 worker jobs, on a throwaway
single-node SLURM (scripts/slurm.py), the study on a throwaway PostgreSQL and a lean MLflow
server on PostgreSQL.

    python scripts/bench_slurm.py [--rounds 3] [--workers 1 2 4]      # as root

For each round and worker count: a fresh Optuna database and a fresh experiment (the run's
`name`), then `python -m sweep +experiment=lr_grid launcher=slurm launcher.workers=N` timed
from its start to its exit (it waits for the jobs and prints the summary), and the time from
the submitter's "Submitted ..." line to the first trial claimed in the study (the jobs'
start-up: scheduling, Python, torch and Optuna imports). Rounds alternate the counts; the
table shows medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postgres import Postgres
from serve_mlflow import start
from slurm import Slurm, free_port


def first_claim(storage: str, name: str, stop: threading.Event) -> float | None:
    """The epoch time the study's first trial started (None if none did before `stop`)."""
    while not stop.is_set():
        try:
            trials = optuna.load_study(study_name=name, storage=storage).trials
        except (KeyError, Exception):  # not created yet
            trials = []
        started = [t.datetime_start for t in trials if t.datetime_start is not None]
        if started:
            return min(started).timestamp()
        time.sleep(0.2)
    return None


def one(workers: int, tag: str, pg: Postgres, uri: str, slurm: Slurm, cwd: Path) -> tuple:
    name = f"bench_{tag}"
    storage = pg.create_database(name)
    args = [sys.executable, "-m", "sweep", "+experiment=lr_grid", "launcher=slurm",
            f"launcher.workers={workers}", f"name={name}", f"sweep.storage={storage}",
            f"tracking.uri={uri}", "launcher.poll_seconds=1"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=slurm.env(), stdout=subprocess.PIPE, text=True)
    submitted = None
    for line in proc.stdout:
        if line.startswith("Submitted "):
            submitted = time.time()
            break
    stop = threading.Event()
    claimed: list[float | None] = []
    watcher = threading.Thread(target=lambda: claimed.append(first_claim(storage, name, stop)))
    watcher.start()
    rest = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    if proc.returncode != 0 or "Done: 60 trials" not in rest:
        raise RuntimeError(f"{tag}: exit {proc.returncode}\n{rest[-2000:]}")
    to_claim = (claimed[0] - submitted) if claimed and claimed[0] and submitted else float("nan")
    return wall, to_claim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    pg = Postgres(work).start()
    slurm = Slurm(max_time=120).start()
    port = free_port()
    server = start(work / "mlflow", port, backend_store_uri=pg.create_database("mlflow"))
    uri = f"http://127.0.0.1:{port}"
    walls: dict[int, list[float]] = {n: [] for n in args.workers}
    claims: dict[int, list[float]] = {n: [] for n in args.workers}
    try:
        for r in range(args.rounds):
            order = args.workers if r % 2 == 0 else args.workers[::-1]
            for n in order:
                wall, to_claim = one(n, f"w{n}_r{r}", pg, uri, slurm, work)
                walls[n].append(wall)
                claims[n].append(to_claim)
                print(f"round {r + 1}: {n} workers {wall:6.1f} s, submit to first claim "
                      f"{to_claim:5.1f} s", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
        slurm.stop()
        pg.stop()
    print(f"\nlr_grid through launcher=slurm, medians of {args.rounds} ({datetime.now():%Y-%m-%d})")
    print("| workers | wall time | submit to first claim |\n|---|---|---|")
    for n in args.workers:
        print(f"| {n} | {statistics.median(walls[n]):.1f} s | "
              f"{statistics.median(claims[n]):.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
