"""What a launched worker runs: the submitter's own command with `launcher=none`, so that a job
takes exactly the code path of a lone `python -m sweep`.

The stores' addresses travel in the environment (`SECRET_ENV`), never on a command line: a
job's arguments are pickled by submitit into `launcher.folder` and show in `ps`, and a
password of `sweep.storage` or `tracking.uri` must be in neither. sbatch exports the
submitter's environment to its jobs, and local workers inherit it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from sweep.core.schema import RootConfig
from sweep.core.trials import override_key

# Config key -> the environment variable a job reads it from.
SECRET_ENV = {"sweep.storage": "SWEEP_LAUNCH_STORAGE", "tracking.uri": "SWEEP_LAUNCH_TRACKING_URI"}
# Set here for every worker: a user's values for these keys are not passed on.
OWN = ("launcher", *SECRET_ENV, "sweep.batch_size", "hydra.run.dir", "hydra.mode")


def secrets(config: RootConfig) -> dict[str, str]:
    """The environment that carries the stores' addresses (passwords included) to the jobs."""
    return {
        SECRET_ENV["sweep.storage"]: config.sweep.storage,
        SECRET_ENV["tracking.uri"]: config.tracking.uri,
    }


def command(hydra: Any, batch_size: int) -> list[str]:
    """`python -m sweep` with the submitter's config source and overrides, as a worker that
    takes `batch_size` trials at a time."""
    argv = [sys.executable, "-m", "sweep"]
    for source in hydra.runtime.config_sources:
        if source.provider == "command-line":  # --config-dir
            argv += ["--config-dir", source.path.removeprefix("file://")]
    if hydra.job.config_name != "config":
        argv += ["--config-name", hydra.job.config_name]
    given = [*hydra.overrides.hydra, *hydra.overrides.task]
    kept = [o for o in given if not override_key(o).startswith(OWN)]
    env = [f"{key}=${{oc.env:{name}}}" for key, name in SECRET_ENV.items()]
    return [*argv, *kept, "launcher=none", *env, f"sweep.batch_size={batch_size}"]


@dataclass(frozen=True)
class Worker:
    """One worker job: `argv` run to its end in `cwd`, its Hydra output in `run_dir`/INDEX.
    Called by submitit on a node (pickled: it holds no password)."""

    argv: list[str]
    cwd: str
    run_dir: str

    def args(self, index: int) -> list[str]:
        return [*self.argv, f"hydra.run.dir={self.run_dir}/{index}"]

    def __call__(self, index: int) -> None:
        # SLURM signals every process of the job: SIGTERM (scancel) and, 90 s before the time
        # limit, SIGUSR2 (submitit's --signal), which the worker takes as SIGTERM while there
        # is time to give its unfinished trials back. This process only waits for it.
        previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        child = subprocess.Popen(self.args(index), cwd=self.cwd)
        try:
            status = child.wait()
        finally:
            signal.signal(signal.SIGUSR2, previous)
        if status:
            raise RuntimeError(f"worker {index} exited with status {status}")
