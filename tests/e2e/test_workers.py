"""Several workers on one study: processes started at the same instant on PostgreSQL (or on the
embedded SQLite stores) run each grid point once, under one parent, with complete curves; a
database restart costs nothing; no password reaches the store or the console (dead workers'
trials and runs, cleaned up by the living: app/test_recovery.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from serve_mlflow import start

from conftest import GRID_SIZE, UNSET, check_one_sweep, client_for, free_port, run_sweep, runs_of


def sweep_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in UNSET}


def launch(args: list[str], cwd: Path, n: int) -> list[subprocess.Popen]:
    """`n` workers started together, as `n` terminals (or containers) would."""
    return [subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=sweep_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(n)]  # fmt: skip


def finish(workers: list[subprocess.Popen], timeout: float = 600) -> list[tuple[int, str, str]]:
    return [(w.wait(timeout), *w.communicate()) for w in workers]


def load_trials(storage: str) -> list:
    try:
        return optuna.load_study(study_name="lr_grid", storage=storage).trials
    except KeyError:  # not created yet
        return []


def completed(storage: str) -> int:
    return sum(t.state == TrialState.COMPLETE for t in load_trials(storage))


def trained(out: str) -> int:
    line = next(line for line in out.splitlines() if line.startswith("Trained "))
    return int(line.split()[1])


def test_four_workers_at_once_on_fresh_postgres_databases(tmp_path, postgres):
    for round_ in range(3):
        storage = postgres.create_database(f"optuna_four_{round_}")
        backend = postgres.create_database(f"mlflow_four_{round_}")
        port = free_port()
        server = start(tmp_path / f"server{round_}", port, backend_store_uri=backend)
        uri = f"http://127.0.0.1:{port}"
        try:
            args = ["+experiment=lr_grid", f"sweep.storage={storage}", f"tracking.uri={uri}",
                    "sweep.batch_size=8"]  # fmt: skip
            results = finish(launch(args, tmp_path, 4))
            assert [code for code, _, _ in results] == [0] * 4, [err for _, _, err in results]
            assert sum(trained(out) for _, out, _ in results) == GRID_SIZE
            check_one_sweep(storage, "lr_grid", uri, "lr_grid")
        finally:
            server.terminate()
            server.wait(30)


def test_two_workers_at_once_on_the_embedded_stores(tmp_path):
    results = finish(launch(["+experiment=lr_grid", "sweep.batch_size=8"], tmp_path, 2))
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert sum(trained(out) for _, out, _ in results) == GRID_SIZE
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    check_one_sweep(storage, "lr_grid", f"sqlite:///{tmp_path / 'mlflow.db'}", "lr_grid")


def running_children_of(uri: str, experiment: str, pid: int) -> list:
    return [r for r in runs_of(uri, experiment)
            if r.data.tags.get("sweep.worker", "").endswith(f":{pid}")
            and r.info.status == "RUNNING"]  # fmt: skip


def test_a_database_restart_mid_sweep_fails_no_live_trial(tmp_path, postgres, mlflow_server):
    storage = postgres.create_database("optuna_restart")
    args = ["+experiment=lr_grid", f"sweep.storage={storage}", f"tracking.uri={mlflow_server}",
            "tracking.experiment=restart", "sweep.batch_size=6", "sweep.heartbeat_interval=1",
            "sweep.grace_period=8"]  # fmt: skip
    [worker] = launch(args, tmp_path, 1)
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline and worker.poll() is None
        states = [t.state for t in load_trials(storage)]
        if states.count(TrialState.COMPLETE) >= 12 and TrialState.RUNNING in states:
            break
        time.sleep(0.1)
    postgres.restart()
    [(code, _, err)] = finish([worker])
    assert code == 0, err
    check_one_sweep(storage, "lr_grid", mlflow_server, "restart")
    study = optuna.load_study(study_name="lr_grid", storage=storage)
    assert [t.number for t in study.trials if t.state == TrialState.FAIL] == []


PASSWORD = "pw-s3cret-4242"


def test_no_password_reaches_the_store_or_the_console(tmp_path, postgres, mlflow_server):
    storage = postgres.url("optuna_secret", password=PASSWORD)
    postgres.create_database("optuna_secret")
    host = mlflow_server.removeprefix("http://")
    args = ["+experiment=lr_grid", f"sweep.storage={storage}",
            f"tracking.uri=http://someone:{PASSWORD}@{host}", "tracking.experiment=secret",
            "sweep.space.optimizer.lr=[0.1]", "sweep.space.train.epochs=[300]"]  # fmt: skip
    done = run_sweep(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    runs = runs_of(mlflow_server, "secret")
    assert len(runs) == 5
    client = client_for(mlflow_server)
    for run in runs:
        texts = [*run.data.params.values(), *run.data.tags.values(), run.info.run_name]
        assert not [t for t in texts if PASSWORD in t]
        local = Path(
            client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id))
        )
        for path in local.rglob("*"):
            assert path.is_dir() or PASSWORD.encode() not in path.read_bytes(), path
    parent = next(r for r in runs if r.data.tags.get("sweep.role") == "parent")
    assert parent.data.tags["sweep.storage"] == storage.replace(PASSWORD, "***")
    assert parent.data.params["tracking.uri"] == f"http://someone:***@{host}"
    # A bad password-bearing URI fails with one line that hides it.
    bad = run_sweep(*args[:-2], f"sweep.storage={storage.rsplit('/', 1)[0]}/no_such_db",
                    cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and PASSWORD not in bad.stderr
    assert bad.stderr.startswith(
        "error: sweep.storage: cannot open postgresql+psycopg://postgres:***@"
    )
    for path in (tmp_path / "outputs").rglob("*"):
        assert path.is_dir() or PASSWORD.encode() not in path.read_bytes(), path


def test_the_same_study_name_with_another_space_is_refused(tmp_path, mlflow_server):
    args = ["+experiment=lr_grid", f"tracking.uri={mlflow_server}", "tracking.experiment=ident",
            "sweep.space.optimizer.lr=[0.1]", "sweep.space.train.epochs=[100]"]  # fmt: skip
    assert run_sweep(*args, cwd=tmp_path).returncode == 0
    before = {r.info.run_id for r in runs_of(mlflow_server, "ident")}
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    trials = len(optuna.load_study(study_name="lr_grid", storage=storage).trials)
    done = run_sweep(*args[:-1], "sweep.space.train.epochs=[200]", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: sweep.study_name: study 'lr_grid' in sqlite:///")
    assert "sweep.space.train.epochs is [200] here, [100] in the study" in done.stderr
    assert "sweep.study_name=NEW_NAME" in done.stderr
    assert {r.info.run_id for r in runs_of(mlflow_server, "ident")} == before
    assert len(optuna.load_study(study_name="lr_grid", storage=storage).trials) == trials
