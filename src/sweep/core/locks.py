"""Locks that several worker processes take around what must happen once: creating a store's
tables, queueing a grid, claiming trials, choosing a study's parent run.

A SQLite file is locked with a file beside it (`optuna.db.lock`): workers on one machine.
A PostgreSQL database is locked with an advisory lock, held by one connection for as long as
the block runs: workers on any machine, and released by the server if the worker dies.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The advisory lock's first key: ours, so that other programs' advisory locks never collide.
NAMESPACE = 0x5357  # "SW"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing, left in place), released when the block
    ends or the process dies: filelock's `flock` on Unix, waiting as long as it takes. Each call
    is a lock of its own, so threads of one process take turns too."""
    import filelock

    # filelock would create a missing directory; a SQLite file's lock in a directory that is
    # not there is the caller's error, as the database itself would be.
    if not Path(path).parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    with filelock.FileLock(path, mode=0o644):
        yield


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///optuna.db`), or None for an in-memory database."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return None if database in (None, "", ":memory:") else Path(database)


@contextlib.contextmanager
def advisory_lock(engine: Any, name: str) -> Iterator[None]:
    """PostgreSQL's session advisory lock (NAMESPACE, hashtext(name)) on a connection of
    `engine`, held while the block runs."""
    import sqlalchemy

    key = {"ns": NAMESPACE, "name": name}
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:ns, hashtext(:name))"), key)
        connection.commit()
        try:
            yield
        finally:
            with contextlib.suppress(sqlalchemy.exc.DBAPIError):  # a lost connection let go
                unlock = "SELECT pg_advisory_unlock(:ns, hashtext(:name))"
                connection.execute(sqlalchemy.text(unlock), key)
                connection.commit()


def database_lock(engine: Any, url: str, name: str) -> contextlib.AbstractContextManager:
    """The lock for `name` in the database at `url`: advisory on PostgreSQL, a file beside a
    SQLite file, none for an in-memory database (one process)."""
    if engine.dialect.name == "postgresql":
        return advisory_lock(engine, name)
    path = sqlite_path(url)
    if path is None:
        return contextlib.nullcontext()
    return file_lock(path.with_name(path.name + ".lock"))
