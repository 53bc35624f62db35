"""Benchmark: the ceiling of the workers' coordination, on one throwaway PostgreSQL.

    python scripts/bench_coordination.py            # the full run: about 4 minutes on 2 cores
    python scripts/bench_coordination.py --quick    # a smaller run: 1 to 2 minutes

Everything runs against one PostgreSQL cluster from scripts/postgres.py (no fsync, no
synchronous commit), a fresh database per measurement:

1. Claims: W worker processes (forked, W = 1, 2, 4, 8) share one study holding a grid of
   `--trials` points, queued before the clock starts. Each worker runs the sweep's own loop
   with tiny trials (no training, no MLflow) for `--claim-seconds`: `Recovery` (beat, fail
   stale trials), `take` (a batch under the study's lock), `Heartbeat.add` (the first beat),
   `tell` for each trial: the package's own functions (`open_study`, `claims.take`,
   `Heartbeat`, `study.tell`). For batch sizes 1 and 16: trials per second from the first
   start to the last exit, p50 and p95 of the `take` call, where each worker's time goes, the
   PostgreSQL transactions per trial (pg_stat_database), and the CPU per trial of the workers
   and of PostgreSQL (from /proc). A trial handed out twice fails the run.
2. The study's lock: the bench wraps `Study.lock` (nothing in src/ changes) and times, for
   every claim, the wait to get the lock (connection checkout, `pg_advisory_lock`) and how long
   it is held (the locked body plus the unlock). Then (2b), with one worker, the held time of
   take(16) against the study's size: S completed trials (warm, and for a worker that joins
   then), and S grid points still queued.
3. Heartbeats: W processes each beating for k trials in a tight loop with `Heartbeat.beat`
   (one upsert per beat, as the sweep writes them), and what the sweep's default
   `heartbeat_interval` asks of the database at W workers.
4. MLflow ingest: a tracking server on PostgreSQL (scripts/serve_mlflow.py) with 1, 2 and 4
   server workers (uvicorn, MLflow's default) and gunicorn with 4 (`MLFLOW_GUNICORN_OPTS`
   set), driven by 4 client processes, each looping create_run + one log_batch of 100 metric
   points + set_terminated. Reported: runs per second, p50/p95 of one run's three calls,
   PostgreSQL transactions and CPU (server, PostgreSQL, client) per run.

Options: --workers, --batches, --trials, --claim-seconds, --sampler random (ask new trials
under the lock instead of claiming queued points), --sizes, --beat-seconds, --servers
(MODE:WORKERS), --mlflow-seconds.

Timing is wall clock (time.monotonic, the same clock in every process); CPU from /proc, so
it needs Linux. Workers, PostgreSQL and the MLflow server share the machine's cores, as does
anything else running on it: read the figures as this machine's, on that day.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import psycopg
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postgres import Postgres, free_port, libpq_url
from serve_mlflow import start
from sweep.app.recovery import Recovery
from sweep.core.defaults import mlflow_defaults, optuna_defaults
from sweep.core.results import Outcome, RunResult
from sweep.core.schema import SweepConfig
from sweep.study.claims import take
from sweep.study.heartbeats import Heartbeat
from sweep.study.study import RESULT, RUN_ID, open_study, tell

DEFAULTS = SweepConfig()  # the sweep's defaults: heartbeat_interval, grace_period, max_retries
FORK = mp.get_context("fork")  # the workers inherit the imports: no 3 s of start-up each
# Three parameters a trial, like lr_grid's; ranges wide enough for any grid here.
DISTRIBUTIONS = {
    "x": IntDistribution(0, 10**7),
    "y": IntDistribution(0, 6),
    "z": IntDistribution(0, 2),
}
RESULT_OF_TRIAL = RunResult("completed", [3.0, 2.9], None, 1.0, 0.0, 0.1, 0.0)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def point(i: int) -> dict[str, int]:
    return {"x": i, "y": i % 7, "z": i % 3}


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def joined(results: list[dict], key: str) -> list[float]:
    """The lists under `key` of every process's results, as one list."""
    return [v for r in results for v in r[key]]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# --- CPU and database counters ---------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, own CPU ticks, reaped children's CPU ticks) of a process, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
    ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
    return ppid, utime + stime, cutime + cstime


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants, plus what their reaped children used."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (s := _stat(int(entry))) is not None:
            stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1] + stats[pid][2]
            todo += children.get(pid, [])
    return total / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    user, nice, system, idle, iowait, *rest = (
        int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    )
    total = user + nice + system + idle + iowait + sum(rest[:3])
    return (total - idle - iowait) / CLK_TCK, total / CLK_TCK


