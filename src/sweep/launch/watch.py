"""Following launched workers: a progress line fed from the study (points done of total, best
loss, the jobs by state) until every job has ended, then the study's verdict.

The jobs' own states come from their launcher (`Jobs`); what is done comes from the study
alone, so a job that died, was cancelled or hit its time limit counts for nothing until
another worker has trained its points."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from sweep.core.progress import Progress
from sweep.study.claims import Tally

STATES = ("pending", "running", "ended")


class Jobs(Protocol):
    """Workers a launcher started, as it sees them."""

    def states(self) -> Counter:
        """How many jobs are `pending`, `running` or `ended` (by any means) now."""
        ...

    def where(self) -> str:
        """Where the jobs' logs are."""
        ...

    def interrupted(self, ex: KeyboardInterrupt) -> str:
        """What Ctrl-C or SIGTERM in the follower does to the jobs, and the line that says so."""
        ...


class Unfinished(RuntimeError):
    """Every job ended, and the study is not done (exit status 1)."""


def follow(jobs: Jobs, read: Callable[[], Tally | None], total: int, every: float) -> Tally:
    """Show the study's progress until no job is pending or running; the study's last tally.
    `read()` is None while no worker has created the study yet."""
    progress: Progress | None = None
    try:
        while True:
            counts = jobs.states()
            tally = read() or Tally(total, 0, 0, 0)
            if progress is None:
                progress = Progress(tally.total, tally.done + tally.failed)
            note = "jobs " + ", ".join(f"{counts[s]} {s}" for s in STATES)
            progress.update(tally.done + tally.failed, tally.best, note)
            if not counts["pending"] and not counts["running"]:
                return read() or tally
            time.sleep(every)
    finally:
        if progress is not None:
            progress.close()


def verdict(tally: Tally, jobs: Jobs, resume: str) -> None:
    """Raise Unfinished, naming what is left and how to go on, unless the study is done."""
    if tally.finished:
        return
    if tally.left:
        left = f"{tally.left} of {tally.total} points are not done"
    else:  # a killed worker's trials, until their heartbeats expire
        left = f"{tally.running} trials are still marked running"
    raise Unfinished(
        f"launcher: every worker ended and {left} (logs: {jobs.where()}); resume "
        f"with more workers: {resume}"
    )
