"""Following jobs: progress until none is pending or running, then the study's verdict."""

from __future__ import annotations

from collections import Counter

import pytest

from sweep.launch.watch import Unfinished, follow, verdict
from sweep.study.claims import Tally


class Scripted:
    """Jobs whose states run through a script, one step per look (our own Protocol)."""

    def __init__(self, *steps: dict) -> None:
        self.steps = [Counter(s) for s in steps]

    def states(self) -> Counter:
        return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]

    def where(self) -> str:
        return "logs/*.out"

    def interrupted(self, ex: KeyboardInterrupt) -> str:
        return "interrupted"


def test_follow_shows_progress_until_every_job_has_ended(capsys):
    jobs = Scripted({"pending": 2}, {"running": 2}, {"running": 1, "ended": 1}, {"ended": 2})
    reads = iter([None, Tally(60, 10, 20, 0, 3.5), Tally(60, 50, 10, 0, 2.9),
                  Tally(60, 60, 0, 0, 2.92), Tally(60, 60, 0, 0, 2.92)])  # fmt: skip
    final = follow(jobs, lambda: next(reads), 60, every=0)
    assert final == Tally(60, 60, 0, 0, 2.92)
    lines = capsys.readouterr().out.splitlines()  # one line in 5 s at most, and the last
    assert len(lines) == 1
    assert lines[-1].startswith("[sweep] 60/60 trials, best loss 2.920000, jobs 0 pending, "
                                "0 running, 2 ended")  # fmt: skip


def test_a_done_study_passes_and_an_unfinished_one_names_what_is_left():
    verdict(Tally(60, 58, 0, 2), Scripted({}), "python -m sweep x")  # 2 given up: done
    with pytest.raises(Unfinished) as raised:
        verdict(Tally(60, 45, 0, 0), Scripted({}), "python -m sweep +experiment=lr_grid")
    assert str(raised.value) == (
        "launcher: every worker ended and 15 of 60 points are not done (logs: logs/*.out); "
        "resume with more workers: python -m sweep +experiment=lr_grid"
    )
    with pytest.raises(Unfinished, match="3 trials are still marked running"):
        verdict(Tally(60, 60, 3, 0), Scripted({}), "cmd")
