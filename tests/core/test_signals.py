"""SIGTERM ends a sweep the way Ctrl-C does, exiting 143 instead of 130; inside `critical()` a
signal waits until the outermost block is done. Each case is a real process that sends itself
real signals (a sleep between two signals lets the first be handled before the second)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAM = """
import os, signal, time
from sweep.core import signals

def kill(signum):
    os.kill(os.getpid(), signum)
    time.sleep(0.2)

signals.install()
try:
{body}
except KeyboardInterrupt as ex:
    print(type(ex).__name__, flush=True)
    raise SystemExit(signals.exit_status(ex)) from None
"""


def run(body: str) -> tuple[int, list[str]]:
    """The program's exit status and its stdout's lines."""
    code = PROGRAM.format(body=textwrap.indent(textwrap.dedent(body), "    "))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.stderr == ""
    return done.returncode, done.stdout.splitlines()


@pytest.mark.parametrize(
    ("signal", "name", "status"),
    [("SIGTERM", "Terminated", 143), ("SIGINT", "KeyboardInterrupt", 130),
     ("SIGUSR2", "Terminated", 143)],  # SLURM's warning before a time limit
)  # fmt: skip
def test_a_signal_interrupts_at_once_and_sets_the_exit_status(signal, name, status):
    assert run(f"kill(signal.{signal})\nprint('not interrupted')") == (status, [name])


@pytest.mark.parametrize(
    ("first", "second", "name", "status"),
    [("SIGTERM", "SIGINT", "Terminated", 143), ("SIGINT", "SIGTERM", "KeyboardInterrupt", 130)],
)
def test_inside_critical_signals_wait_for_the_block_and_the_first_one_counts(
    first, second, name, status
):
    body = f"""
    with signals.critical():
        kill(signal.{first})
        kill(signal.{second})
        print("block done")
    print("after the block")
    """
    assert run(body) == (status, ["block done", name])


def test_nested_blocks_hold_a_signal_until_the_outermost_ends():
    body = """
    with signals.critical():
        with signals.critical():
            kill(signal.SIGTERM)
        print("inner block done")
    print("after the blocks")
    """
    assert run(body) == (143, ["inner block done", "Terminated"])


def test_a_held_signal_is_delivered_once():
    body = """
    try:
        with signals.critical():
            kill(signal.SIGINT)
    except KeyboardInterrupt:
        print("first block interrupted")
    with signals.critical():
        print("second block")
    print("not interrupted again")
    kill(signal.SIGTERM)
    """
    assert run(body) == (
        143, ["first block interrupted", "second block", "not interrupted again", "Terminated"]
    )  # fmt: skip
