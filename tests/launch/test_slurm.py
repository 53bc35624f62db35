"""launcher=slurm against a real single-node SLURM (scripts/slurm.py), with the study on
PostgreSQL and a tracking server on PostgreSQL: one job array, the grid done once whatever is
cancelled, a resume command that resumes, bad settings refused before anything is queued or
created, and no password in submitit's files, the job script or the jobs' logs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from sweep.launch.slurm import Slurm, refused

from conftest import GRID_SIZE, UNSET, check_one_sweep, run_sweep, runs_of

PASSWORD = "pw-slurm-7Qx"
ARRAY = re.compile(r"SLURM job array (\d+): ((?:\d+_\d+ ?)+)")


def args_for(name: str, storage: str, uri: str, *more: str) -> list[str]:
    return ["+experiment=lr_grid", "launcher=slurm", f"name={name}", f"sweep.storage={storage}",
            f"tracking.uri={uri}", "launcher.poll_seconds=1", "sweep.heartbeat_interval=2",
            "sweep.grace_period=6", *more]  # fmt: skip


def submit(args: list[str], cwd: Path, slurm) -> subprocess.Popen:
    env = {k: v for k, v in slurm.env().items() if k not in UNSET}
    return subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def array_of(proc: subprocess.Popen) -> tuple[str, list[str]]:
    """The array id and task ids the submitter printed first."""
    seen = []
    for line in proc.stdout:
        if found := ARRAY.search(line):
            return found.group(1), found.group(2).split()
        seen.append(line)
    raise AssertionError("".join(seen) + proc.stderr.read())


def counted(storage: str, name: str, state: TrialState = TrialState.COMPLETE) -> int:
    """The study's trials in `state` (0 before a worker has created it)."""
    try:
        trials = optuna.load_study(study_name=name, storage=storage).trials
    except KeyError:
        return 0
    return sum(t.state == state for t in trials)


def launched(name: str, workers: int, fresh_db, uri: str, cwd: Path, slurm):
    """A fresh study's database, and lr_grid submitted to it with `workers` jobs."""
    storage = fresh_db(name)
    args = args_for(name, storage, uri, f"launcher.workers={workers}")
    return storage, submit(args, cwd, slurm)


