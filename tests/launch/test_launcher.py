"""The launcher's checks before any worker starts, and the command it names for resuming."""

from __future__ import annotations

import sys

from sweep.launch.launcher import resume_command

from conftest import run_sweep


def test_a_launcher_needs_a_sweep(tmp_path):
    done = run_sweep("launcher=local", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("error: launcher: launches the workers of a sweep, and this config "
                           "has no sweep.space (e.g. +experiment=lr_grid; launcher=none for one "
                           "run)\n")  # fmt: skip
    assert list(tmp_path.glob("*.db")) == []


def test_local_workers_need_a_study_they_share(tmp_path):
    done = run_sweep("+experiment=lr_grid", "launcher=local", "sweep.storage=", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: sweep.storage: launcher=local needs a study its "
                                  "workers share")  # fmt: skip
    assert not list(tmp_path.rglob("worker.log"))


def test_the_resume_command_is_this_one_without_passwords(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["sweep", "+experiment=lr_grid", "launcher=slurm",
                                      "sweep.storage=postgresql+psycopg://u:pw@db/o"])  # fmt: skip
    assert resume_command() == ("python -m sweep +experiment=lr_grid launcher=slurm "
                                "sweep.storage=postgresql+psycopg://u:***@db/o")  # fmt: skip
