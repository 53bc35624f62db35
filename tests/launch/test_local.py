"""launcher=local: N worker processes on the embedded SQLite default finish lr_grid exactly,
each with its share; SIGTERM is passed on, and the study stays resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import UNSET, check_one_sweep, run_sweep


def test_three_local_workers_finish_the_grid_once_on_the_embedded_stores(tmp_path):
    done = run_sweep("+experiment=lr_grid", "launcher=local", "launcher.workers=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Started 3 workers on this machine" in done.stdout
    assert "Done: 60 trials by 3 workers." in done.stdout
    logs = sorted((tmp_path / "outputs").rglob("workers/*/worker.log"))
    trained = [int(next(ln for ln in p.read_text().splitlines() if ln.startswith("Trained "))
                   .split()[1]) for p in logs]  # fmt: skip
    assert trained == [20, 20, 20]  # each worker took its share in one batch
    check_one_sweep(f"sqlite:///{tmp_path / 'optuna.db'}", "lr_grid",
                    f"sqlite:///{tmp_path / 'mlflow.db'}", "lr_grid")  # fmt: skip


def test_sigterm_stops_the_workers_and_the_same_command_resumes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    args = [sys.executable, "-m", "sweep", "+experiment=lr_grid", "launcher=local",
            "launcher.workers=2"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().startswith("Started 2 workers")
    time.sleep(8)  # the workers are importing or training
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Interrupted: the workers stopped" in out
    again = run_sweep(*args[3:], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    check_one_sweep(f"sqlite:///{tmp_path / 'optuna.db'}", "lr_grid",
                    f"sqlite:///{tmp_path / 'mlflow.db'}", "lr_grid", failed_ok=True)  # fmt: skip