def wait_for(test, timeout: float = 300, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := test():
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def tables_in(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        return sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_four_workers_run_as_one_array_and_finish_the_grid_once(
    tmp_path, slurm, fresh_db, mlflow_pg_server
):
    storage, proc = launched("slurm_four", 4, fresh_db, mlflow_pg_server, tmp_path, slurm)
    array, tasks = array_of(proc)
    assert tasks == [f"{array}_{i}" for i in range(4)]
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Best 10 of 60 trials (by final loss):" in out
    assert "Done: 60 trials by 4 workers." in out
    assert re.search(r"jobs \d pending, \d running, \d ended", out)
    check_one_sweep(storage, "slurm_four", mlflow_pg_server, "slurm_four")
    # SLURM's own record: four tasks of one array, all completed.
    mine = [(i, s) for i, s in slurm.jobs() if i.split("_")[0] == array]
    assert sorted(mine) == [(t, "COMPLETED") for t in tasks]
    runs = runs_of(mlflow_pg_server, "slurm_four")
    workers = {r.data.tags["sweep.worker"].split(" slurm:")[1] for r in runs
               if "sweep.worker" in r.data.tags}  # fmt: skip
    assert workers <= set(tasks) and len(workers) == 4  # each job trained its share


def test_a_cancelled_job_leaves_its_points_to_the_others(
    tmp_path, slurm, fresh_db, mlflow_pg_server
):
    storage, proc = launched("slurm_cancel", 4, fresh_db, mlflow_pg_server, tmp_path, slurm)
    array, _ = array_of(proc)
    victim = f"{array}_3"

    def victims_running() -> list:
        return [r for r in runs_of(mlflow_pg_server, "slurm_cancel")
                if r.data.tags.get("sweep.worker", "").endswith(f"slurm:{victim}")
                and r.info.status == "RUNNING"]  # fmt: skip

    assert wait_for(victims_running)  # mid-batch: its child runs are begun, not ended
    subprocess.run(["scancel", victim], env=slurm.env(), check=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Done: 60 trials by 4 workers." in out
    check_one_sweep(storage, "slurm_cancel", mlflow_pg_server, "slurm_cancel", failed_ok=True)
    trials = optuna.load_study(study_name="slurm_cancel", storage=storage).trials
    assert any(t.state == TrialState.FAIL for t in trials)  # the victim's, given back
    left = [r for r in runs_of(mlflow_pg_server, "slurm_cancel")
            if r.data.tags.get("sweep.worker", "").endswith(f"slurm:{victim}")]  # fmt: skip
    assert {r.info.status for r in left} <= {"FINISHED", "FAILED"}
    assert dict(slurm.jobs())[victim] == "CANCELLED"


def test_every_job_cancelled_exits_1_with_the_command_that_resumes(
    tmp_path, slurm, fresh_db, mlflow_pg_server
):
    storage, proc = launched("slurm_resume", 2, fresh_db, mlflow_pg_server, tmp_path, slurm)
    array, _ = array_of(proc)
    wait_for(
        lambda: counted(storage, "slurm_resume", TrialState.RUNNING)
    )  # mid-batch: trials taken, not told
    subprocess.run(["scancel", array], env=slurm.env(), check=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    [line] = err.splitlines()
    found = re.fullmatch(r"error: launcher: every worker ended and (\d+) of 60 points are not "
                         r"done \(logs: .+\); resume with more workers: (python -m sweep .+)",
                         line)  # fmt: skip
    assert found, line + (proc.stderr.read() if proc.poll() is not None else "")
    assert 0 < int(found.group(1)) == GRID_SIZE - counted(storage, "slurm_resume")
    argv = shlex.split(found.group(2))
    assert argv[3:] == args_for("slurm_resume", storage, mlflow_pg_server, "launcher.workers=2")
    again = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=slurm.env(),
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "Done: 60 trials by 2 workers." in again.stdout
    check_one_sweep(storage, "slurm_resume", mlflow_pg_server, "slurm_resume", failed_ok=True)


def test_wait_false_submits_and_exits_and_the_study_completes(
    tmp_path, slurm, fresh_db, mlflow_pg_server
):
    storage = fresh_db("slurm_nowait")
    args = args_for("slurm_nowait", storage, mlflow_pg_server, "launcher.workers=2",
                    "launcher.wait=false")  # fmt: skip
    done = run_sweep(*args, cwd=tmp_path, env={"SLURM_CONF": str(slurm.conf)}, timeout=60)
    assert done.returncode == 0, done.stderr
    array = ARRAY.search(done.stdout).group(1)
    assert f"  follow: squeue -j {array}\n  cancel: scancel {array}\n" in done.stdout
    assert f"logs:   .sweep/slurm/{array}_*/{array}_*_0_log.out\n" in done.stdout
    assert "[sweep]" not in done.stdout  # no progress: it did not wait
    wait_for(lambda: all(s == "COMPLETED" for i, s in slurm.jobs() if i.startswith(f"{array}_")))
    check_one_sweep(storage, "slurm_nowait", mlflow_pg_server, "slurm_nowait")


BAD = [
    (["launcher.partition=nope"], "launcher.partition: SLURM refused the job: Invalid partition"),
    (["launcher.time=999"], "launcher.time: SLURM refused the job: Requested time limit"),
    (["launcher.workers=0"], "launcher.workers: must be an integer >= 1 (got 0)"),
    (["sweep.storage=sqlite:///optuna.db"], "sweep.storage: launcher=slurm needs a study every"),
    (["tracking.uri=sqlite:///mlflow.db"], "tracking.uri: launcher=slurm needs a tracking server"),
]


@pytest.mark.parametrize(("bad", "line"), BAD, ids=[b[0][0] for b in BAD])
def test_bad_settings_are_one_line_and_nothing_is_queued_or_created(
    tmp_path, slurm, fresh_db, mlflow_pg_server, bad, line
):
    storage = fresh_db("slurm_bad")
    queued = len(slurm.jobs())
    done = run_sweep(*args_for("slurm_bad", storage, mlflow_pg_server), *bad, cwd=tmp_path,
                     env={"SLURM_CONF": str(slurm.conf)}, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    [shown] = done.stderr.splitlines()
    assert shown.startswith(f"error: {line}"), shown
    assert len(slurm.jobs()) == queued  # nothing was queued
    assert tables_in(storage) == []  # the study's database untouched
    assert runs_of(mlflow_pg_server, "slurm_bad") == []
    assert not list(tmp_path.glob("*.db"))
    assert not [p for p in (tmp_path / ".sweep").rglob("*") if p.is_file()]


def test_no_password_in_submitits_files_the_job_script_or_the_logs(
    tmp_path, slurm, postgres, mlflow_pg_server
):
    postgres.create_database("slurm_secret")
    storage = postgres.url("slurm_secret", password=PASSWORD)  # trust auth takes any
    host = mlflow_pg_server.removeprefix("http://")
    args = args_for("slurm_secret", storage, f"http://someone:{PASSWORD}@{host}",
                    "launcher.workers=2", "launcher.folder=jobs/%j",
                    "sweep.space.optimizer.lr=[0.1,0.01]",
                    "sweep.space.train.epochs=[300]")  # fmt: skip
    done = run_sweep(*args, cwd=tmp_path, env={"SLURM_CONF": str(slurm.conf)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Done: 8 trials by 2 workers." in done.stdout
    files = [p for p in (tmp_path / "jobs").rglob("*") if p.is_file()]
    names = {p.name.split("_", 2)[-1] for p in files}
    assert {"submission.sh", "submitted.pkl", "0_log.out", "0_result.pkl"} <= names
    for path in [*files, *(tmp_path / "outputs").rglob("*")]:
        assert path.is_dir() or PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in done.stdout + done.stderr
    runs = runs_of(mlflow_pg_server, "slurm_secret")
    parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    assert [r.data.params["tracking.uri"] for r in parents] == [f"http://someone:***@{host}"]


def test_sbatch_refusals_name_the_setting_to_blame():
    text = "sbatch: error: Batch job submission failed: Invalid account or account/partition"
    assert str(refused(text)) == ("launcher.account: SLURM refused the job: Invalid account or "
                                  "account/partition")  # fmt: skip
    assert refused("sbatch: error: Batch job submission failed: Invalid qos specification").key \
        == "launcher.qos"  # fmt: skip
    assert refused("something else entirely").key == "launcher"


def test_the_settings_become_submitits_parameters():
    from sweep.core.schema import RootConfig, SlurmLauncherConfig

    config = RootConfig(launcher=SlurmLauncherConfig(
        workers=3, partition="gpu", time=90, mem_gb=1.5, gpus_per_node=1, qos="high",
        additional_parameters={"constraint": "a100"}))  # fmt: skip
    assert Slurm(config).parameters("lr_grid") == {
        "job_name": "sweep-lr_grid", "partition": "gpu", "time": 90, "cpus_per_task": 1,
        "gpus_per_node": 1, "qos": "high", "mem": "1536M", "array_parallelism": 3,
        "additional_parameters": {"constraint": "a100"}, "stderr_to_stdout": True,
    }  # fmt: skip
