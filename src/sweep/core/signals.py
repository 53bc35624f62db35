"""Ctrl-C and SIGTERM as one exception, and sections of code they may not cut in two.

A scheduler's SIGTERM ends a sweep the way Ctrl-C does (the batch's logging finishes, the
study stays resumable), but exits 143 instead of 130. Inside `critical()` a signal waits until
the block is done, so that e.g. a trial is never told and then told again because the
interrupt landed between telling it and forgetting it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


_held = threading.local()
_pending: list[int] = []


def install() -> None:
    """Route SIGINT and SIGTERM through `critical()` (main thread only, as Python requires),
    and SIGUSR2 as SIGTERM: SLURM's warning before a job's time limit, as submitit asks for it."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2):
        signal.signal(signum, _handle)


def exit_status(ex: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number."""
    return 143 if isinstance(ex, Terminated) else 130


def _raise(signum: int) -> None:
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _handle(signum: int, _frame) -> None:
    if getattr(_held, "depth", 0):
        _pending.append(signum)
    else:
        _raise(signum)


@contextmanager
def critical() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first one."""
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield
    finally:
        _held.depth -= 1
    if not _held.depth and _pending:
        signum = _pending[0]
        _pending.clear()
        _raise(signum)
