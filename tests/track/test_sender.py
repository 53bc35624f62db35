"""The sender process: calls run against a real server, results feed later calls, failures
come back as one line, and the process never outlives the sweep that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from sweep.track.runs import RunRecord, RunStore
from sweep.track.sender import Sender, SenderError

from conftest import client_for, runs_of


def test_a_begun_run_is_ended_through_the_result_of_the_call_that_began_it(mlflow_server):
    sender = Sender(mlflow_server, "sender-chain")
    parent = sender.call(RunStore.create, RunRecord("parent", tags={"role": "parent"}))
    begun = sender.call(RunStore.create, RunRecord("child", params={"lr": "0.1"}), parent)
    ended = sender.call(RunStore.complete, begun, RunRecord("child", series={"loss": [3.0, 2.0]}))
    sender.close()
    assert ended.result() == begun.result()
    run = client_for(mlflow_server).get_run(begun.result())
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent.result()
    assert run.data.params == {"lr": "0.1"} and run.data.metrics == {"loss": 2.0}


def test_a_failed_call_fails_the_calls_that_need_its_result(mlflow_server):
    sender = Sender(mlflow_server, "sender-errors")
    bad = sender.call(RunStore.complete, "no-such-run", RunRecord("x"))
    after = sender.call(RunStore.complete, bad, RunRecord("x"))
    refused = sender.call(RunStore.create, RunRecord("nan", metrics={"loss": float("nan")}))
    fine = sender.call(RunStore.create, RunRecord("fine"))
    sender.close()
    for future in (bad, after):
        with pytest.raises(SenderError, match="no-such-run") as error:
            future.result()
        assert "\n" not in str(error.value)
    with pytest.raises(SenderError, match="refusing to log non-finite loss"):
        refused.result()
    assert [r.info.run_name for r in runs_of(mlflow_server, "sender-errors")] == ["fine"]
    assert fine.result()


def test_the_sender_exits_when_the_sweeps_process_is_killed(mlflow_server):
    code = (
        "import sys, time; from sweep.track.sender import Sender; "
        f"s = Sender({mlflow_server!r}, 'sender-orphan'); "
        "print(s.process.pid, flush=True); time.sleep(600)"
    )
    sweep = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(sweep.stdout.readline())
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
