"""Sweeps end to end: lr_grid and tpe_search through `python -m sweep`, read back through
MLflow's client and Optuna's storage; resume, kill, Ctrl-C, multirun, report
(bad sweep specs: test_plan.py)."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from sweep.train.data import T_C, T_U

from conftest import LECTURE_LOSSES, LECTURE_PARAMS, client_for, run_sweep, runs_of

GRID = {(lr, n, e) for lr in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
        for n in ("none", "scale", "standard", "minmax") for e in (500, 1000, 5000)}  # fmt: skip


def split_runs(uri, experiment):
    runs = runs_of(uri, experiment)
    parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children, runs


def key(run):
    p = run.data.params
    return float(p["optimizer.lr"]), p["normalization"], int(p["train.epochs"])


def check_lr_grid(uri, experiment, workdir, tmp_path):
    client = client_for(uri)
    parents, children, runs = split_runs(uri, experiment)
    assert len(parents) == 1 and len(children) == 60 and len(runs) == 61
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {key(c) for c in children} == GRID
    assert sorted(int(c.data.tags["optuna.trial_number"]) for c in children) == list(range(60))
    assert {c.data.tags["optuna.study"] for c in children} == {"lr_grid"}
    statuses = {}
    for child in children:
        assert child.info.status == "FINISHED"
        lr, norm, epochs = key(child)
        status = child.data.tags["status"]
        statuses[status] = statuses.get(status, 0) + 1
        points = client.get_metric_history(child.info.run_id, "loss")
        values = [p.value for p in points]
        assert all(math.isfinite(v) and abs(v) < 1e300 for v in values)
        assert all(math.isfinite(v) for v in child.data.metrics.values())
        if status == "completed":
            assert [p.step for p in points] == list(range(1, epochs + 1))
            assert child.data.metrics["final_loss"] == values[-1]
        else:
            assert status == "diverged"
            at = int(child.data.tags["diverged_at_epoch"])
            assert [p.step for p in points] == list(range(1, at))
            assert "final_loss" not in child.data.metrics
        if (lr, norm, epochs) == (1e-2, "scale", 5000):
            assert [round(values[e - 1], 6) for e in range(500, 5001, 500)] == LECTURE_LOSSES
            assert [child.data.metrics["w"], child.data.metrics["b"]] == LECTURE_PARAMS
        if (lr, norm) == (1e-2, "none"):
            assert (status, child.data.tags["diverged_at_epoch"], len(values)) == (
                "diverged", "11", 10)  # fmt: skip
    assert statuses["diverged"] >= 10 and statuses["completed"] >= 40
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert names == {"config.yaml", "summary.csv", "final_loss_vs_lr.png", "best_curves.png"}
    csv = client.download_artifacts(parent.info.run_id, "summary.csv", str(tmp_path))
    table = pd.read_csv(csv)
    assert len(table) == 60 and table["status"].value_counts().to_dict() == statuses
    finals = [c.data.metrics["final_loss"] for c in children if "final_loss" in c.data.metrics]
    assert parent.data.metrics["best_final_loss"] == min(finals) == table["final_loss"].min()
    assert parent.data.metrics["n_diverged"] == statuses["diverged"]
    assert len(list(workdir.glob("outputs/*/*/summary.csv"))) >= 1
    study = optuna.load_study(study_name="lr_grid", storage=f"sqlite:///{workdir / 'optuna.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 60
    assert {t.user_attrs["mlflow_run_id"] for t in done} == {c.info.run_id for c in children}
    assert study.user_attrs["mlflow_parent_run_id"] == parent.info.run_id


@pytest.fixture(scope="module")
def grid_on_server(tmp_path_factory, mlflow_server):
    workdir = tmp_path_factory.mktemp("grid-server")
    done = run_sweep("+experiment=lr_grid", f"tracking.uri={mlflow_server}", cwd=workdir)
    assert done.returncode == 0, done.stderr
    return workdir, done


def test_lr_grid_on_a_tracking_server(grid_on_server, mlflow_server, tmp_path):
    workdir, done = grid_on_server
    assert "Trained 60 trials in this run" in done.stdout
    assert "Status: completed" in done.stdout
    check_lr_grid(mlflow_server, "lr_grid", workdir, tmp_path)


def test_running_a_finished_grid_again_adds_nothing(grid_on_server, mlflow_server, tmp_path):
    workdir, _ = grid_on_server
    again = run_sweep("+experiment=lr_grid", f"tracking.uri={mlflow_server}", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "Trained 0 trials in this run" in again.stdout
    check_lr_grid(mlflow_server, "lr_grid", workdir, tmp_path)


def test_report_rebuilds_the_table_from_the_store(grid_on_server, mlflow_server, tmp_path):
    workdir, _ = grid_on_server
    out = tmp_path / "table.csv"
    done = subprocess.run(
        [sys.executable, "-m", "sweep.report", "--experiment", "lr_grid",
         "--tracking-uri", mlflow_server, "--csv", str(out), "--top", "5"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Best 5 of 60 trials" in done.stdout
    rebuilt = pd.read_csv(out)
    [printed] = list(workdir.glob("outputs/*/*/summary.csv"))[:1]
    pd.testing.assert_frame_equal(rebuilt, pd.read_csv(printed))


def test_lr_grid_on_the_embedded_store(tmp_path):
    done = run_sweep("+experiment=lr_grid", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_lr_grid(f"sqlite:///{tmp_path / 'mlflow.db'}", "lr_grid", tmp_path, tmp_path)


def trial_states(storage: str, name: str) -> list[str]:
    try:
        return [t.state.name for t in optuna.load_study(study_name=name, storage=storage).trials]
    except Exception:  # not created yet
        return []


def completed_trials(storage: str, name: str) -> int:
    return trial_states(storage, name).count("COMPLETE")


def interrupt_after(args, workdir, storage, name, n_done, sig):
    """Send `sig` once `n_done` trials are complete and the next batch is running."""

    # A shell's background jobs inherit SIGINT ignored (CI may run us so); a user's Ctrl-C
    # reaches a sweep with Python's default handler, so the sweep gets that here.
    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = trial_states(storage, name)
        if states.count("COMPLETE") >= n_done and "RUNNING" in states:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_a_killed_grid_resumes_and_runs_each_trial_once(tmp_path, mlflow_server):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["+experiment=lr_grid", f"tracking.uri={mlflow_server}", "tracking.experiment=killed",
            "sweep.study_name=killed", "sweep.batch_size=6", "sweep.heartbeat_interval=1",
            "sweep.grace_period=2"]  # fmt: skip
    code, _, _ = interrupt_after(args, tmp_path, storage, "killed", 12, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert 12 <= completed_trials(storage, "killed") < 60
    done = run_sweep(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _, children, _ = split_runs(mlflow_server, "killed")
    assert len(children) == 60 and {key(c) for c in children} == GRID
    assert {c.info.status for c in children} == {"FINISHED"}
    study = optuna.load_study(study_name="killed", storage=storage)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 60
    assert states.count(optuna.trial.TrialState.FAIL) >= 1  # the killed batch, run again


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_end_the_batch_cleanly_and_resume(tmp_path, mlflow_server, sig, status):
    name = f"stop{sig}"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["+experiment=lr_grid", f"tracking.uri={mlflow_server}", f"tracking.experiment={name}",
            f"sweep.study_name={name}", "sweep.batch_size=8",
            "sweep.space={train.epochs:[1000]}"]  # fmt: skip
    code, out, err = interrupt_after(args, tmp_path, storage, name, 4, sig)
    assert code == status, err
    assert "Interrupted" in out and "Traceback" not in err and err.strip() == ""
    parents, children, _ = split_runs(mlflow_server, name)
    assert parents[0].info.status == "KILLED"
    assert {c.info.status for c in children} <= {"FINISHED"}  # no RUNNING run left
    told = completed_trials(storage, name)
    assert len(children) == told >= 4
    assert "RUNNING" not in trial_states(storage, name)  # the claimed rest failed at once
    done = run_sweep(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    parents, children, _ = split_runs(mlflow_server, name)
    assert len(children) == 20 and len({key(c) for c in children}) == 20
    assert parents[0].info.status == "FINISHED"


def least_squares_mse() -> float:
    n = len(T_U)
    mx, my = sum(T_U) / n, sum(T_C) / n
    w = sum((x - mx) * (y - my) for x, y in zip(T_U, T_C, strict=True)) / sum(
        (x - mx) ** 2 for x in T_U)  # fmt: skip
    b = my - w * mx
    return sum((w * x + b - y) ** 2 for x, y in zip(T_U, T_C, strict=True)) / n


def test_tpe_search_prunes_diverges_finds_the_optimum_and_resumes(tmp_path, mlflow_server):
    args = ["+experiment=tpe_search", f"tracking.uri={mlflow_server}", "sweep.n_trials=30",
            "sweep.pruner.n_startup_trials=5"]  # fmt: skip
    done = run_sweep(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _, children, _ = split_runs(mlflow_server, "tpe_search")
    assert len(children) == 30
    by_status = {}
    for c in children:
        by_status.setdefault(c.data.tags["status"], []).append(c)
    assert by_status.get("pruned") and by_status.get("diverged"), by_status.keys()
    client = client_for(mlflow_server)
    for c in by_status["pruned"]:
        points = client.get_metric_history(c.info.run_id, "loss")
        assert (
            len(points) == int(c.data.tags["pruned_at_epoch"]) < int(c.data.params["train.epochs"])
        )
    best = min(c.data.metrics["final_loss"] for c in by_status["completed"])
    assert best <= least_squares_mse() * 1.01
    study = optuna.load_study(
        study_name="tpe_search", storage=f"sqlite:///{tmp_path / 'optuna.db'}"
    )
    values = [t.value for t in study.trials if t.value is not None]
    assert all(math.isfinite(v) for v in values)
    diverged = [t for t in study.trials if t.user_attrs["result"]["status"] == "diverged"]
    assert diverged and all(t.state == optuna.trial.TrialState.COMPLETE for t in diverged)
    more = run_sweep(*args[:-2], "sweep.n_trials=40", "sweep.pruner.n_startup_trials=5",
                     cwd=tmp_path)  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert "Trained 10 trials in this run" in more.stdout
    assert len(split_runs(mlflow_server, "tpe_search")[1]) == 40


def test_hydra_multirun_gives_one_tracked_run_per_job(tmp_path, mlflow_server):
    done = run_sweep("-m", "optimizer.lr=1e-2,1e-3", "train.epochs=200",
                     f"tracking.uri={mlflow_server}", "tracking.experiment=multirun",
                     cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = runs_of(mlflow_server, "multirun")
    assert sorted(r.data.params["optimizer.lr"] for r in runs) == ["0.001", "0.01"]
    assert all(len(client_for(mlflow_server).get_metric_history(r.info.run_id, "loss")) == 200
               for r in runs)  # fmt: skip
    assert Path(tmp_path / "multirun").is_dir()


def test_the_validation_loss_can_be_the_objective(tmp_path, mlflow_server):
    args = ["+experiment=lr_grid", "name=by_val", f"tracking.uri={mlflow_server}",
            "sweep.metric=val_loss", "train.val_fraction=0.2",
            "sweep.space.train.epochs=[500]"]  # fmt: skip
    done = run_sweep(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "trials (by final val loss):" in done.stdout
    [parent], children, _ = split_runs(mlflow_server, "by_val")
    study = optuna.load_study(study_name="by_val", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    by_number = {t.number: t for t in study.trials}
    completed = [c for c in children if c.data.tags["status"] == "completed"]
    assert len(completed) >= 10
    for child in completed:
        trial = by_number[int(child.data.tags["optuna.trial_number"])]
        assert (
            trial.value == child.data.metrics["final_val_loss"] != child.data.metrics["final_loss"]
        )
    best = min(completed, key=lambda c: (c.data.metrics["final_val_loss"],
                                         int(c.data.tags["optuna.trial_number"])))  # fmt: skip
    assert parent.data.metrics["best_final_val_loss"] == best.data.metrics["final_val_loss"]
    assert parent.data.tags["best.run_id"] == best.info.run_id


def test_a_name_with_both_kinds_of_quote(tmp_path, mlflow_server):
    """MLflow's filter strings have no escapes: a study whose name holds ' and " still runs,
    resumes, and is found by name (`sweep.report --study`)."""
    name = 'o\'brien "the" study'
    args = ["+experiment=lr_grid", f"name={json.dumps(name)}", f"tracking.uri={mlflow_server}",
            "sweep.space.optimizer.lr=[0.1]", "sweep.space.train.epochs=[500]"]  # fmt: skip
    for trained in (4, 0):
        done = run_sweep(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"Trained {trained} trials in this run" in done.stdout
    parents, children, _ = split_runs(mlflow_server, name)
    assert len(parents) == 1 and len(children) == 4
    assert parents[0].data.tags["optuna.study"] == name
    report = subprocess.run(
        [sys.executable, "-m", "sweep.report", "--experiment", name, "--study", name,
         "--tracking-uri", mlflow_server, "--csv", "t.csv"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert len(pd.read_csv(tmp_path / "t.csv")) == 4