def postmaster(pg: Postgres) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def xacts(pg: Postgres, database: str) -> int:
    """Transactions committed and rolled back in `database` so far (pg_stat_database)."""
    with psycopg.connect(libpq_url(pg.url("postgres")), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass
class Meter:
    """CPU of PostgreSQL and of the whole machine, a database's transactions, and the most
    connections open to it at once (polled every 0.1 s), over a span."""

    pg: Postgres
    database: str | None = None
    server: int | None = None  # another process tree to meter (the MLflow server)
    start: dict[str, float] = field(default_factory=dict)
    connections: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def _now(self) -> dict[str, float]:
        busy, total = machine_busy()
        now = {"pg": tree_cpu(postmaster(self.pg)), "busy": busy, "total": total}
        if self.database:
            now["xacts"] = xacts(self.pg, self.database)
        if self.server:
            now["server"] = tree_cpu(self.server)
        return now

    def _poll(self) -> None:
        with psycopg.connect(libpq_url(self.pg.url("postgres")), autocommit=True) as conn:
            while not self.done.wait(0.1):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.database,)
                ).fetchone()
                self.connections = max(self.connections, int(row[0]))

    def __enter__(self) -> Meter:
        self.start = self._now()
        if self.database:
            threading.Thread(target=self._poll, daemon=True).start()
        return self

    def stop(self) -> dict[str, float]:
        self.done.set()
        time.sleep(0.3)  # exited backends reaped, their statistics flushed
        end = self._now()
        return {**{k: end[k] - self.start[k] for k in end}, "connections": self.connections}

    def __exit__(self, *exc: object) -> None:
        self.done.set()


# --- 1 and 2: claims under the study's lock ----------------------------------------------------


class TimedLock:
    """`Study.lock`, wrapped: the wait to get it, and how long it is held (body + unlock)."""

    def __init__(self, lock: Callable[[], contextlib.AbstractContextManager]) -> None:
        self.lock = lock
        self.waits: list[float] = []
        self.holds: list[float] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        asked = time.monotonic()
        with self.lock():
            got = time.monotonic()
            yield
        self.waits.append(got - asked)
        self.holds.append(time.monotonic() - got)


def sweep_settings(url: str, sampler: str = "grid") -> SweepConfig:
    """The sweep's settings (its defaults: heartbeat_interval, grace_period, no pruner)."""
    return dataclasses.replace(DEFAULTS, storage=url, study_name="bench", sampler=sampler)


def opened(url: str, sampler: str = "grid"):
    study = open_study(sweep_settings(url, sampler), 1000, {"sweep.sampler": sampler})
    study.lock = TimedLock(study.lock)
    return study


def queue_grid(url: str, grid: list[dict]) -> None:
    """Queue the grid's points (what the first worker's first `take` does), before timing."""
    take(opened(url), 0, DISTRIBUTIONS, grid, len(grid), DEFAULTS.max_retries)


