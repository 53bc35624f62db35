"""`launcher=slurm`: `launcher.workers` worker jobs submitted to SLURM as one job array through
submitit (what Hydra's own SLURM launcher is built on), the settings passed to sbatch.

The jobs own the work: the submitter only follows them (squeue) and the study, and leaves
them running when it is interrupted. submitit pickles each job's function into
`launcher.folder`: a `jobs.Worker`, which holds no password (see `jobs`).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from sweep.core.config import ConfigError
from sweep.core.redact import redact
from sweep.core.schema import RootConfig, SlurmLauncherConfig
from sweep.launch.jobs import Worker
from sweep.study.storage import is_local
from sweep.track.reachable import is_remote

# squeue's states (long form) by what the follower makes of them; any other has ended.
PENDING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
RUNNING = {"RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING"}
# What sbatch says when it refuses a job -> the setting to blame.
REFUSALS = (  # the first word found wins ("Invalid account or account/partition")
    ("account", "launcher.account"),
    ("partition", "launcher.partition"),
    ("time limit", "launcher.time"),
    ("qos", "launcher.qos"),
    ("memory", "launcher.mem_gb"),
    ("gres", "launcher.gpus_per_node"),
    ("node configuration", "launcher.cpus_per_task"),
)


class Slurm:
    def __init__(self, config: RootConfig) -> None:
        self.config = config
        self.cfg: SlurmLauncherConfig = config.launcher

    def check(self) -> None:
        """Stores every node can reach, and SLURM's commands: before anything is created."""
        if is_local(self.config.sweep.storage):
            raise ConfigError(
                "sweep.storage",
                "launcher=slurm needs a study every node reaches, "
                "not an in-memory or SQLite one: set sweep.storage (or "
                "SWEEP_STORAGE) to postgresql+psycopg://USER:PASSWORD@HOST/DB",
            )
        if not is_remote(self.config.tracking.uri):
            raise ConfigError(
                "tracking.uri",
                f"launcher=slurm needs a tracking server every node "
                f"reaches, not the embedded store {redact(self.config.tracking.uri)}:"
                " set tracking.uri (or MLFLOW_TRACKING_URI) to http://HOST:PORT",
            )
        if shutil.which("sbatch") is None:
            raise ConfigError(
                "launcher",
                "sbatch is not on PATH: launcher=slurm submits from a "
                "machine with SLURM's client commands (sbatch, squeue, scancel)",
            )

    def parameters(self, name: str) -> dict:
        """submitit's SlurmExecutor parameters (sbatch's flags) from `launcher.*`."""
        c = self.cfg
        given = {
            "job_name": f"sweep-{name}",
            "partition": c.partition,
            "time": c.time,
            "cpus_per_task": c.cpus_per_task,
            "gpus_per_node": c.gpus_per_node,
            "account": c.account,
            "qos": c.qos,
            "mem": None if c.mem_gb is None else f"{round(c.mem_gb * 1024)}M",
            "array_parallelism": c.array_parallelism or c.workers,
            "additional_parameters": dict(c.additional_parameters) or None,
            "stderr_to_stdout": True,  # one log a job
        }
        return {k: v for k, v in given.items() if v is not None}

    def start(self, worker: Worker) -> SlurmJobs:
        import submitit
        from submitit.core.utils import FailedJobError

        executor = submitit.SlurmExecutor(folder=self.cfg.folder, max_num_timeout=0)
        executor.update_parameters(**self.parameters(self.config.name))
        base = Path(submitit.core.utils.JobPaths.get_first_id_independent_folder(self.cfg.folder))
        before = set(base.iterdir()) if base.is_dir() else set()
        try:  # sbatch's complaint is printed by submitit too: kept for our one line
            with contextlib.redirect_stderr(io.StringIO()):
                jobs = executor.map_array(worker, range(self.cfg.workers))
        except FailedJobError as ex:  # sbatch refused the job: nothing was queued
            for made in set(base.iterdir()) - before if base.is_dir() else ():
                made.unlink(missing_ok=True)
            raise refused(str(ex)) from None
        log = Path(jobs[0].paths.stdout)
        shown = log.relative_to(Path.cwd()) if log.is_relative_to(Path.cwd()) else log
        return SlurmJobs([job.job_id for job in jobs], str(shown))


def refused(stderr: str) -> ConfigError:
    """sbatch's refusal as one line naming the launcher setting to blame."""
    lines = [ln.removeprefix("sbatch: error: ").strip() for ln in stderr.splitlines()]
    text = next(
        (ln for ln in lines if "submission failed" in ln.lower()), lines[-1] if lines else ""
    )
    text = re.sub(r"^Batch job submission failed:\s*", "", text)
    key = next((k for word, k in REFUSALS if word in text.lower()), "launcher")
    return ConfigError(key, f"SLURM refused the job: {text}")


class SlurmJobs:
    """The submitted array, as squeue sees it; a task squeue no longer lists has ended."""

    def __init__(self, ids: list[str], first_log: str) -> None:
        self.ids = ids
        self.array = ids[0].split("_")[0]
        # Every task's log, as one pattern: `launcher.folder`'s %j is each task's own id.
        self.logs = first_log.replace(ids[0], f"{self.array}_*")
        self.last: dict[str, str] = dict.fromkeys(ids, "PENDING")

    def states(self) -> Counter:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-t", "all", "-j", self.array, "-o", "%i %T"],
            capture_output=True,
            text=True,
        )
        if out.returncode == 0:
            listed = dict(line.split()[:2] for line in out.stdout.splitlines() if line.strip())
            self.last = {i: listed.get(i, "GONE") for i in self.ids}
        elif "invalid job id" in out.stderr.lower():  # purged by the controller: all ended
            self.last = dict.fromkeys(self.ids, "GONE")
        # else the controller did not answer: the states it gave last stand
        return Counter(_kind(state) for state in self.last.values())

    def where(self) -> str:
        return self.logs

    def hints(self) -> str:
        return (
            f"Submitted {len(self.ids)} worker jobs as SLURM job array {self.array}: "
            f"{' '.join(self.ids)}\n  follow: squeue -j {self.array}\n"
            f"  cancel: scancel {self.array}\n  logs:   {self.where()}"
        )

    def interrupted(self, ex: KeyboardInterrupt) -> str:
        return (
            "Interrupted: the worker jobs keep running (they own the work); the study "
            f"finishes without this process.\n{self.hints()}"
        )


def _kind(state: str) -> str:
    return "pending" if state in PENDING else "running" if state in RUNNING else "ended"
