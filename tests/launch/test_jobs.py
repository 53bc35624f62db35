"""A launched worker's command: the submitter's, with launcher=none, its share of the study as
its batch size, and the stores' addresses read from the environment, never written out."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from sweep.core.schema import RootConfig, SweepConfig, TrackingConfig
from sweep.launch.jobs import SECRET_ENV, Worker, command, secrets


def hydra(task: list[str], config_name: str = "config", dirs: tuple = ()) -> SimpleNamespace:
    given = [SimpleNamespace(provider="command-line", path=f"file://{d}") for d in dirs]
    sources = [SimpleNamespace(provider="hydra", path="pkg://hydra.conf"), *given]
    return SimpleNamespace(
        runtime=SimpleNamespace(config_sources=sources),
        job=SimpleNamespace(config_name=config_name),
        overrides=SimpleNamespace(task=task, hydra=["hydra.mode=RUN", "hydra.verbose=true"]),
    )


def test_the_workers_command_drops_the_launcher_and_the_stores_and_sets_its_batch():
    task = ["+experiment=lr_grid", "launcher=slurm", "launcher.workers=4",
            "sweep.storage=postgresql+psycopg://u:pw@db/optuna", "tracking.uri=http://u:pw@h",
            "sweep.batch_size=64", "optimizer.lr=0.1"]  # fmt: skip
    argv = command(hydra(task), 15)
    assert argv == [sys.executable, "-m", "sweep", "hydra.verbose=true", "+experiment=lr_grid",
                    "optimizer.lr=0.1", "launcher=none",
                    "sweep.storage=${oc.env:SWEEP_LAUNCH_STORAGE}",
                    "tracking.uri=${oc.env:SWEEP_LAUNCH_TRACKING_URI}",
                    "sweep.batch_size=15"]  # fmt: skip
    assert not [a for a in argv if "pw" in a]


def test_a_users_config_dir_and_name_go_with_the_worker():
    argv = command(hydra(["+experiment=big"], "mine", ("/home/me/conf",)), 8)
    assert argv[3:7] == ["--config-dir", "/home/me/conf", "--config-name", "mine"]


def test_the_secrets_are_the_stores_addresses_under_the_names_the_command_reads():
    config = RootConfig(sweep=SweepConfig(storage="postgresql+psycopg://u:pw@db/o"),
                        tracking=TrackingConfig(uri="http://u:pw@h:5000"))  # fmt: skip
    assert secrets(config) == {"SWEEP_LAUNCH_STORAGE": "postgresql+psycopg://u:pw@db/o",
                               "SWEEP_LAUNCH_TRACKING_URI": "http://u:pw@h:5000"}  # fmt: skip
    assert set(SECRET_ENV) == {"sweep.storage", "tracking.uri"}


def test_each_worker_writes_its_own_hydra_output(tmp_path):
    worker = Worker(["python", "-m", "sweep"], str(tmp_path), "/out/workers")
    assert worker.args(2) == ["python", "-m", "sweep", "hydra.run.dir=/out/workers/2"]


def test_a_worker_that_fails_fails_its_job(tmp_path):
    ok = Worker([sys.executable, "-c", "import sys; sys.exit(0)"], str(tmp_path), "x")
    ok(0)
    bad = Worker([sys.executable, "-c", "import sys; sys.exit(3)"], str(tmp_path), "x")
    try:
        bad(1)
    except RuntimeError as ex:
        assert str(ex) == "worker 1 exited with status 3"
    else:
        raise AssertionError("a failed worker passed")