def claim_worker(
    url: str,
    grid: list[dict] | None,
    total: int,
    batch: int,
    sampler: str,
    seconds: float,
    barrier,
    results,
) -> None:
    """The sweep's loop (`Sweep.run` and `Sweep.batch`) with tiny trials, for `seconds` (the
    batch under way is finished) or until the study has nothing left to take."""
    try:
        optuna_defaults()
        study = opened(url, sampler)
        heartbeat = Heartbeat(study.storage, DEFAULTS.heartbeat_interval)
        recover = Recovery(study, heartbeat, sender=None)  # no FAIL trials: no MLflow call
        spent = dict.fromkeys(("recovery", "take", "beat", "tell"), 0.0)
        claims, told = [], []
        barrier.wait()
        cpu, started = time.process_time(), time.monotonic()
        while time.monotonic() < started + seconds:
            t0 = time.monotonic()
            recover()
            t1 = time.monotonic()
            taken, _ = take(study, batch, DISTRIBUTIONS, grid, total, DEFAULTS.max_retries)
            t2 = time.monotonic()
            spent["recovery"] += t1 - t0
            spent["take"] += t2 - t1
            if not taken:  # the rest is running elsewhere: its workers finish it
                break
            claims.append(t2 - t1)
            heartbeat.add(taken)
            t3 = time.monotonic()
            for trial in taken:
                tell(
                    study.optuna,
                    trial,
                    RESULT_OF_TRIAL,
                    f"run-{trial.number}",
                    {"x": str(trial.params["x"])},
                )
            heartbeat.remove(taken)
            spent["beat"] += t3 - t2
            spent["tell"] += time.monotonic() - t3
            told += [trial.number for trial in taken]
        heartbeat.stop.set()
        results.put(
            {
                "told": told,
                "start": started,
                "end": time.monotonic(),
                "cpu": time.process_time() - cpu,
                "claims": claims,
                "waits": study.lock.waits,
                "holds": study.lock.holds,
                "spent": spent,
            }
        )
    except BaseException as ex:
        results.put({"error": f"{type(ex).__name__}: {ex}"[:2000]})
        raise


def run_processes(target: Callable, args_of: Callable[[int], tuple], n: int) -> list[dict]:
    """n forked processes of target(*args_of(i), barrier, results); their results."""
    barrier, results = FORK.Barrier(n), FORK.Queue()
    procs = [FORK.Process(target=target, args=(*args_of(i), barrier, results)) for i in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r["error"] for r in out if "error" in r]
    if errors:
        raise RuntimeError(errors[0])
    return out


@dataclass
class ClaimRow:
    batch: int
    workers: int
    trials: int
    per_second: float
    claims: list[float]
    waits: list[float]
    holds: list[float]
    spent: dict[str, float]
    worker_cpu: float
    meter: dict[str, float]


def claims_once(
    pg: Postgres, tag: str, n: int, batch: int, workers: int, sampler: str, seconds: float
) -> ClaimRow:
    url = pg.create_database(tag)
    grid = [point(i) for i in range(n)] if sampler == "grid" else None
    if grid is not None:
        p = FORK.Process(target=queue_grid, args=(url, grid))
        p.start()
        p.join(300)
        if p.exitcode:
            raise RuntimeError(f"{tag}: queueing the grid failed")
    with Meter(pg, tag) as meter:
        out = run_processes(
            claim_worker, lambda i: (url, grid, n, batch, sampler, seconds), workers
        )
        used = meter.stop()
    numbers = joined(out, "told")
    if len(set(numbers)) != len(numbers):  # the claims' one promise: no trial handed out twice
        raise RuntimeError(f"{tag}: {len(numbers) - len(set(numbers))} trials taken twice")
    told = len(numbers)
    wall = max(r["end"] for r in out) - min(r["start"] for r in out)
    spent = {k: sum(r["spent"][k] for r in out) for k in out[0]["spent"]}
    return ClaimRow(
        batch,
        workers,
        told,
        told / wall,
        joined(out, "claims"),
        joined(out, "waits"),
        joined(out, "holds"),
        spent,
        sum(r["cpu"] for r in out),
        {**used, "wall": wall},
    )


