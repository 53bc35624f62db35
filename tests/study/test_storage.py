"""The workers' shared Optuna storage: opened by many at once, SQLite in write-ahead mode, a
bad URL a one-line config error without its password, and calls retried while the database
is unreachable (here a SQLite file that cannot be opened yet: a real OperationalError).
PostgreSQL's side (a restart survived) is in tests/e2e/test_postgres.py."""

from __future__ import annotations

import logging
import threading

import optuna
import pytest
import sqlalchemy

from sweep.core.config import ConfigError
from sweep.study import storage as storages
from sweep.study._optuna import engine
from sweep.study.storage import is_transient, open_storage, retrying


def test_no_url_is_an_in_memory_study():
    assert open_storage("", 1, 2) is None


def test_a_sqlite_storage_beats_and_writes_ahead(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'o.db'}", 3, 7)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert (storage.heartbeat_interval, storage.grace_period) == (3, 7)
    with engine(storage).connect() as connection:
        pragma = connection.exec_driver_sql
        modes = pragma("PRAGMA journal_mode").scalar(), pragma("PRAGMA synchronous").scalar()
    assert modes == ("wal", 1)  # 1: NORMAL
    assert (tmp_path / "o.db.lock").is_file()  # the tables were created under the lock


def test_workers_opening_a_fresh_database_at_the_same_instant_all_open_it(tmp_path):
    url, n = f"sqlite:///{tmp_path / 'o.db'}", 8
    start, opened, errors = threading.Barrier(n), [], []

    def worker():
        start.wait()
        try:
            opened.append(open_storage(url, 1, 2))
        except ConfigError as ex:  # without the lock: "table studies already exists"
            errors.append(str(ex))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(opened) == n


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url",
         "cannot open not a url (Could not parse SQLAlchemy URL from given URL string)"),
        ("postgresql+nodriver://u:hunter2@h/db",
         "cannot open postgresql+nodriver://u:***@h/db (Can't load plugin: "
         "sqlalchemy.dialects:postgresql.nodriver)"),
    ],
)  # fmt: skip
def test_a_url_that_cannot_be_opened_says_why(url, message):
    with pytest.raises(ConfigError) as error:
        open_storage(url, 1, 2)
    assert str(error.value) == f"sweep.storage: {message}"


def test_unopenable_storage_is_a_one_line_config_error_without_the_password():
    bad = "postgresql+psycopg://user:hunter2@127.0.0.1:9/optuna"
    with pytest.raises(ConfigError, match=r"^sweep\.storage: cannot open") as error:
        open_storage(bad, 1, 2)
    assert "hunter2" not in str(error.value) and "user:***@127.0.0.1:9" in str(error.value)
    with pytest.raises(ConfigError, match="'mysql' is not supported"):
        open_storage("mysql://u@127.0.0.1:9/x", 1, 2)


def caught(call) -> BaseException:
    try:
        call()
    except BaseException as ex:
        return ex
    raise AssertionError(f"{call} raised nothing")


def unreachable(tmp_path) -> sqlalchemy.exc.OperationalError:
    """A real OperationalError: SQLite cannot open a file in a folder that does not exist."""
    gone = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'missing' / 'o.db'}")
    return caught(gone.connect)


def duplicate(tmp_path) -> sqlalchemy.exc.IntegrityError:
    """A real IntegrityError: a mistake, however often it is tried."""
    db = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'dup.db'}")
    with db.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with db.begin() as connection:
        return caught(lambda: connection.exec_driver_sql("INSERT INTO t VALUES (1)"))


def test_a_lost_database_is_transient_and_a_mistake_is_not(tmp_path):
    lost, mistake = unreachable(tmp_path), duplicate(tmp_path)
    assert (type(lost), type(mistake)) == (sqlalchemy.exc.OperationalError,
                                           sqlalchemy.exc.IntegrityError)  # fmt: skip

    def tell():
        raise RuntimeError("tell failed") from lost

    def handle():
        try:
            raise lost
        except sqlalchemy.exc.OperationalError:
            raise RuntimeError("cleanup failed") from None  # the loss stays its context

    caused, during = caught(tell), caught(handle)
    # A cut connection on a statement that is no OperationalError (PostgreSQL's; SQLite's
    # file connections are never cut, so the exception is made here).
    cut = sqlalchemy.exc.DatabaseError("SELECT 1", {}, Exception("closed"),
                                       connection_invalidated=True)  # fmt: skip
    assert [is_transient(e) for e in (lost, caused, during, cut)] == [True] * 4
    assert [is_transient(e) for e in (mistake, ValueError("x"))] == [False, False]


def test_a_call_is_retried_until_the_database_is_back(tmp_path, caplog):
    folder, attempts = tmp_path / "later", []

    def query():
        attempts.append(1)
        if len(attempts) == 3:
            folder.mkdir()  # the database comes back
        with sqlalchemy.create_engine(f"sqlite:///{folder / 'o.db'}").connect() as connection:
            return connection.exec_driver_sql("SELECT 7").scalar()

    with caplog.at_level(logging.WARNING, logger=storages.__name__):
        assert retrying(query, what="the tracking store") == 7
    assert len(attempts) == 3
    [down, back] = [r.getMessage() for r in caplog.records]
    assert down.startswith("the tracking store is unreachable ((sqlite3.OperationalError) "
                           "unable to open database file")  # fmt: skip
    assert down.endswith("); retrying") and back == "the tracking store is back"


def test_a_mistake_is_raised_at_once(tmp_path, caplog):
    attempts = []
    error = duplicate(tmp_path)

    def call(value):
        attempts.append(value)
        raise error

    with caplog.at_level(logging.WARNING, logger=storages.__name__):
        assert caught(lambda: retrying(call, "x")) is error
    assert attempts == ["x"] and caplog.records == []


def test_an_outage_longer_than_the_retry_window_is_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(storages, "RETRY_SECONDS", 0.5)
    lost, stop = unreachable(tmp_path), ValueError("retried past the window")
    attempts = []

    def call():
        attempts.append(1)
        raise lost if len(attempts) < 5 else stop

    assert caught(lambda: retrying(call)) is lost
    assert len(attempts) == 3  # at 0, 0.2 and 0.6 s: the last one past the window
