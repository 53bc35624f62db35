"""A tracking server that dies mid-sweep and stays dead: the sweep spools, trains everything,
exits 3; `python -m sweep.sync` then brings the store to exactly what an undisturbed sweep
leaves, and running it again (or after it was killed half-way) adds nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from serve_mlflow import start

from conftest import UNSET, client_for, free_port, run_sweep, runs_of

GRID = 60


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started (the server's uvicorn worker too)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    os.kill(pid, signal.SIGKILL)
    for kid in kids:
        kill_tree(kid)


def sweep_args(uri: str, name: str) -> list[str]:
    return ["+experiment=lr_grid", f"tracking.uri={uri}", f"tracking.experiment={name}",
            f"sweep.study_name={name}", "tracking.retry_seconds=5",
            "sweep.batch_size=20"]  # fmt: skip


def histories(uri: str, experiment: str) -> dict[str, list[tuple[int, float]]]:
    """Each child's loss history by run name; the parent's status."""
    client = client_for(uri)
    runs = runs_of(uri, experiment)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == len(runs) - 1
    return {c.info.run_name: sorted((m.step, m.value)
                                    for m in client.get_metric_history(c.info.run_id, "loss"))
            for c in children}  # fmt: skip


def sync(workdir: Path, uri: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run([sys.executable, "-m", "sweep.sync"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_a_dead_server_is_spooled_then_synced_to_exactly_an_undisturbed_sweep(tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    store = tmp_path / "server"
    server = start(store, port)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    proc = subprocess.Popen([sys.executable, "-m", "sweep", *sweep_args(uri, "dead")],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while len(runs_of(uri, "dead")) < 2:  # the parent and a first child
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    kill_tree(server.pid)
    killed = time.monotonic()
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - killed
    assert proc.returncode == 3, err
    lines = [line for line in err.splitlines() if not line.startswith("[sweep]")]
    assert len(lines) == 1 and "python -m sweep.sync" in lines[0], err
    assert lines[0].startswith(f"error: tracking.uri: MLflow at {uri} did not answer;"), err
    assert "Traceback" not in err
    assert took < 60, took
    study = optuna.load_study(study_name="dead", storage=f"sqlite:///{work / 'optuna.db'}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == GRID == len(states)
    spooled = sorted((work / ".sweep" / "spool").glob("*.entry"))
    assert spooled

    server = start(store, port)  # the same store, back again
    try:
        done = run_sweep(*sweep_args(uri, "calm"), cwd=tmp_path)  # undisturbed, for reference
        assert done.returncode == 0, done.stderr
        calm = histories(uri, "calm")

        # sync killed half-way, then run to the end, then run again: nothing twice
        half = subprocess.Popen([sys.executable, "-m", "sweep.sync"], cwd=work, env=env)
        while len(list((work / ".sweep" / "spool").glob("*.entry"))) > len(spooled) // 2:
            assert half.poll() is None, "sync ended before it could be killed half-way"
            time.sleep(0.01)
        half.kill()
        half.wait()
        first = sync(work, uri)
        assert first.returncode == 0, first.stderr
        assert not list((work / ".sweep" / "spool").glob("*.entry"))
        again = sync(work, uri)
        assert again.returncode == 0 and "Sent 0 spooled entries" in again.stdout, again.stderr

        dead = histories(uri, "dead")
        assert len(dead) == GRID == len(calm)
        for name, points in calm.items():
            assert dead[name] == points, name  # step for step, value for value, none twice
        parent = next(r for r in runs_of(uri, "dead") if "mlflow.parentRunId" not in r.data.tags)
        assert parent.info.status == "FINISHED"
        assert parent.data.metrics["n_completed"] == 48 and parent.data.metrics["n_diverged"] == 12
        children = [r for r in runs_of(uri, "dead") if r.info.run_id != parent.info.run_id]
        assert {r.info.status for r in children} == {"FINISHED"}
    finally:
        server.terminate()
        server.wait(30)


def steps_once(uri: str, experiment: str) -> dict[str, int]:
    """Each child's number of loss points, checked to be steps 1..n, each once."""
    found = {}
    for name, points in histories(uri, experiment).items():
        steps = [step for step, _ in points]
        assert steps == list(range(1, len(steps) + 1)), (name, len(steps))
        found[name] = len(steps)
    return found


def epochs_of(name: str) -> int:
    return int(name.rsplit("-e", 1)[1])


def start_sweep(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for(condition, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("retry_seconds", [120, 5])
def test_a_server_down_for_8_s_loses_and_doubles_nothing(tmp_path, retry_seconds):
    """Within MLflow's retries (120), or longer than them (5: spooled, then sent while the
    sweep still runs, once the server answers again)."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = start(tmp_path / "server", port)
    name = f"down{retry_seconds}"
    args = [*sweep_args(uri, name), f"tracking.retry_seconds={retry_seconds}"]
    proc = start_sweep(args, tmp_path)
    wait_for(lambda: len(runs_of(uri, name)) >= 2, proc)
    kill_tree(server.pid)
    time.sleep(8)
    server = start(tmp_path / "server", port)
    try:
        _, err = proc.communicate(timeout=600)
        if proc.returncode == 3:  # the sweep ended before the server was back: send the rest
            assert retry_seconds == 5 and "python -m sweep.sync" in err, err
            done = sync(tmp_path, uri)
            assert done.returncode == 0, done.stderr
        else:
            assert proc.returncode == 0, err
        counts = steps_once(uri, name)
        assert len(counts) == GRID
        completed = [r for r in runs_of(uri, name) if r.data.tags.get("status") == "completed"]
        assert len(completed) == 48
        for run in completed:
            assert counts[run.info.run_name] == epochs_of(run.info.run_name)
        assert not list((tmp_path / ".sweep" / "spool").glob("*.entry"))
    finally:
        server.terminate()
        server.wait(30)


def test_a_sweep_killed_while_it_spools_loses_and_doubles_nothing(tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = start(tmp_path / "server", port)
    args = [*sweep_args(uri, "cut"), "sweep.heartbeat_interval=1", "sweep.grace_period=2"]
    proc = start_sweep(args, tmp_path)
    wait_for(lambda: len(runs_of(uri, "cut")) >= 2, proc)
    kill_tree(server.pid)
    spool = tmp_path / ".sweep" / "spool"
    wait_for(lambda: len(list(spool.glob("*.entry"))) >= 10, proc)
    proc.kill()  # the sweep; its sender process exits when the sweep's pipe closes
    proc.communicate()
    server = start(tmp_path / "server", port)
    try:
        time.sleep(2.5)  # the killed sweep's heartbeats are stale
        done = run_sweep(*args, cwd=tmp_path)  # sends the leftovers first, then resumes
        assert done.returncode == 0, done.stderr
        assert not list(spool.glob("*.entry"))
        counts = steps_once(uri, "cut")
        assert len(counts) == GRID  # each point once: the killed batch's runs were replaced
        for run in runs_of(uri, "cut"):
            if run.data.tags.get("status") == "completed":
                assert counts[run.info.run_name] == epochs_of(run.info.run_name)
    finally:
        server.terminate()
        server.wait(30)