def print_claims(rows: list[ClaimRow], sampler: str) -> None:
    how = "claiming queued grid points" if sampler == "grid" else "asking new trials (random)"
    print(f"\n1. Claims, {how}: W workers share one study; each loops the sweep's recovery ->")
    print("   take(batch) under the study's lock -> first beat -> tell each (no training, no")
    print("   MLflow)")
    print(
        f"{'':>5} {'':>2} {'':>6} {'':>8} {'take call ms':>15}  {'worker ms per trial':^34}  "
        f"{'':>5} {'CPU ms/trial':>13} {'':>5} {'':>5}"
    )
    print(
        f"{'batch':>5} {'W':>2} {'trials':>6} {'trials/s':>8} {'p50':>7} {'p95':>7}  "
        f"{'recov':>6} {'take':>6} {'beat':>6} {'tell':>6} {'all':>6}  {'xacts':>5} "
        f"{'worker':>6} {'pg':>6} {'busy%':>5} {'conns':>5}"
    )
    for r in rows:
        per = {k: v / r.trials for k, v in r.spent.items()}
        m = r.meter
        busy = 100 * m["busy"] / m["total"]
        print(
            f"{r.batch:>5} {r.workers:>2} {r.trials:>6} {r.per_second:>8.0f} "
            f"{ms(pct(r.claims, 50)):>7} {ms(pct(r.claims, 95)):>7}  "
            f"{ms(per['recovery']):>6} {ms(per['take']):>6} {ms(per['beat']):>6} "
            f"{ms(per['tell']):>6} {ms(sum(per.values())):>6}  {m['xacts'] / r.trials:>5.1f} "
            f"{ms(r.worker_cpu / r.trials):>6} {ms(m['pg'] / r.trials):>6} {busy:>5.0f} "
            f"{m['connections']:>5}"
        )
    print("   trials: told in the run, each worker taking batches for the run's seconds, from a")
    print("   grid of queued points; trials/s: trials / (last exit - first start); take call:")
    print("   lock wait + hold; worker ms: wall time summed over the W workers, per trial; xacts:")
    print("   PostgreSQL transactions per trial (opening the study included); busy%: both cores,")
    print("   every process on the machine; conns: most connections open to the study's database")
    print("\n2. The study's lock (pg_advisory_lock), per claim")
    print(
        f"{'batch':>5} {'W':>2} {'claims':>6} {'wait p50':>9} {'p95 ms':>7} {'held p50':>9} "
        f"{'p95 ms':>7} {'held/trial':>10} {'lock busy':>9} {'lock-bound ceiling':>19}"
    )
    for r in rows:
        held = sum(r.holds)
        print(
            f"{r.batch:>5} {r.workers:>2} {len(r.holds):>6} {ms(pct(r.waits, 50)):>9} "
            f"{ms(pct(r.waits, 95)):>7} {ms(pct(r.holds, 50)):>9} {ms(pct(r.holds, 95)):>7} "
            f"{ms(held / r.trials):>10} {100 * held / r.meter['wall']:>8.0f}% "
            f"{r.trials / held:>13.0f} tr/s"
        )
    print("   held: from pg_advisory_lock's return to pg_advisory_unlock's; lock busy: share of")
    print("   the wall time someone held it; ceiling: trials / total held time (the lock 100%")
    print("   busy)")


def size_scan(pg: Postgres, sizes: list[int], batch: int, reps: int) -> list[tuple]:
    """With one worker: the lock's held time for take(batch) against the study's size."""
    done, queued = pg.create_database("scan_done"), pg.create_database("scan_queued")
    results = FORK.Queue()
    p = FORK.Process(target=_size_scan, args=(done, queued, sizes, batch, reps, results))
    p.start()
    out = results.get(timeout=600)
    p.join(60)
    if isinstance(out, str):
        raise RuntimeError(out)
    return out


def _timed_takes(study, grid: list[dict], batch: int, reps: int) -> tuple[float, float]:
    """Median held time of `reps` take(batch) calls (each batch told), and of study.trials()."""
    take(study, 0, DISTRIBUTIONS, grid, len(grid), DEFAULTS.max_retries)  # queued, not timed
    study.lock.holds.clear()
    read = []
    for _ in range(reps):
        t0 = time.monotonic()
        study.trials()
        read.append(time.monotonic() - t0)
        taken, _ = take(study, batch, DISTRIBUTIONS, grid, len(grid), DEFAULTS.max_retries)
        for trial in taken:
            tell(study.optuna, trial, RESULT_OF_TRIAL, "run", {"x": "0"})
    return statistics.median(study.lock.holds), statistics.median(read)


