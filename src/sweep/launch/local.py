"""`launcher=local`: `launcher.workers` worker processes on this machine, the same as that many
terminals running the command with `launcher=none`. Each one's output goes to its log in
the job's output directory (workers/INDEX/worker.log), so the terminal shows one progress
line, the study's. Ctrl-C or SIGTERM here is passed on to every worker once: they stop the
way a lone sweep stops, giving their unfinished trials back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

from sweep.core import signals
from sweep.core.config import ConfigError
from sweep.core.schema import RootConfig
from sweep.launch.jobs import Worker


class Local:
    def __init__(self, config: RootConfig) -> None:
        self.config = config
        self.workers = config.launcher.workers

    def check(self) -> None:
        if not self.config.sweep.storage:
            raise ConfigError(
                "sweep.storage",
                "launcher=local needs a study its workers share "
                "(a SQLite file or PostgreSQL), not one in memory",
            )

    def start(self, worker: Worker) -> LocalJobs:
        procs, logs = [], Path(worker.run_dir)
        for index in range(self.workers):
            log = logs / str(index) / "worker.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        worker.args(index),
                        cwd=worker.cwd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        print(f"Started {self.workers} workers on this machine; their logs: {logs}/*/worker.log")
        return LocalJobs(procs, logs)


class LocalJobs:
    def __init__(self, procs: list[subprocess.Popen], logs: Path) -> None:
        self.procs, self.logs = procs, logs

    def states(self) -> Counter:
        return Counter("running" if p.poll() is None else "ended" for p in self.procs)

    def where(self) -> str:
        return f"{self.logs}/*/worker.log"

    def interrupted(self, ex: KeyboardInterrupt) -> str:
        sig = signal.SIGTERM if signals.exit_status(ex) == 143 else signal.SIGINT
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
        with signals.critical():  # a second Ctrl-C waits: the workers are finishing their own
            for proc in self.procs:
                proc.wait()
        return (
            "Interrupted: the workers stopped and gave their unfinished trials back; run "
            "the same command again to resume."
        )
