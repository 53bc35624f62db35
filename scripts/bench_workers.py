"""Benchmark: `lr_grid` run by 1, 2 and 4 workers at once, and what a trial costs the study's
storage, on PostgreSQL and on SQLite.

    python scripts/bench_workers.py [--rounds 3] [--workers 1 2 4]

1. Workers: for each count n, a fresh Optuna database and a fresh MLflow tracking server on a
   fresh database of one throwaway PostgreSQL (scripts/postgres.py, which runs without fsync),
   then n `python -m sweep +experiment=lr_grid` started together with `sweep.batch_size`
   = 60/n (each worker gets one batch's share); wall time from the first start to the last
   exit. Rounds alternate the counts; the table shows medians.
2. Storage per trial: the sweep's own storage calls for a 60-point grid with no training and
   no MLflow (take a batch under the study's lock, first heartbeat, tell with the outcome),
   on PostgreSQL and on a SQLite file in WAL mode.
3. A finished sweep run again (embedded stores): wall time of the no-op rerun.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from omegaconf import OmegaConf

from postgres import Postgres, free_port
from serve_mlflow import start
from sweep.core.results import RunResult
from sweep.study._optuna import trial_id
from sweep.study.claims import take
from sweep.study.heartbeats import Heartbeat
from sweep.study.space import Axis, Space
from sweep.study.study import open_study, tell

GRID = Space((Axis("optimizer.lr", (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)),
              Axis("normalization", ("none", "scale", "standard", "minmax")),
              Axis("train.epochs", (500, 1000, 5000))))  # fmt: skip


def sweep(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sweep", "+experiment=lr_grid", *args],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def workers_once(pg: Postgres, n: int, tag: str, workdir: Path) -> float:
    storage = pg.create_database(f"optuna_{tag}")
    port = free_port()
    server = start(workdir / f"server-{tag}", port, backend_store_uri=pg.create_database(tag))
    try:
        args = [f"sweep.storage={storage}", f"tracking.uri=http://127.0.0.1:{port}",
                f"sweep.batch_size={math.ceil(60 / n)}"]  # fmt: skip
        started = time.perf_counter()
        procs = [sweep(*args, cwd=workdir) for _ in range(n)]
        for proc in procs:
            _, err = proc.communicate(timeout=900)
            if proc.returncode:
                raise RuntimeError(err.decode()[-2000:])
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)


def storage_per_trial(url: str, batch: int = 10) -> float:
    """Seconds per trial of the study's bookkeeping for the 60-point grid."""
    settings = OmegaConf.create({"storage": url, "study_name": "bench", "sampler": "grid",
                                 "seed": 0, "heartbeat_interval": 5, "grace_period": 20,
                                 "pruner": {"kind": "none"}})  # fmt: skip
    started = time.perf_counter()
    study = open_study(settings, 5000, {"sweep.sampler": "grid"})
    beat = Heartbeat(study.storage, 5)
    grid, result = GRID.grid(), RunResult("completed", [3.0, 2.9], None, 1.0, 0.0, 0.1, 0.0)
    while True:
        taken, _ = take(study, batch, GRID.distributions, grid, len(grid), 3)
        if not taken:
            break
        beat.add([trial_id(t) for t in taken])
        for trial in taken:
            tell(study.optuna, trial, result, "run-id", {"optimizer.lr": "0.1"})
        beat.remove([trial_id(t) for t in taken])
    beat.stop.set()
    return (time.perf_counter() - started) / len(grid)


def noop_rerun(workdir: Path, rounds: int) -> list[float]:
    first = sweep(cwd=workdir)
    if first.wait(600):
        raise RuntimeError(first.stderr.read().decode()[-2000:])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        if sweep(cwd=workdir).wait(120):
            raise RuntimeError("the no-op rerun failed")
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, Postgres(Path(tmp)) as pg:
        work = Path(tmp)
        walls: dict[int, list[float]] = {n: [] for n in args.workers}
        for r in range(args.rounds):
            for n in args.workers:
                walls[n].append(workers_once(pg, n, f"w{n}r{r}", work))
                print(f"round {r + 1}: {n} worker(s) {walls[n][-1]:.1f} s", flush=True)
        print("\nlr_grid (60 trials), PostgreSQL storage, MLflow server (1 worker) on PostgreSQL")
        print(f"{'workers':>8} {'batch':>6} {'median s':>9}  all rounds")
        for n, times in walls.items():
            rounds = " ".join(f"{t:.1f}" for t in times)
            print(f"{n:>8} {math.ceil(60 / n):>6} {statistics.median(times):>9.1f}  {rounds}")
        cost = {"PostgreSQL": [], "SQLite (WAL)": []}
        for r in range(args.rounds):
            cost["PostgreSQL"].append(storage_per_trial(pg.create_database(f"cost{r}")))
            cost["SQLite (WAL)"].append(storage_per_trial(f"sqlite:///{work}/cost{r}.db"))
        print("\nstudy storage per trial (take in batches of 10 + first beat + tell), median")
        for name, values in cost.items():
            print(f"{name:>14}: {statistics.median(values) * 1000:.1f} ms")
        (work / "noop").mkdir()
        times = noop_rerun(work / "noop", args.rounds)
        print(
            f"\nno-op rerun of a finished lr_grid (embedded stores): median "
            f"{statistics.median(times):.2f} s ({' '.join(f'{t:.2f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