def _size_scan(
    done_url: str, queued_url: str, sizes: list[int], batch: int, reps: int, results
) -> None:
    try:
        optuna_defaults()
        summary = {**Outcome.of(RESULT_OF_TRIAL).as_dict(), "params": {"x": "0"}}
        done, queued = opened(done_url), opened(queued_url)
        rows, have = [], 0
        for size in sizes:
            # S completed trials as `tell` leaves them (value, run id, result), then a few
            # queued points to take: a long grid near its end, or a search with a long past.
            done.optuna.add_trials(
                [
                    create_trial(
                        state=TrialState.COMPLETE,
                        value=2.9,
                        params=point(i),
                        distributions=DISTRIBUTIONS,
                        user_attrs={RUN_ID: f"run-{i}", RESULT: summary},
                    )
                    for i in range(have, size)
                ]
            )
            have = size
            fresh = [point(10**6 * (1 + len(rows)) + j) for j in range(batch * (reps + 1))]
            grid = [point(i) for i in range(size)] + fresh
            warm = _timed_takes(done, grid, batch, reps)
            # A worker that joins now: its first take reads every trial (its cache is empty).
            joining = opened(done_url)
            take(joining, batch, DISTRIBUTIONS, grid, len(grid), DEFAULTS.max_retries)
            cold = joining.lock.holds[0]
            joining.storage.engine.dispose()
            # S points queued and waiting (a grid near its start): each take reads them all.
            queue = _timed_takes(queued, [point(i) for i in range(size)], batch, reps)
            rows.append((size, *warm, cold, *queue))
        results.put(rows)
    except BaseException as ex:
        results.put(f"{type(ex).__name__}: {ex}"[:2000])
        raise


def print_size_scan(rows: list[tuple], batch: int) -> None:
    print(
        f"\n2b. The lock's held time against the study's size S: one worker, take({batch}), "
        "median ms"
    )
    print(
        f"{'S':>6} {'S done: held':>13} {'trials()':>9} {'new worker held':>16} "
        f"{'S queued: held':>15} {'trials()':>9}"
    )
    for size, held, read, cold, q_held, q_read in rows:
        print(
            f"{size:>6} {ms(held):>13} {ms(read):>9} {ms(cold):>16} {ms(q_held):>15} "
            f"{ms(q_read):>9}"
        )
    print("   S done: S completed trials and a few queued points; new worker: the first take of a")
    print("   worker that opens the study then (Optuna's cache of finished trials still empty);")
    print("   S queued: S grid points waiting (each take reads every unfinished trial)")


# --- 3: heartbeats ------------------------------------------------------------------------------


def beat_worker(url: str, ids: slice, seconds: float, barrier, results) -> None:
    try:
        optuna_defaults()
        study = opened(url)
        heartbeat = Heartbeat(study.storage, 3600)  # its thread never beats during the test
        heartbeat.add(study.trials()[ids])
        beats = 0
        barrier.wait()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            heartbeat.beat()
            beats += 1
        results.put({"beats": beats, "seconds": time.monotonic() - started})
    except BaseException as ex:
        results.put({"error": f"{type(ex).__name__}: {ex}"[:2000]})
        raise


def heartbeats(
    pg: Postgres, url: str, database: str, workers: list[int], per_beat: list[int], seconds: float
) -> list[tuple]:
    rows = []
    for k in per_beat:
        for w in workers:
            with Meter(pg, database) as meter:
                out = run_processes(
                    beat_worker, lambda i, k=k: (url, slice(i * k, (i + 1) * k), seconds), w
                )
                used = meter.stop()
            beats = sum(r["beats"] for r in out)
            wall = max(r["seconds"] for r in out)
            rows.append(
                (
                    k,
                    w,
                    beats / wall,
                    k * beats / wall,
                    1000 * used["pg"] / beats,
                    100 * used["busy"] / used["total"],
                )
            )
    return rows


