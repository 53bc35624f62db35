"""What dead workers leave behind, cleaned up by the living: their RUNNING trials fail, the
child runs of failed trials and parents no study records are deleted, and only the study's
own runs (by its unique id) are touched; in process on real stores, then with real workers
killed mid-sweep."""

from __future__ import annotations

import signal
import time

import optuna
from optuna.trial import TrialState

from e2e.test_workers import check_one_sweep, completed, finish, launch, running_children_of
from study.test_study import open_study
from sweep.app.recovery import Recovery
from sweep.study import study as studies
from sweep.study.heartbeats import Heartbeat
from sweep.track.runs import RunRecord, RunStore
from sweep.track.sender import Sender

from conftest import client_for, run_sweep, runs_of


def create(sender, uid, n=None, role=None) -> str:
    tags = {"sweep.study_uid": uid}
    if n is not None:
        tags["optuna.trial_number"] = str(n)
    if role is not None:
        tags["sweep.role"] = role
    return sender.call(RunStore.create, RunRecord(f"run-{n}-{role}", tags=tags)).result()


def active(uri, experiment) -> set[str]:
    return {r.info.run_id for r in runs_of(uri, experiment)}


def test_dead_workers_trials_fail_and_only_this_studys_stale_runs_are_deleted(
    tmp_path, mlflow_server
):
    study = open_study(tmp_path, sampler="tpe")  # heartbeat_interval 1, grace_period 2
    sender = Sender(mlflow_server, "recovery-unit", str(tmp_path / "spool"))
    try:
        failed, mine, dead = [study.optuna.ask() for _ in range(3)]
        study.optuna.tell(failed, state=TrialState.FAIL)
        gone = Heartbeat(study.storage, 1)  # a worker that beat once, then died
        gone.add([dead])
        gone.stop.set()
        heartbeat = Heartbeat(study.storage, 1)  # this worker's, beating
        heartbeat.add([mine])
        winner = create(sender, study.uid, role="parent")
        study.optuna.set_user_attr(studies.PARENT, winner)
        stale_parent = create(sender, study.uid, role="parent")
        runs = {n: create(sender, study.uid, n) for n in (0, 1, 2)}
        other = create(sender, "another-study-uid", 0)  # same trial number, another study
        time.sleep(3.5)  # the dead worker's beat is older than the grace period

        recovery = Recovery(study, heartbeat, sender)
        recovery()
        assert [t.state for t in study.trials()] == [
            TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL]  # fmt: skip
        assert active(mlflow_server, "recovery-unit") == {winner, runs[1], other}
        assert recovery.cleaned == 2 and study.attr(studies.CLEANED) == 2
        assert stale_parent not in active(mlflow_server, "recovery-unit")

        late = create(sender, study.uid, 0)  # no new failure since: nothing is looked up
        recovery()
        assert late in active(mlflow_server, "recovery-unit")
        assert recovery.cleaned == 2

        fresh = Recovery(study, heartbeat, sender)  # another worker: reads CLEANED
        fresh()
        assert fresh.cleaned == 2 and late in active(mlflow_server, "recovery-unit")
        heartbeat.stop.set()
    finally:
        sender.close()


def test_a_worker_killed_mid_batch_costs_only_its_batch(tmp_path, postgres, mlflow_pg_server):
    storage = postgres.create_database("optuna_killed")
    args = ["+experiment=lr_grid", f"sweep.storage={storage}", f"tracking.uri={mlflow_pg_server}",
            "tracking.experiment=killed", "sweep.batch_size=6", "sweep.heartbeat_interval=1",
            "sweep.grace_period=3"]  # fmt: skip
    workers = launch(args, tmp_path, 3)
    victim = workers[0]
    deadline = time.monotonic() + 300
    while not (begun := running_children_of(mlflow_pg_server, "killed", victim.pid)):
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)  # mid-batch: its child runs are begun, not ended
    results = finish(workers[1:])
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    check_one_sweep(storage, "lr_grid", mlflow_pg_server, "killed")
    client = client_for(mlflow_pg_server)
    for run in begun:  # deleted (or ended FAILED), never counted
        info = client.get_run(run.info.run_id).info
        assert info.lifecycle_stage == "deleted" or info.status == "FAILED"
    study = optuna.load_study(study_name="lr_grid", storage=storage)
    assert any(t.state == TrialState.FAIL for t in study.trials)


def test_another_study_of_the_same_name_never_deletes_the_first_ones_runs(tmp_path, mlflow_server):
    args = ["+experiment=lr_grid", f"tracking.uri={mlflow_server}", "tracking.experiment=twins",
            "sweep.space.train.epochs=[500]", "sweep.batch_size=5", "sweep.heartbeat_interval=1",
            "sweep.grace_period=2"]  # fmt: skip
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    done = run_sweep(*args, cwd=first)
    assert done.returncode == 0, done.stderr
    kept = {r.info.run_id for r in runs_of(mlflow_server, "twins")}
    assert len(kept) == 21
    [worker] = launch(args, second, 1)  # a fresh optuna.db: another study of the same name
    storage = f"sqlite:///{second / 'optuna.db'}"
    while completed(storage) < 5:
        assert worker.poll() is None
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(2.5)  # its heartbeats expire
    done = run_sweep(*args, cwd=second)
    assert done.returncode == 0, done.stderr
    runs = runs_of(mlflow_server, "twins")
    active_ids = {r.info.run_id for r in runs}
    assert kept <= active_ids and len(active_ids) == 42
    assert len({r.data.tags.get("sweep.study_uid") for r in runs}) == 2
