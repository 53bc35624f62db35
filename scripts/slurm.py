"""Start a throwaway single-node SLURM cluster for tests and benchmarks (about 3 s).

    python scripts/slurm.py      # prints `export SLURM_CONF=...`, runs until Ctrl-C

Needs Debian's packages (`apt-get install -y --no-install-recommends slurmctld slurmd
slurm-client munge`; .ci/run does that) and root: slurmd runs jobs as their users. Nothing of
the machine's own SLURM or MUNGE is used or touched: the cluster has its own munged (its own
key and socket), its own slurm.conf on free ports, and its state, spool, pid and log files in
its own folder, removed by stop(). Configured to run without cgroups (process tracking by
parent pid, no accounting database). Every client command (`sbatch`, `squeue`, `scancel`)
reaches it through `SLURM_CONF` in its environment (`Slurm.env()`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONF = """\
ClusterName=throwaway
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={home}/state
SlurmdSpoolDir={home}/spool
SlurmctldPidFile={home}/slurmctld.pid
SlurmdPidFile={home}/slurmd.pid
SlurmctldLogFile={home}/slurmctld.log
SlurmdLogFile={home}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=600
EnforcePartLimits=ALL
KillWait=30
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime={max_time} State=UP \
OverSubscribe=FORCE:{oversubscribe}
"""


class SlurmNotFound(RuntimeError):
    """The daemons or client commands are not installed, or this is not root."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_installed() -> None:
    path = os.environ.get("PATH", "") + ":/usr/sbin"
    needed = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")
    missing = [c for c in needed if shutil.which(c, path=path) is None]
    if missing:
        raise SlurmNotFound(
            f"SLURM not installed ({', '.join(missing)} missing): `apt-get install -y "
            "--no-install-recommends slurmctld slurmd slurm-client munge` (.ci/run does this)"
        )
    if os.geteuid() != 0:
        raise SlurmNotFound("a throwaway SLURM cluster needs root (slurmd runs jobs as users)")


class Slurm:
    """One throwaway cluster in its own folder: partition `partition` (the default) on this
    host, `max_time` minutes at most a job, each CPU shared by up to `oversubscribe` jobs."""

    def __init__(
        self, partition: str = "debug", max_time: int = 60, oversubscribe: int = 4
    ) -> None:
        self.partition, self.max_time, self.oversubscribe = partition, max_time, oversubscribe
        self.home: Path | None = None
        self._munged: subprocess.Popen | None = None
        self._daemons: list[subprocess.Popen] = []

    @property
    def conf(self) -> Path:
        assert self.home is not None, "not started"
        return self.home / "slurm.conf"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose SLURM commands talk to this cluster."""
        return {**(os.environ if base is None else base), "SLURM_CONF": str(self.conf)}

    def start(self) -> Slurm:
        check_installed()
        # World-readable, so that the munge user reaches its socket and key in it.
        self.home = Path(tempfile.mkdtemp(prefix="slurm-"))
        self.home.chmod(0o755)
        atexit.register(self.stop)
        try:
            self._start_munge()
            host = socket.gethostname()
            (self.home / "state").mkdir()
            (self.home / "spool").mkdir()
            self.conf.write_text(CONF.format(
                host=host, ctld_port=free_port(), d_port=free_port(), home=self.home,
                munge_socket=self.home / "munge" / "munge.socket", cpus=os.cpu_count() or 1,
                memory=20000, partition=self.partition, max_time=self.max_time,
                oversubscribe=self.oversubscribe))  # fmt: skip
            env = self.env()
            for daemon in ("slurmctld", "slurmd"):
                self._daemons.append(subprocess.Popen(
                    [f"/usr/sbin/{daemon}", "-D", "-f", str(self.conf)], env=env,
                    stdout=subprocess.DEVNULL, stderr=open(self.home / f"{daemon}.err", "wb"),  # noqa: SIM115
                    start_new_session=True))  # fmt: skip
            self._wait_idle(env)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        munge = self.home / "munge"
        munge.mkdir(mode=0o755)
        user = pwd.getpwnam("munge")
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (munge, key):
            os.chown(path, user.pw_uid, user.pw_gid)
        self._munged = subprocess.Popen(
            ["/usr/sbin/munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
             f"--key-file={key}", f"--log-file={munge}/munged.log",
             f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed"],
            user=user.pw_uid, group=user.pw_gid, stdout=subprocess.DEVNULL,
            stderr=open(self.home / "munged.err", "wb"),  # noqa: SIM115 - lives with munged
            start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 10
        while not (munge / "munge.socket").exists():
            if self._munged.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"munged did not start: {self._tail('munged.err')}")
            time.sleep(0.05)

    def _wait_idle(self, env: dict[str, str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for daemon in self._daemons:
                if daemon.poll() is not None:
                    raise RuntimeError(f"{daemon.args[0]} exited: {self._tail('slurmctld.log')}"
                                       f" {self._tail('slurmd.log')}")  # fmt: skip
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                 text=True)  # fmt: skip
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mix", "alloc"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the SLURM node is not idle after {timeout:.0f} s: "
                           f"{self._tail('slurmctld.log')}")  # fmt: skip

    def _tail(self, name: str) -> str:
        path = self.home / name if self.home else None
        if path is None or not path.exists():
            return ""
        return " | ".join(path.read_text(errors="replace").splitlines()[-5:])

    def jobs(self) -> list[tuple[str, str]]:
        """(job id, state) of every job the controller still knows, array tasks one by one."""
        command = ["squeue", "-h", "-r", "-t", "all", "-o", "%i %T"]
        out = subprocess.run(command, env=self.env(), capture_output=True, text=True, check=True)
        return [tuple(line.split()) for line in out.stdout.splitlines() if line.strip()]

    def cancel_all(self) -> None:
        subprocess.run(["scancel", "--full", "-u", "root"], env=self.env(), capture_output=True)

    def stop(self) -> None:
        """Cancel every job, stop the daemons and munged, remove the folder."""
        if self.home is None:
            return
        if self._daemons and self._daemons[0].poll() is None:
            with contextlib.suppress(Exception):
                self.cancel_all()
        for proc in [*reversed(self._daemons), self._munged]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._daemons, self._munged = [], None
        shutil.rmtree(self.home, ignore_errors=True)
        self.home = None


def main() -> None:
    from postgres import _interrupt  # the first Ctrl-C or SIGTERM stops it, more do not

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partition", default="debug")
    parser.add_argument("--max-time", type=int, default=60, help="minutes a job may run at most")
    args = parser.parse_args()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(signum, _interrupt)
    slurm = Slurm(args.partition, args.max_time).start()
    print(f"export SLURM_CONF={slurm.conf}", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        slurm.stop()


if __name__ == "__main__":
    main()