def print_heartbeats(rows: list[tuple], claims: list[ClaimRow]) -> None:
    interval = DEFAULTS.heartbeat_interval
    print("\n3. Heartbeats: W processes beating (Heartbeat.beat: one upsert of k rows) flat out")
    print(f"{'k':>4} {'W':>2} {'beats/s':>8} {'rows/s':>8} {'pg CPU ms/beat':>15} {'busy %':>7}")
    for k, w, per_s, rows_s, pg_ms, busy in rows:
        print(f"{k:>4} {w:>2} {per_s:>8.0f} {rows_s:>8.0f} {pg_ms:>15.2f} {busy:>7.0f}")
    print(
        f"   The sweep beats each worker's trials every heartbeat_interval = {interval} s (one "
        "upsert),"
    )
    print("   plus one per batch (Heartbeat.add's first beat; Recovery's has no trial in flight):")
    for r in claims:
        batches = r.trials / r.batch / (r.trials / r.per_second)
        print(
            f"   batch {r.batch:>2}, W={r.workers}: {r.workers / interval:.1f} timed beats/s + "
            f"{batches:.0f} per-batch beats/s at the {r.per_second:.0f} trials/s above"
        )


# --- 4: MLflow ingest ---------------------------------------------------------------------------


def mlflow_client(uri: str, experiment: str, seconds: float, barrier, results) -> None:
    try:
        mlflow_defaults()
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)

        def one() -> None:
            run_id = client.create_run(experiment).info.run_id
            now = int(time.time() * 1000)
            client.log_batch(
                run_id, metrics=[Metric("loss", 3.0 - i / 100, now, i) for i in range(100)]
            )
            client.set_terminated(run_id)

        one()  # connection up, code paths warm
        barrier.wait()
        times, cpu, started = [], time.process_time(), time.monotonic()
        while time.monotonic() - started < seconds:
            t0 = time.monotonic()
            one()
            times.append(time.monotonic() - t0)
        results.put(
            {
                "times": times,
                "seconds": time.monotonic() - started,
                "cpu": time.process_time() - cpu,
            }
        )
    except BaseException as ex:
        results.put({"error": f"{type(ex).__name__}: {ex}"[:2000]})
        raise


