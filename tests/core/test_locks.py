"""The file lock that workers on one machine take around what must happen once: real processes
contend for it, and what it promises holds (one holder at a time, a wait as long as it takes,
release at the block's end or the holder's death, the file beside the SQLite file)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

from sweep.core.locks import database_lock, file_lock, sqlite_path

ROUNDS = 200
SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters, as separate workers are


def count(lock: str, counter: str, rounds: int, go) -> None:
    """Increment the number in `counter` `rounds` times, read-modify-write under the lock."""
    go.wait()
    for _ in range(rounds):
        with file_lock(Path(lock)):
            value = int(Path(counter).read_text())
            time.sleep(0.0005)  # widen the window a lost update needs
            Path(counter).write_text(str(value + 1))


def hold(lock: str, marks: str, seconds: float) -> None:
    """Take the lock, note when, hold it `seconds`, note when it is let go."""
    with file_lock(Path(lock)):
        with open(marks, "a") as f:
            f.write(f"held {time.time()!r}\n")
        time.sleep(seconds)
        with open(marks, "a") as f:
            f.write(f"released {time.time()!r}\n")


def wait_for(path: Path, text: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not (path.exists() and text in path.read_text()):
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.01)


def test_two_processes_never_hold_it_at_once(tmp_path):
    lock, counter = tmp_path / "optuna.db.lock", tmp_path / "counter"
    counter.write_text("0")
    go = SPAWN.Event()
    workers = [SPAWN.Process(target=count, args=(str(lock), str(counter), ROUNDS, go))
               for _ in range(2)]  # fmt: skip
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert int(counter.read_text()) == 2 * ROUNDS  # no increment lost


def test_threads_of_one_process_take_turns_too(tmp_path):
    lock, counter = tmp_path / "x.lock", tmp_path / "counter"
    counter.write_text("0")
    go = threading.Event()
    threads = [threading.Thread(target=count, args=(str(lock), str(counter), 50, go))
               for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(60)
    assert int(counter.read_text()) == 150


def test_a_waiter_gets_it_when_the_holder_lets_go_not_before(tmp_path):
    lock, marks = tmp_path / "x.lock", tmp_path / "marks"
    holder = SPAWN.Process(target=hold, args=(str(lock), str(marks), 1.0))
    holder.start()
    wait_for(marks, "held")
    with file_lock(lock):  # waits for the holder, with no timeout
        got = time.time()
    holder.join(30)
    released = float(marks.read_text().split("released ")[1])
    assert holder.exitcode == 0
    assert released <= got < released + 1.0  # filelock polls every 0.05 s


def test_a_holder_that_dies_lets_go(tmp_path):
    lock, marks = tmp_path / "x.lock", tmp_path / "marks"
    holder = SPAWN.Process(target=hold, args=(str(lock), str(marks), 600.0))
    holder.start()
    wait_for(marks, "held")
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    started = time.monotonic()
    with file_lock(lock):
        pass
    assert holder.exitcode == -signal.SIGKILL
    assert time.monotonic() - started < 2  # the kernel let go, not a stale-lock timeout
    assert "released" not in marks.read_text()


def test_the_lock_file_is_made_beside_the_sqlite_file_and_stays(tmp_path):
    database = tmp_path / "optuna.db"
    url = f"sqlite:///{database}"
    assert sqlite_path(url) == database
    assert sqlite_path("sqlite://") is None and sqlite_path("sqlite:///:memory:") is None
    engine = sqlalchemy.create_engine(url)
    with database_lock(engine, url, "optuna-schema"):
        assert sorted(p.name for p in tmp_path.iterdir()) == ["optuna.db.lock"]
    lock = tmp_path / "optuna.db.lock"
    assert lock.is_file() and oct(lock.stat().st_mode & 0o777) == "0o644"
    memory = sqlalchemy.create_engine("sqlite://")
    with database_lock(memory, "sqlite://", "optuna-schema"):  # one process: no lock at all
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optuna.db.lock"]


def test_a_lock_in_a_missing_directory_is_an_error_not_a_new_directory(tmp_path):
    missing = tmp_path / "missing" / "optuna.db.lock"
    with pytest.raises(FileNotFoundError, match="No such file or directory"), file_lock(missing):
        pass
    assert not (tmp_path / "missing").exists()
