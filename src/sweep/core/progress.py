"""What a user watches during a sweep: a progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, done: int, every: float = 5.0) -> None:
        self.total, self.done, self.every = total, done, every
        self.start = self.last = time.monotonic()
        self.first_done = done
        self.best: float | None = None
        self.note = ""
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="trial", file=sys.stderr)

    def update(self, done: int, best: float | None, note: str = "") -> None:
        """`done` trials are done in the study (by any worker); `best` is the best final loss;
        `note` says more (a launcher's jobs)."""
        finished, self.done = done - self.done, done
        self.best, self.note = best, note
        if self.bar is not None:
            shown = [f"best {best:.6f}" if best is not None else "", note]
            self.bar.set_postfix_str(", ".join(s for s in shown if s))
            self.bar.update(finished)
            return
        now = time.monotonic()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            print(self.line(now), flush=True)

    def line(self, now: float) -> str:
        elapsed = now - self.start
        rate = (self.done - self.first_done) / elapsed if elapsed > 0 else 0
        left = self.total - self.done
        eta = f", ETA {left / rate:.0f} s" if rate and left > 0 else ""
        best = f", best loss {self.best:.6f}" if self.best is not None else ""
        note = f", {self.note}" if self.note else ""
        return f"[sweep] {self.done}/{self.total} trials{best}{note}, {elapsed:.1f} s{eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
