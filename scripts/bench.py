"""Benchmark: `lr_grid` through sweep against a local one-worker MLflow server, and peers.

    python scripts/bench.py [--tutorial-points 300] [--rounds 3]

1. sweep: `python -m sweep +experiment=lr_grid` end to end, then every point read back;
2. the tutorial way: the lecture loop with `mlflow.log_metric` per epoch (a few hundred
   points timed, extrapolated to the grid's points: said so in the table);
3. a careful sequential peer: each trial trained alone, its curve sent with log-batch;
4. training alone, nothing logged: the 60 trials one by one (timed inside 3) and batched;
5. the server's ingest ceiling: log-batch requests of 1000 points from 1, 2 and 4 threads.

This machine's speed drifts by tens of percent from minute to minute, so 1, 3 and 5 are
measured in rounds, one after the other on the same server, and the table shows medians.
"""

from __future__ import annotations

import argparse
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from serve_mlflow import start
from sweep.core.defaults import mlflow_defaults
from sweep.core.schema import make_option
from sweep.train.data import load, split
from sweep.train.lecture import training_loop
from sweep.train.normalize import fit
from sweep.train.trainer import RunSpec, train

LRS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
NORMS = ["none", "scale", "standard", "minmax"]
EPOCHS = [500, 1000, 5000]
DATA = split(load(make_option("data", "thermometer")), 0.0, 0)


def grid() -> list[tuple[float, str, int]]:
    return [(lr, n, e) for lr in LRS for n in NORMS for e in EPOCHS]


def lecture_loop(n_epochs, learning_rate, t_u, t_c, on_epoch=None):
    """The lecture's loop from [1, 0]; the losses up to the first non-finite one."""
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    params, losses = training_loop(n_epochs, learning_rate, params, t_u, t_c, on_epoch)
    finite = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    return params, losses[:finite]


def inputs(norm: str) -> torch.Tensor:
    return fit(make_option("normalization", norm), DATA.train.t_u).apply(DATA.train.t_u)


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment(c, name: str) -> str:
    return c.create_experiment(f"{name}-{time.time_ns()}")


def send_curve(c, exp: str, name: str, losses: list[float], params=None) -> None:
    from mlflow.entities import Metric

    run_id = c.create_run(exp, run_name=name).info.run_id
    now = int(time.time() * 1000)
    points = [Metric("loss", v, now, i) for i, v in enumerate(losses, 1)]
    if params is not None:
        points += [Metric("w", params[0], now, 0), Metric("b", params[1], now, 0)]
    for start_ in range(0, len(points), 1000):
        c.log_batch(run_id, metrics=points[start_ : start_ + 1000])
    c.set_terminated(run_id)


def bench_sweep(uri: str, workdir: Path, name: str) -> tuple[float, float, int]:
    start_ = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sweep", "+experiment=lr_grid", f"tracking.uri={uri}",
         f"tracking.experiment={name}", f"sweep.storage=sqlite:///{workdir / name}.db"],
        cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start_
    training = float(done.stdout.split("timings: training ")[1].split(" s")[0])
    c = client(uri)
    exp = c.get_experiment_by_name(name).experiment_id
    runs = c.search_runs([exp], "tags.`optuna.trial_number` != ''", max_results=1000)
    points = sum(len(c.get_metric_history(r.info.run_id, "loss")) for r in runs)
    return wall, training, points


