"""What could not reach the tracking server, kept on disk until it can.

When the server stays silent longer than `tracking.retry_seconds`, the sender process writes
each call's effect (create a run, add a record, set a status, ...) as one file in the spool
directory instead: pickled, written to a temporary file, fsynced and renamed, so a crash of the
sweep never leaves a torn entry. A run created while spooling has no id from the server; it
gets a placeholder, `spool-<key>`, where the key is the run's `sweep.run_key` tag, so a
placeholder is found on the server (`Resolver`) once the run is there.

Replaying (`replay`, used by the sender when the server answers again and by
`python -m sweep.sync`) is idempotent: a run is created only if no run holds its key, and a
record adds only the metric steps the run does not have yet. An entry is deleted once applied,
so replay killed half-way and run again repeats at most one entry, harmlessly.
"""

from __future__ import annotations

import itertools
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from sweep.track.runs import PLACEHOLDER, RUN_KEY, RunRecord, RunStore, StoredRun, check_finite

SUFFIX = ".entry"


class Offline(RuntimeError):
    """A read that needs the tracking server, which is not answering."""


def unreachable(ex: BaseException) -> bool:
    """Did `ex` (or its cause) come from a server that does not answer at all?"""
    from sweep.track.reachable import Unreachable

    markers = ("Max retries exceeded", "Connection refused", "ConnectionError", "timed out",
               "Connection broken", "Connection aborted", "Connection reset", "RemoteDisconnected",
               "error code 502", "error code 503", "error code 504")  # fmt: skip
    while ex is not None:
        if isinstance(ex, Unreachable | ConnectionError | TimeoutError):
            return True
        if any(m in str(ex) for m in markers):
            return True
        ex = ex.__cause__ or ex.__context__
    return False


class Spool:
    """A directory of entries in the order written. Each holds two pickles: `(uri,
    experiment)`, so an entry's destination is read without its (maybe large) record, then
    `(method, args)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.seq = itertools.count()

    def put(self, uri: str, experiment: str, method: str, *args: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(self.seq):08d}{SUFFIX}"
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            pickle.dump((uri, experiment), out, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump((method, args), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, self.path / name)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def entries(self, only: tuple[str, str] | None = None) -> list[Path]:
        """The entries in order; with `only`, those of that (uri, experiment)."""
        found = sorted(self.path.glob(f"*{SUFFIX}")) if self.path.is_dir() else []
        return [e for e in found if only is None or self._meant(e) == only]

    def _meant(self, entry: Path) -> tuple[str, str] | None:
        try:
            with open(entry, "rb") as f:
                return pickle.load(f)  # the first pickle only
        except FileNotFoundError:  # replayed meanwhile by another process
            return None

    def count(self, uri: str, experiment: str) -> int:
        return len(self.entries((uri, experiment)))

    @staticmethod
    def read(entry: Path) -> tuple[str, str, str, tuple]:
        """uri, experiment, method, args."""
        with open(entry, "rb") as f:
            return (*pickle.load(f), *pickle.load(f))


class SpoolTracker:
    """The sender's tracker while the server is silent: the same write methods as `Tracker`,
    each one an entry in the spool; reads raise `Offline`."""

    def __init__(self, spool: Spool, uri: str, experiment: str) -> None:
        self.spool, self.uri, self.experiment = spool, uri, experiment

    def _put(self, method: str, *args: Any) -> None:
        self.spool.put(self.uri, self.experiment, method, *args)

    def create(self, record: RunRecord, parent_id: str | None = None) -> str:
        check_finite(record)
        record = RunRecord(record.name, record.params, {RUN_KEY: record.key(), **record.tags},
                           record.series, record.metrics, record.artifacts)  # fmt: skip
        self._put("create", record, parent_id)
        return PLACEHOLDER + record.tags[RUN_KEY]

    def complete(self, run_id: str, record: RunRecord, status: str = "FINISHED") -> str:
        check_finite(record)
        self._put("complete", run_id, record, status)
        return run_id

    def write(self, run_id: str, record: RunRecord, tags: dict[str, str] | None = None) -> None:
        check_finite(record)
        self._put("write", run_id, record, tags)

    def reopen(self, run_id: str, record: RunRecord) -> str:
        self._put("reopen", run_id, record)
        return run_id

    def set_parent(self, run_id: str, parent_id: str) -> None:
        self._put("set_parent", run_id, parent_id)

    def set_status(self, run_id: str, status: str) -> None:
        self._put("set_status", run_id, status)

    def delete_runs(self, run_ids: list[str]) -> None:
        self._put("delete_runs", run_ids)

    def find_runs(self, **tags: str) -> list[StoredRun]:
        raise Offline(f"MLflow at {self.uri} is not answering")

    def history(self, run_id: str, key: str) -> list[float]:
        raise Offline(f"MLflow at {self.uri} is not answering")

    @property
    def client(self) -> Any:
        """What needs MLflow's client itself (registering a model) waits for the server."""
        raise Offline(f"MLflow at {self.uri} is not answering")


class Resolver:
    """Placeholders to the ids of the runs they stand for, once those runs are on the server
    (found there by their key); asked for every live call's arguments."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.known: dict[str, str] = {}  # placeholder -> run id

    def run_id(self, run_id: str | None) -> str | None:
        """The run's id on the server; a placeholder whose run is not there yet as it is."""
        if run_id is None or not run_id.startswith(PLACEHOLDER):
            return run_id
        if run_id not in self.known:
            found = self.store.find_runs(**{RUN_KEY: run_id.removeprefix(PLACEHOLDER)})
            if not found:
                return run_id
            self.known[run_id] = found[0].run_id
        return self.known[run_id]

    def args(self, args: tuple) -> tuple:
        """A call's arguments with run ids resolved; from a list of runs (to delete), those
        that never reached the server are left out."""
        out = []
        for arg in args:
            if isinstance(arg, str):
                arg = self.run_id(arg)
            elif isinstance(arg, list) and all(isinstance(a, str) for a in arg):
                arg = [r for r in map(self.run_id, arg) if not r.startswith(PLACEHOLDER)]
            out.append(arg)
        return tuple(out)


def replay(spool: Spool, tracker_for, only: tuple[str, str] | None = None) -> int:
    """Apply the entries (of `only`'s uri and experiment) in order through
    `tracker_for(uri, experiment)` (a Tracker), deleting each once applied; how many were."""
    applied = 0
    for entry in spool.entries(only):
        try:  # another process replaying the same spool may have taken it
            uri, experiment, method, args = spool.read(entry)
        except FileNotFoundError:
            continue
        getattr(tracker_for(uri, experiment), "replay_" + method)(*args)
        entry.unlink(missing_ok=True)
        applied += 1
    return applied
