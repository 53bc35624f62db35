"""What a user watches: on a terminal a progress bar on stderr, otherwise a plain line on stdout
every few seconds and at the end, with the best loss and an ETA from this worker's own rate."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import sys
import termios

from sweep.core.progress import Progress


def test_plain_lines_come_every_few_seconds_and_at_the_end(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    progress = Progress(4, 1, every=3600.0)
    progress.update(2, 0.5)
    progress.update(3, None)
    assert capsys.readouterr().out == ""  # an hour has not passed
    progress.update(4, 0.25)
    progress.close()
    assert re.fullmatch(r"\[sweep\] 4/4 trials, best loss 0\.250000, \d+\.\d s\n",
                        capsys.readouterr().out)  # fmt: skip


def test_with_no_interval_every_update_is_a_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress = Progress(10, 0, every=0.0)
    progress.update(1, None)
    progress.update(3, 2.5)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\[sweep\] 1/10 trials, \d+\.\d s, ETA \d+ s", lines[0])
    assert re.fullmatch(r"\[sweep\] 3/10 trials, best loss 2\.500000, \d+\.\d s, ETA \d+ s",
                        lines[1])  # fmt: skip


def test_the_eta_counts_only_the_trials_done_since_this_worker_started(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress = Progress(10, 2, every=3600.0)  # 2 trials were done before
    progress.update(6, 1.5)
    # 4 trials in 8 s: 0.5 per second, so the 4 left take 8 s more.
    assert progress.line(progress.start + 8.0) == (
        "[sweep] 6/10 trials, best loss 1.500000, 8.0 s, ETA 8 s"
    )
    assert progress.line(progress.start) == "[sweep] 6/10 trials, best loss 1.500000, 0.0 s"
    progress.update(10, 1.25)
    assert (
        progress.line(progress.start + 20.0) == "[sweep] 10/10 trials, best loss 1.250000, 20.0 s"
    )


def drain(fd: int) -> str:
    """What a terminal received (the pty hands it over asynchronously)."""
    out = b""
    while select.select([fd], [], [], 0.5)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
    return out.decode()


def test_on_a_terminal_a_bar_on_stderr_and_no_lines(monkeypatch, capsys):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 120 columns
    with open(slave, "w", buffering=1) as terminal, open(master, "rb", buffering=0) as screen:
        monkeypatch.setattr(sys, "stderr", terminal)
        progress = Progress(4, 1)
        progress.update(3, 0.25)
        progress.close()
        frames = drain(screen.fileno()).split("\r")
    assert capsys.readouterr().out == ""
    assert "| 1/4 [" in frames[1] and "trial/s" in frames[1]
    assert frames[-1].endswith("\n")
    assert "| 3/4 [" in frames[-2] and frames[-2].endswith("trial/s, best 0.250000]")