def bench_tutorial(uri: str, n_points: int) -> float:
    """Seconds per point with per-epoch `mlflow.log_metric`."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"bench-tutorial-{time.time_ns()}")
    with mlflow.start_run():
        start_ = time.perf_counter()
        lecture_loop(n_points, 1e-2, inputs("scale"), DATA.train.t_c,
                     lambda epoch, value: mlflow.log_metric("loss", value, step=epoch))  # fmt: skip
        return (time.perf_counter() - start_) / n_points


def bench_sequential(uri: str) -> tuple[float, float, int]:
    """Each trial trained alone, then its curve shipped with log-batch; (wall, training, points)."""
    c = client(uri)
    exp = experiment(c, "bench-sequential")
    training = points = 0
    start_ = time.perf_counter()
    for lr, norm, epochs in grid():
        t0 = time.perf_counter()
        params, losses = lecture_loop(epochs, lr, inputs(norm), DATA.train.t_c)
        training += time.perf_counter() - t0
        points += len(losses)
        finite = len(losses) == epochs
        send_curve(c, exp, f"{norm}-{lr:g}-{epochs}", losses, params.tolist() if finite else None)
    return time.perf_counter() - start_, training, points


def bench_batched_training() -> float:
    specs = [
        RunSpec(fit(make_option("normalization", n), DATA.train.t_u), (("lr", lr),), e)
        for lr, n, e in grid()
    ]
    start_ = time.perf_counter()
    train(specs, "gd", DATA)
    return time.perf_counter() - start_


def bench_ceiling(uri: str, threads: int, points: int = 24000) -> float:
    """Points per second with log-batch requests of 1000 points from `threads` threads."""
    c = client(uri)
    exp = experiment(c, f"bench-ceiling-{threads}")
    per_run = points // threads
    curve = [1.0 / i for i in range(1, per_run + 1)]
    start_ = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: send_curve(c, exp, f"c{i}", curve), range(threads)))
    return per_run * threads / (time.perf_counter() - start_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial-points", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mlflow_defaults()  # the peers get the MLflow settings the sweep runs with
    rounds = []
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        server = start(Path(tmp) / "server", port)
        uri = f"http://127.0.0.1:{port}"
        try:
            client(uri).search_experiments()  # warm the server's first request
            per_point = bench_tutorial(uri, args.tutorial_points)
            batched = bench_batched_training()
            for i in range(args.rounds):
                sweep_wall, sweep_training, points = bench_sweep(uri, Path(tmp), f"sweep-{i}")
                seq_wall, seq_training, seq_points = bench_sequential(uri)
                ceiling = max(bench_ceiling(uri, n) for n in (1, 2, 4))
                rounds.append((sweep_wall, sweep_training, seq_wall, seq_training, ceiling))
                line = f"round {i + 1}: sweep {sweep_wall:.2f} s (training {sweep_training:.2f})"
                line += f", peer {seq_wall:.2f} s, ceiling {ceiling:,.0f} points/s"
                print(line, flush=True)
        finally:
            server.terminate()
            server.wait()
    imports = import_seconds()
    medians = [statistics.median(column) for column in zip(*rounds, strict=True)]
    sweep_wall, sweep_training, seq_wall, seq_training, ceiling = medians
    tutorial = per_point * points + seq_training
    beyond = sweep_wall - imports - sweep_training
    rows = [
        ("1 sweep lr_grid, end to end", sweep_wall, ""),
        (f"2 tutorial log_metric per epoch (extrapolated from {args.tutorial_points} points)",
         tutorial, f"{per_point * 1000:.1f} ms/point"),
        ("3 careful sequential peer (train alone, log-batch)", seq_wall, ""),
        ("4a training alone, 60 trials one by one", seq_training, ""),
        ("4b training alone, 60 trials batched (sweep's trainer)", batched, ""),
    ]  # fmt: skip
    print(f"\nlr_grid: 60 trials, {points} loss points read back ({seq_points} in the peer); "
          f"medians of {len(rounds)} rounds")  # fmt: skip
    print(f"{'':<72}{'seconds':>9}  {'1 is x faster':>13}")
    for label, seconds, note in rows:
        print(f"{label:<72}{seconds:>9.2f}  {seconds / sweep_wall:>12.2f}x  {note}")
    print(f"5 ingest ceiling, best of log-batch from 1, 2, 4 threads: {ceiling:,.0f} points/s")
    print(f"import of torch, mlflow, optuna, hydra, pandas: {imports:.2f} s")
    floor = points / ceiling
    print(f"sweep beyond import and training: {beyond:.2f} s; points / ceiling: {floor:.2f} s; "
          f"ratio {beyond / floor:.2f} (target <= 1.25)")  # fmt: skip


def import_seconds() -> float:
    code = "import time; t=time.perf_counter(); import torch, mlflow, optuna, hydra, pandas; "
    code += "print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


if __name__ == "__main__":
    main()