def create_experiment(uri: str, name: str) -> str:
    request = urllib.request.Request(
        f"{uri}/api/2.0/mlflow/experiments/create",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["experiment_id"]


def mlflow_ingest(
    pg: Postgres, work: Path, servers: list[str], clients: int, seconds: float
) -> list[tuple]:
    # One tracking database for every server in turn: MLflow's migrations run once, at the
    # first server's start (each fresh database costs seconds of them); one server at a time.
    rows, store = [], pg.create_database("mlflow")
    for spec in servers:
        mode, workers = spec.split(":")
        tag = f"mlflow_{mode}_{workers}"
        env = {"MLFLOW_GUNICORN_OPTS": "--timeout 120"} if mode == "gunicorn" else None
        port, began = free_port(), time.monotonic()
        server = start(work / tag, port, int(workers), store, env=env)
        up = time.monotonic() - began
        try:
            uri = f"http://127.0.0.1:{port}"
            experiment = create_experiment(uri, tag)
            with Meter(pg, "mlflow", server=server.pid) as meter:
                out = run_processes(
                    mlflow_client, lambda i, u=uri, e=experiment: (u, e, seconds), clients
                )
                used = meter.stop()
        finally:
            server.terminate()
            server.wait(60)
        times = joined(out, "times")
        wall = max(r["seconds"] for r in out)
        client_cpu = sum(r["cpu"] for r in out)
        rows.append(
            (
                mode,
                int(workers),
                up,
                len(times) / wall,
                pct(times, 50),
                pct(times, 95),
                used["xacts"] / len(times),
                1000 * used["server"] / len(times),
                1000 * used["pg"] / len(times),
                1000 * client_cpu / len(times),
                100 * used["busy"] / used["total"],
            )
        )
    return rows


def print_mlflow(rows: list[tuple], clients: int) -> None:
    print(
        f"\n4. MLflow server on PostgreSQL, {clients} client processes, each looping "
        "create_run + log_batch(100 points) + set_terminated"
    )
    print(
        f"{'server':>8} {'workers':>7} {'up s':>5} {'runs/s':>7} {'points/s':>9} "
        f"{'run p50':>8} {'p95 ms':>7} {'xacts/run':>9} {'CPU ms/run: server':>19} "
        f"{'pg':>5} {'client':>6} {'busy %':>6}"
    )
    for mode, w, up, per_s, p50, p95, xa, server, pgc, client, busy in rows:
        print(
            f"{mode:>8} {w:>7} {up:>5.1f} {per_s:>7.1f} {per_s * 100:>9.0f} {ms(p50):>8} "
            f"{ms(p95):>7} {xa:>9.1f} {server:>19.1f} {pgc:>5.1f} {client:>6.1f} "
            f"{busy:>6.0f}"
        )
    print("   uvicorn: `mlflow server --workers N` (the default server); gunicorn: the same with")
    print("   MLFLOW_GUNICORN_OPTS set, which makes MLflow run gunicorn -w N instead")


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter measurements")
    parser.add_argument("--workers", type=int, nargs="+", help="default 1 2 4 8 (quick: 1 4)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--trials", type=int, help="grid points queued per run (default 256; quick 128)"
    )
    parser.add_argument("--claim-seconds", type=float, help="per claims run (default 3; quick 2)")
    parser.add_argument(
        "--sampler",
        choices=["grid", "random"],
        default="grid",
        help="grid: claim queued points; random: ask new trials under the lock",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="study sizes for 2b (default 250 1000; quick 250)",
    )
    parser.add_argument(
        "--beat-seconds", type=float, help="per heartbeat point (default 1.5; quick 1)"
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        help="MODE:WORKERS, default uvicorn:1 uvicorn:2 uvicorn:4 gunicorn:4 "
        "(quick: uvicorn:1 uvicorn:2)",
    )
    parser.add_argument("--mlflow-seconds", type=float, help="per server (default 3; quick 2)")
    args = parser.parse_args()
    quick = args.quick
    workers = args.workers or ([1, 4] if quick else [1, 2, 4, 8])
    trials = args.trials or (128 if quick else 256)
    claim_seconds = args.claim_seconds or (2.0 if quick else 3.0)
    sizes = args.sizes or ([250] if quick else [250, 1000])
    beat_seconds = args.beat_seconds or (1.0 if quick else 1.5)
    servers = args.servers or (
        ["uvicorn:1", "uvicorn:2"]
        if quick
        else ["uvicorn:1", "uvicorn:2", "uvicorn:4", "gunicorn:4"]
    )
    mlflow_seconds = args.mlflow_seconds or (2.0 if quick else 3.0)
    optuna_defaults()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    began = last = time.monotonic()

    def lap(what: str) -> None:
        nonlocal last
        print(f"   ({what}: {time.monotonic() - last:.0f} s)", flush=True)
        last = time.monotonic()

    busy, total = machine_busy()
    time.sleep(2)
    busy, total = (b - a for a, b in zip((busy, total), machine_busy(), strict=True))
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, python "
        f"{sys.version.split()[0]}, optuna {optuna.__version__}; before the run: load average "
        f"{os.getloadavg()[0]:.2f}, both cores {100 * busy / total:.0f}% busy (other users)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-coord-") as tmp, Postgres(Path(tmp)) as pg:
        with psycopg.connect(libpq_url(pg.url("postgres"))) as conn:
            print(conn.execute("SELECT version()").fetchone()[0].split(" on ")[0], "(fsync off)")
        rows = []
        for batch in args.batches:
            for w in workers:
                tag, n = f"claims_b{batch}_w{w}", trials
                rows.append(claims_once(pg, tag, n, batch, w, args.sampler, claim_seconds))
                print(
                    f"   ... batch {batch}, {w} worker(s): {rows[-1].per_second:.0f} trials/s",
                    file=sys.stderr,
                    flush=True,
                )
        print_claims(rows, args.sampler)
        lap("claims")
        scan = size_scan(pg, sizes, 16, 5)
        print_size_scan(scan, 16)
        lap("study size scan")
        # Heartbeats beat the trials of the scan's study (they exist: the table's key).
        per_beat = [k for k in (1, 64) if k * max(workers) <= sizes[-1]]
        beaters = sorted({min(workers), max(workers)})
        beats = heartbeats(pg, pg.url("scan_done"), "scan_done", beaters, per_beat, beat_seconds)
        print_heartbeats(beats, rows)
        lap("heartbeats")
        ingest = mlflow_ingest(pg, Path(tmp), servers, 4, mlflow_seconds)
        print_mlflow(ingest, 4)
        lap("MLflow ingest")
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
