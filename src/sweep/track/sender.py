"""A sweep's MLflow writes, made by a `Tracker` in a child process.

Why a process: importing MLflow and encoding a sweep's hundred thousand points cost seconds
of Python. In a child process that work runs on another core while the sweep starts up and
trains, so the tracking server is already busy with the first runs (created, params, config)
when training ends, and the sweep's own loop never waits for the encoding.

A call is a plain function `func(tracker, *args)` with arguments that pickle (records, trials,
results: no torch). The functions live on the tracking side (`Tracker`'s methods, `records`,
`registry`), so this process never imports torch or Optuna (import contracts in
pyproject.toml). An argument that is another call's `Pending` stands for that call's result,
so a child run can be begun before training and ended after it.

The child runs in its own session and ignores SIGINT and SIGTERM, so Ctrl-C, `kill` and a
scheduler's signal to every process of a job reach only the sweep (which decides what to
flush). It exits at once when the sweep's process dies (its pipe closes); what it leaves
half-written belongs to trials the study then fails, and a resumed sweep deletes it.
"""

from __future__ import annotations

import importlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


class SenderError(RuntimeError):
    """A call failed in the sender process (the message is already one line)."""


class Pending(Future):
    """The result of a call, as the sweep's process sees it."""

    token: int


@dataclass(frozen=True)
class Ref:
    """In a call's arguments: the result of the earlier call `token`."""

    token: int


class Sender:
    def __init__(
        self, uri: str, experiment: str, spool_dir: str = ".sweep/spool", retry_seconds: float = 120
    ) -> None:
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sweep.track.sender", str(requests_in), str(replies_out), uri,
             experiment, spool_dir, str(retry_seconds)],
            pass_fds=(requests_in, replies_out), env=env, start_new_session=True,
        )  # fmt: skip
        os.close(requests_in)
        os.close(replies_out)
        self.requests = Connection(requests_out, readable=False)
        self.replies = Connection(replies_in, writable=False)
        self.pending: dict[int, Pending] = {}
        self.lock, self.closing = threading.Lock(), False
        self.waiting = 0  # entries of this sweep left in the spool when the sender closed
        self.tokens = itertools.count()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def call(self, func: Callable[..., Any], *args: Any) -> Pending:
        """Run `func(tracker, *args)` in the sender process; returns at once."""
        future = Pending()
        future.token = next(self.tokens)
        args = tuple(Ref(a.token) if isinstance(a, Pending) else a for a in args)
        with self.lock:
            self.pending[future.token] = future
            try:
                self.requests.send(("call", future.token, func, args))
            except OSError:  # the sender process is gone; the reader fails what it left
                self.pending.pop(future.token)
                future.set_exception(SenderError("the MLflow sender process exited"))
        return future

    def drain(self) -> None:
        """Wait until every call made so far has finished (the process stays)."""
        with self.lock:
            calls = list(self.pending.values())
        wait(calls)

    def close(self) -> None:
        """Wait until every call has finished (sent, or spooled), then let the sender process
        exit (once); `waiting` then says how many spool entries it could not send."""
        with self.lock:
            if not self.closing and self.process.poll() is None:
                self.requests.send(("close",))
            self.closing = True
        self.reader.join()
        self.process.wait()

    def _read(self) -> None:
        try:
            while (message := self.replies.recv())[0] != "closed":
                token, error, value = message
                with self.lock:
                    future = self.pending.pop(token)
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(SenderError(error))
            self.waiting = message[1]
        except (EOFError, OSError):
            pass
        with self.lock:
            lost, self.pending = list(self.pending.values()), {}
        for future in lost:
            future.set_exception(SenderError("the MLflow sender process exited"))


def serve(
    requests: Connection, replies: Connection, uri: str, experiment: str, spool_dir: str,
    retry_seconds: float,
) -> None:  # fmt: skip
    """The sender process: read calls, run them on a small thread pool, reply with results."""
    from sweep.core.errors import full_traceback, one_line
    from sweep.core.redact import guard_streams
    from sweep.track.link import Link, bound_retries
    from sweep.track.reachable import is_remote

    # A scheduler signals every process of a job (SLURM's scancel and time limit): the sweep
    # decides what is flushed, and this process ends when the sweep closes its pipe.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_IGN)
    guard_streams()  # MLflow's log lines and warnings from this process carry no password
    bound_retries(retry_seconds)
    # MLflow's import overlaps with the sweep's start-up; the experiment is opened by the first
    # call, so a sweep that fails before its first call leaves nothing in the store.
    threading.Thread(target=importlib.import_module, args=("mlflow.tracking",), daemon=True).start()
    link = Link(uri, experiment, spool_dir)
    lock = threading.Lock()
    results: dict[int, Future] = {}

    def run(token: int, func: Callable[..., Any], args: tuple) -> Any:
        try:
            args = tuple(results[a.token].result() if isinstance(a, Ref) else a for a in args)
            value = link.call(func, args)
        except BaseException as ex:
            if full_traceback():
                traceback.print_exc()
            with lock:
                replies.send((token, one_line(ex), None))
            raise
        with lock:
            replies.send((token, None, value))
        return value

    # SQLite takes one writer at a time. A server gets two requests at a time: one to work on
    # while the next is encoded; more only add contention inside a one-worker server.
    with ThreadPoolExecutor(2 if is_remote(uri) else 1) as pool:
        while True:
            try:
                message = requests.recv()
            except EOFError:  # the sweep's process died: stop now, its trials will be retried
                os._exit(1)
            if message[0] == "close":
                break
            _, token, func, args = message
            results[token] = pool.submit(run, token, func, args)
    replies.send(("closed", link.close()))
    sys.stderr.flush()
    os._exit(0)  # all is sent; skip the interpreter's teardown, which the sweep would wait for


if __name__ == "__main__":
    # This file runs as `__main__`; calls pickle `sweep.track.sender.Ref`, so serve from that
    # module.
    from sweep.track.sender import serve as serve_calls

    requests_fd, replies_fd, uri_arg, experiment_arg, spool_arg, retry_arg = sys.argv[1:]
    serve_calls(Connection(int(requests_fd), writable=False),
                Connection(int(replies_fd), readable=False), uri_arg, experiment_arg, spool_arg,
                float(retry_arg))  # fmt: skip
