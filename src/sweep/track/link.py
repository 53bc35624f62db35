"""The sender's way to the tracking server: straight, or through the spool while it is silent.

A call that fails because the server does not answer (after MLflow's own retries, bounded by
`tracking.retry_seconds`) is made again against the spool, and so is every call after it,
until a background thread finds the server answering again: it then replays the spool (in
order, holding back new calls meanwhile) and calls go straight again. A live call's run ids
may be placeholders the spool handed out: they are resolved before it goes.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sweep.core.redact import redact
from sweep.track.runs import RunStore
from sweep.track.spool import Resolver, Spool, SpoolTracker, replay, unreachable


def bound_retries(retry_seconds: float) -> None:
    """Fit MLflow's per-request retries into about `retry_seconds` (unless the user set them):
    with backoff factor 1, n retries wait 0 + 2 + 4 + ... + 2^(n-1) = 2^n - 2 seconds."""
    retries = max(1, math.ceil(math.log2(retry_seconds + 2)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(math.ceil(max(5, retry_seconds / 4))))


class Link:
    def __init__(self, uri: str, experiment: str, spool_dir: str) -> None:
        self.uri, self.experiment = uri, experiment
        self.spool = Spool(spool_dir)
        self.spooler = SpoolTracker(self.spool, redact(uri), experiment)
        self.offline, self.closing, self.started = False, False, False
        self.lock = threading.Lock()  # the way calls go; held while spooling or replaying
        self.opening = threading.Lock()
        self._replayer = None

    def replayer(self):
        """The server's tracker (made on first use), with the resolver of its placeholders."""
        from sweep.track.replay import Replayer
        from sweep.track.tracker import Tracker

        with self.opening:
            if self._replayer is None:  # live calls and replays alike
                tracker = Tracker(self.uri, self.experiment)
                self._replayer = Replayer(tracker, Resolver(tracker))
        return self._replayer

    def call(self, func: Callable[..., Any], args: tuple) -> Any:
        """`func(tracker, *args)` against the server, or against the spool when it is silent.
        Before the first call goes, what an earlier sweep (killed, say) left in the spool for
        this server and experiment is sent."""
        with self.lock:
            first, self.started = not self.started, True
            if first and self.spool.count(self.spooler.uri, self.experiment):
                self._go_offline(quiet=True)  # the leftovers go first; new calls queue behind
        if first and self.offline:
            self.try_replay(quiet=True)
        with self.lock:
            if self.offline:
                return _apply(self.spooler, func, args)
        try:
            live = self.replayer()
            return _apply(live.tracker, func, live.resolver.args(args))
        except Exception as ex:
            if not unreachable(ex):
                raise
            with self.lock:
                if not self.offline:
                    self._go_offline()
                return _apply(self.spooler, func, args)

    def _go_offline(self, quiet: bool = False) -> None:
        """(Holding the lock.) Spool from now on, and look for the server in the background."""
        self.offline = True
        if not quiet:
            say(f"MLflow at {redact(self.uri)} does not answer: logging goes to "
                f"{self.spool.path}/ until it does")  # fmt: skip
        threading.Thread(target=self._reconnect, daemon=True).start()

    def _reconnect(self) -> None:
        delay = 1.0
        while not self.closing:
            time.sleep(delay)
            delay = min(2 * delay, 30.0)
            if self.try_replay():
                return

    def try_replay(self, quiet: bool = False) -> bool:
        """Send what is spooled if the server answers; True once nothing is left."""
        from sweep.track.reachable import check_reachable

        with self.lock:
            if not self.offline:
                return True
            mine = (self.spooler.uri, self.experiment)
            try:
                check_reachable(self.uri)
                sent = replay(self.spool, lambda *_: self.replayer(), only=mine)
            except Exception as ex:
                if not unreachable(ex):
                    say(f"sending the spool failed: {ex}")
                return False
            self.offline = False
        if sent or not quiet:
            say(f"MLflow at {redact(self.uri)} answers: sent {sent} spooled entries")
        return True

    def close(self) -> int:
        """A last try to send the spool; how many of this sweep's entries are left in it."""
        self.closing = True
        if self.offline:
            self.try_replay()
        return self.spool.count(self.spooler.uri, self.experiment)


def _apply(store: RunStore, func: Callable[..., Any], args: tuple) -> Any:
    """`RunStore.create(*args)` and the like go to `store`'s own method (the spool's stand-in
    has its own); any other function is called with `store` first."""
    if getattr(RunStore, func.__name__, None) is func:
        return getattr(store, func.__name__)(*args)
    return func(store, *args)


def say(text: str) -> None:
    print(f"[sweep] {text}", file=sys.stderr, flush=True)
