"""Shared fixtures: real MLflow tracking servers, a throwaway PostgreSQL, and a way to run
`python -m sweep`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from postgres import Postgres, PostgresNotFound, find_bindir  # noqa: E402
from serve_mlflow import start  # noqa: E402
from slurm import Slurm, SlurmNotFound, check_installed  # noqa: E402
from sweep.core.defaults import mlflow_defaults  # noqa: E402

mlflow_defaults()  # as the entry points do: the tests drive MLflow in-process too

# The lecture's float32 losses at epochs 500, 1000, ..., 5000 (../shared/NOTES.md).
LECTURE_LOSSES = [
    7.860115, 3.828538, 3.092191, 2.957698, 2.933134,
    2.928648, 2.927830, 2.927679, 2.927652, 2.927647,
]  # fmt: skip
LECTURE_PARAMS = [5.367084503173828, -17.301193237304688]
GRID_SIZE = 60  # lr_grid's points


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


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """One throwaway PostgreSQL cluster for the session (scripts/postgres.py). Without the
    server binaries this fails rather than skips: CI installs them (.ci/run)."""
    try:
        find_bindir()
        missing = ""
    except PostgresNotFound as e:
        missing = str(e)
    if missing:  # failed out here, not in `except`: one message, no chained traceback
        pytest.fail(missing, pytrace=False)
    pg = Postgres(tmp_path_factory.mktemp("postgres")).start()
    yield pg
    pg.stop()


MLFLOW_PG_DB = "mlflow_server"  # the database behind mlflow_pg_server


@pytest.fixture(scope="session")
def mlflow_pg_server(postgres, tmp_path_factory):
    """A lean tracking server whose backend store is database MLFLOW_PG_DB on `postgres`."""
    url = postgres.create_database(MLFLOW_PG_DB)
    port = free_port()
    proc = start(tmp_path_factory.mktemp("mlflow-pg-server"), port, backend_store_uri=url)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def slurm():
    """A throwaway single-node SLURM cluster for the session (scripts/slurm.py): partition
    `debug`, 120 minutes at most a job. Without the packages (or root) this fails rather than
    skips: CI installs them (.ci/run)."""
    try:
        check_installed()
        missing = ""
    except SlurmNotFound as e:
        missing = str(e)
    if missing:
        pytest.fail(missing, pytrace=False)
    cluster = Slurm(max_time=120).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def fresh_db(postgres):
    """make(name_prefix) -> URL of a new, uniquely named database on `postgres`; the databases
    are dropped after the test (open connections to them are cut)."""
    made: list[str] = []

    def make(name_prefix: str = "test") -> str:
        name = f"{re.sub(r'[^a-z0-9_]', '_', name_prefix.lower())[:40]}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return postgres.create_database(name)

    yield make
    for name in made:
        postgres.drop_database(name)


UNSET = ("MLFLOW_TRACKING_URI", "SWEEP_STORAGE")  # a sweep's stores come from its overrides


def run_sweep(*overrides: str, cwd: Path, env: dict | None = None, timeout: float = 600):
    """Run `python -m sweep` as a user does; returns the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k not in UNSET}
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


def check_one_sweep(
    storage: str, study_name: str, uri: str, experiment: str, failed_ok: bool = False
) -> None:
    """Every grid point done exactly once, one parent, one finished child per point, each
    child's curve complete (steps 1..n, none twice); with `failed_ok`, children of failed
    trials may stay as FAILED runs (a killed worker's), never counted."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == GRID_SIZE
    assert len({tuple(sorted(t.params.items())) for t in done}) == GRID_SIZE
    assert {t.state for t in study.trials} <= {TrialState.COMPLETE, TrialState.FAIL}
    runs = runs_of(uri, experiment)
    parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    if failed_ok:
        assert {c.info.status for c in children} <= {"FINISHED", "FAILED"}
        children = [c for c in children if c.info.status == "FINISHED"]
        assert len(parents) == 1 and len(children) == GRID_SIZE
    else:
        assert len(parents) == 1 and len(children) == GRID_SIZE == len(runs) - 1
    assert parents[0].info.run_id == study.user_attrs["mlflow_parent_run_id"]
    assert parents[0].info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {c.data.tags["sweep.study_uid"] for c in children} == {study.user_attrs["sweep.uid"]}
    assert {t.user_attrs["mlflow_run_id"] for t in done} == {c.info.run_id for c in children}
    client = client_for(uri)
    for child in children:
        assert child.info.status == "FINISHED"
        steps = [p.step for p in client.get_metric_history(child.info.run_id, "loss")]
        if child.data.tags["status"] == "completed":
            assert steps == list(range(1, int(child.data.params["train.epochs"]) + 1))
        else:
            assert steps == list(range(1, int(child.data.tags["diverged_at_epoch"])))
