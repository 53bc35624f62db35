"""The Optuna storage that a sweep's workers share: opened safely by many at once, and used
through a database's short outages.

Optuna creates its tables when a storage is first opened; N workers opening a fresh database
at the same instant raced on that (PostgreSQL: a duplicate `CREATE TYPE`; SQLite: `table
studies already exists`). Opening is therefore serialised by the database's lock. Connections
are checked before use (`pool_pre_ping`), so after a database restart a worker reconnects
instead of failing on a dead pooled connection; what fails during the restart itself is
retried by `retrying`.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from sweep.core.config import ConfigError
from sweep.core.locks import database_lock
from sweep.core.redact import redact

SUPPORTED = ("sqlite", "postgresql")
RETRY_SECONDS = 120.0  # how long a database may be unreachable before the sweep gives up
T = TypeVar("T")
log = logging.getLogger(__name__)


def is_local(url: str) -> bool:
    """A study only this machine can reach: in memory, or in a SQLite file."""
    import sqlalchemy

    return not url or sqlalchemy.engine.make_url(url).get_backend_name() == "sqlite"


def open_storage(url: str, heartbeat_interval: int, grace_period: int) -> Any:
    """An `optuna.storages.RDBStorage` with heartbeats on (None for an in-memory study)."""
    if not url:
        return None
    import optuna
    import sqlalchemy

    try:
        backend = sqlalchemy.engine.make_url(url).get_backend_name()
    except Exception as ex:  # not a URL at all
        raise ConfigError("sweep.storage", f"cannot open {redact(url)} ({reason(ex)})") from None
    if backend not in SUPPORTED:
        raise ConfigError(
            "sweep.storage",
            f"'{backend}' is not supported; use sqlite:///FILE or "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB",
        )
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except Exception as ex:  # a missing driver, a malformed option
        raise ConfigError("sweep.storage", f"cannot open {redact(url)} ({reason(ex)})") from None
    try:
        with database_lock(engine, url, "optuna-schema"), warnings.catch_warnings():
            # Heartbeats are "experimental" since Optuna 2.9; relied on knowingly.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
            )
    except Exception as ex:  # SQLAlchemy's many ways to say "cannot open that"
        raise ConfigError("sweep.storage", f"cannot open {redact(url)} ({reason(ex)})") from None
    finally:
        engine.dispose()
    from sweep.study._optuna import engine as engine_of

    if engine_of(storage).dialect.name == "sqlite":
        _write_ahead(engine_of(storage))
    return storage


def reason(ex: BaseException) -> str:
    """A database error as a message's part: one line, short, with no password in it."""
    return redact(" ".join(str(ex).split()))[:200]


def _write_ahead(engine: Any) -> None:
    """SQLite in WAL mode with `synchronous=NORMAL`: a sweep commits several times per trial
    (ask, params, heartbeats, tell), and each commit otherwise waits for fsyncs that compete
    with the tracking store's. A crashed process still loses nothing; several workers on one
    machine still share the file."""
    from sqlalchemy import event

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # connections opened before the listener are replaced


def is_transient(ex: BaseException) -> bool:
    """A lost or refused database connection (a restart, a network blip), as opposed to a
    mistake that fails again however often it is tried."""
    import sqlalchemy

    while ex is not None:
        if isinstance(ex, sqlalchemy.exc.DBAPIError) and ex.connection_invalidated:
            return True
        if isinstance(ex, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            return True
        ex = ex.__cause__ or ex.__context__
    return False


def retrying(call: Callable[..., T], *args: Any, what: str = "the study's database") -> T:
    """`call(*args)`, tried again while the database is unreachable (up to RETRY_SECONDS)."""
    deadline, delay, warned = time.monotonic() + RETRY_SECONDS, 0.2, False
    while True:
        try:
            result = call(*args)
        except Exception as ex:
            if not is_transient(ex) or time.monotonic() > deadline:
                raise
            if not warned:
                log.warning("%s is unreachable (%s); retrying", what, reason(ex)[:120])
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if warned:
            log.warning("%s is back", what)
        return result


def retried(call: Callable[..., T]) -> Callable[..., T]:
    """`call`, always `retrying`: for the study's own calls that a sweep makes in its loop."""

    @functools.wraps(call)
    def again(*args: Any, **kwargs: Any) -> T:
        return retrying(functools.partial(call, **kwargs), *args)

    return again
