"""Start a throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks (about 1 s).

    python scripts/postgres.py --dir /tmp/pg --db mlflow --db optuna   # runs until Ctrl-C

Needs the server binaries (`apt-get install -y postgresql`; .ci/run does that), not a running
server: each cluster is a fresh `initdb` with trust auth (any password is accepted), listening
only on 127.0.0.1 and on a unix socket inside its data dir. It runs without fsync (and
synchronous commits, full-page writes): fast, and an OS crash could corrupt it, which does not
matter for data that is thrown away. As root it runs as the `postgres` user (initdb refuses
root). tests/conftest.py starts one per test session.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{data}'
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresNotFound(RuntimeError):
    """The server binaries (initdb, pg_ctl) are not installed."""


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: `pg_config --bindir`, Debian's layout, or PATH."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    # /usr/lib/postgresql/<major>/bin, newest major first (libpq-dev's pg_config names it even
    # when the server package is missing, hence the check for initdb below).
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p)])[::-1]
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: not from `pg_config --bindir`, "
        "/usr/lib/postgresql/*/bin or PATH. Install them: `apt-get install -y postgresql` "
        "(.ci/run does this when they are missing)."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as psycopg.connect() takes it."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


class Postgres:
    """One throwaway cluster in `workdir`/postgres (or a temp dir, see _make_home), removed by
    stop(), which leaves its server log in `workdir`/postgres.log."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self._as_postgres = os.geteuid() == 0
        self._home: Path | None = None  # the cluster's dir, owned by the server's user
        self._pg_ctl: Path | None = None

    @property
    def data(self) -> Path:
        assert self._home is not None, "not started"
        return self._home / "data"

    @property
    def _log(self) -> Path:
        return self.data.parent / "postgres.log"

    def url(self, name: str, password: str | None = None) -> str:
        """SQLAlchemy URL of database `name`; trust auth accepts any password."""
        auth = "postgres" + (f":{quote(password, safe='')}" if password is not None else "")
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{quote(name, safe='')}"

    def start(self) -> Postgres:
        """initdb, configure, start and wait until it accepts connections."""
        bindir = find_bindir()
        self._pg_ctl = bindir / "pg_ctl"
        self._home = self._make_home()
        atexit.register(self.stop)  # no server left behind by a caller that forgets stop()
        try:
            self._run(bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(SETTINGS.format(port=self.port, data=self.data))
            self._run(self._pg_ctl, "start", "-w", "-D", self.data, "-l", self._log)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self) -> None:
        """Fast restart (open connections are cut), then wait until it accepts connections."""
        self._run(self._pg_ctl, "restart", "-w", "-m", "fast", "-D", self.data, "-l", self._log)
        self._wait_ready()

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut) and remove the cluster."""
        if self._home is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run(self._pg_ctl, "stop", "-w", "-m", "fast", "-D", self.data)
        if self._log.exists():
            shutil.copy(self._log, self.workdir / "postgres.log")
        shutil.rmtree(self._home, ignore_errors=True)
        self._home = None
        atexit.unregister(self.stop)  # only now: an interrupted stop() is retried at exit

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its SQLAlchemy URL."""
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, cutting its open connections."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _admin(self, query: sql.Composed) -> None:
        with psycopg.connect(libpq_url(self.url("postgres")), autocommit=True) as conn:
            conn.execute(query)

    def _make_home(self) -> Path:
        """The cluster's dir. As root it must belong to `postgres`, and every folder above it
        must be traversable by that user; pytest's tmp dirs are not (0700), so then a temp dir
        under the system's tmp is used instead. So is it when the socket's path would be too
        long for a unix socket (107 bytes)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        home = self.workdir / "postgres"
        usable = len(str(home / "data" / ".s.PGSQL.65535")) <= 107 and (
            not self._as_postgres
            or subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(self.workdir)])
            .returncode == 0
        )  # fmt: skip
        if not usable:
            home = Path(tempfile.mkdtemp(prefix="sweep-pg-"))
            home.chmod(0o755)
        elif home.exists():
            raise RuntimeError(f"{home} exists: a cluster left by a killed run? Remove it.")
        else:
            home.mkdir()
        if self._as_postgres:
            shutil.chown(home, "postgres", "postgres")
        return home

    def _run(self, *cmd: object) -> None:
        args = [str(c) for c in cmd]
        if self._as_postgres:
            args = ["runuser", "-u", "postgres", "--", *args]
        # cwd: the server's user may not be able to enter the caller's cwd.
        out = subprocess.run(args, cwd=self._home, capture_output=True, text=True)
        if out.returncode != 0:
            log = self._log if self._home else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{out.stdout}{out.stderr}{tail}")

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(libpq_url(self.url("postgres")), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C or SIGTERM stops the cluster; more of them do not cut that short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="where the cluster lives")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--db", action="append", default=[], help="a database to create")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt), Postgres(args.dir, args.port) as pg:
        urls = [pg.create_database(name) for name in args.db]
        took = time.monotonic() - t0
        print(f"PostgreSQL on 127.0.0.1:{pg.port}, up in {took:.1f} s; Ctrl-C stops it")
        for url in urls or [pg.url("postgres")]:
            print(url, flush=True)
        signal.pause()


if __name__ == "__main__":
    main()
