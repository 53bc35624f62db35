"""The book: each run's losses up to where it ends (its last epoch, its first non-finite loss,
or the report that prunes it), its final params in trained and raw units, and which rows the
loop still needs. Driven by hand with made-up losses, and through the trainer."""

from __future__ import annotations

import math

import pytest
import torch

from sweep.core.results import RunResult
from sweep.train.bookkeeping import Book, RunSpec
from sweep.train.normalize import Normalizer
from sweep.train.trainer import train
from train.runs import DATA, spec

NAN, INF = math.nan, math.inf
PLAIN = Normalizer("none")


def run(epochs: int, normalizer: Normalizer = PLAIN) -> RunSpec:
    return RunSpec(normalizer, (("lr", 0.1),), epochs)


def params(*rows: tuple[float, float]) -> torch.Tensor:
    """The loop's params, shape [2, K, 1], from K rows (w, b)."""
    return torch.tensor(rows).T.unsqueeze(-1).contiguous()


def book_epochs(book: Book, *losses: list[float], val: list[list[float]] | None = None) -> None:
    """What the loop appends for each epoch: one loss per active row (and validation losses)."""
    book.history.extend(torch.tensor(row) for row in losses)
    book.val_history.extend(torch.tensor(row) for row in val or [])


def test_events_are_each_runs_last_epoch_every_check_and_every_report():
    runs = [run(250), run(40)]
    assert Book(runs, [0, 1], 30, None, False).events == {40, 100, 200, 250}  # nobody to report to
    reported = Book(runs, [0, 1], 30, lambda epoch, latest: set(), False)
    assert reported.events == {40, 100, 200, 250, *range(30, 250, 30)}
    assert reported.n_epochs == 250 and reported.losses.shape == (250, 2)


def test_runs_end_at_their_epoch_with_their_params_in_raw_units_and_leave_their_row():
    runs = [run(3, Normalizer("scale", factor=0.5)), run(5, Normalizer("minmax", 1.0, 4.0))]
    book = Book(runs, [0, 1], 0, None, False)
    book_epochs(book, [4.0, 8.0], [3.0, 7.0], [2.0, 6.0])
    assert book.record(3, params((2.0, 1.0), (6.0, -3.0))).tolist() == [1]
    book_epochs(book, [5.0], [4.0])  # row 1 alone now
    assert book.record(5, params((6.5, -3.5))).tolist() == []  # nothing left to train
    assert book.results() == [
        RunResult("completed", [4.0, 3.0, 2.0], None, 2.0, 1.0, w_raw=1.0, b_raw=1.0),
        RunResult("completed", [8.0, 7.0, 6.0, 5.0, 4.0], None, 6.5, -3.5,
                  w_raw=6.5 / 4, b_raw=-3.5 - 6.5 / 4),
    ]  # fmt: skip


def test_a_run_diverges_at_its_first_non_finite_loss_counted_from_the_first_epoch():
    book = Book([run(4), run(8)], [0, 1], 0, None, False)
    book_epochs(book, [1.0, 1.0], [NAN, 2.0], [INF, 3.0], [NAN, 4.0])
    assert book.record(4, params((NAN, NAN), (1.0, 1.0))).tolist() == [1]
    book_epochs(book, [5.0], [INF], [7.0], [NAN])
    assert book.record(8, params((NAN, NAN))).tolist() == []
    assert book.results() == [
        RunResult("diverged", [1.0], None, diverged_at_epoch=2),
        RunResult("diverged", [1.0, 2.0, 3.0, 4.0, 5.0], None, diverged_at_epoch=6),
    ]


def test_a_last_update_that_overflows_is_divergence_at_the_next_epoch():
    book = Book([run(2)], [0], 0, None, False)
    book_epochs(book, [9.0], [8.0])  # finite losses; the update after the last one overflowed
    book.record(2, params((INF, -INF)))
    assert book.results() == [RunResult("diverged", [9.0, 8.0], None, diverged_at_epoch=3)]


def test_runs_sharing_a_row_end_at_their_own_epochs():
    book = Book([run(2), run(4)], [0, 0], 0, None, False)
    book_epochs(book, [3.0], [2.0])
    assert book.record(2, params((1.5, 0.5))) is None  # the longer run still needs the row
    book_epochs(book, [NAN], [1.0])
    assert book.record(4, params((NAN, NAN))).tolist() == []
    assert book.results() == [
        RunResult("completed", [3.0, 2.0], None, 1.5, 0.5, 1.5, 0.5),  # ended before the NaN
        RunResult("diverged", [3.0, 2.0], None, diverged_at_epoch=3),
    ]


@pytest.mark.parametrize(("report_val", "reported"), [(False, [4.0, 3.0]), (True, [9.0, 8.0])])
def test_reports_carry_the_sweeps_metric_and_pruned_runs_keep_their_curves(report_val, reported):
    seen = []

    def on_report(epoch, latest):
        seen.append((epoch, latest))
        return {1}  # prune run 1 at the first report

    book = Book([run(4), run(4)], [0, 1], 2, on_report, True, report_val=report_val)
    book_epochs(book, [5.0, 6.0], [4.0, 3.0], val=[[10.0, 11.0], [9.0, 8.0]])
    assert book.record(2, params((1.0, 2.0), (3.0, 4.0))).tolist() == [0]
    book_epochs(book, [2.0], [1.0], val=[[7.0], [6.0]])
    assert book.record(4, params((5.0, 6.0))).tolist() == []
    assert seen == [(2, {0: reported[0], 1: reported[1]})]  # none left to report at 4
    assert book.results() == [
        RunResult("completed", [5.0, 4.0, 2.0, 1.0], [10.0, 9.0, 7.0, 6.0], 5.0, 6.0, 5.0, 6.0),
        RunResult("pruned", [6.0, 3.0], [11.0, 8.0], 3.0, 4.0, 3.0, 4.0),
    ]


def test_divergent_case_stops_at_first_non_finite_epoch():
    [r] = train([spec("none", 1e-2)], "gd", DATA)
    assert r.status == "diverged"
    assert r.diverged_at_epoch == 11
    assert len(r.losses) == 10
    assert all(math.isfinite(v) for v in r.losses)
    assert r.w is None


def test_pruned_runs_keep_their_curve_up_to_the_pruning_epoch():
    seen = []

    def on_report(epoch, latest):
        seen.append((epoch, sorted(latest)))
        return {1} if epoch == 200 else set()

    a, b = train([spec(epochs=600), spec(lr=1e-3, epochs=600)], "gd", DATA, 100, on_report)
    assert (a.status, len(a.losses)) == ("completed", 600)
    assert (b.status, len(b.losses)) == ("pruned", 200)
    assert seen[:3] == [(100, [0, 1]), (200, [0, 1]), (300, [0])]
    assert b.w is not None


def test_each_run_is_handed_over_as_soon_as_it_ends():
    ended = []

    def on_end(i, result):
        ended.append((i, result.status, len(result.losses)))

    specs = [spec(epochs=5000), spec("none", 1e-2, epochs=1000), spec(epochs=500)]
    results = train(specs, "gd", DATA, on_end=on_end)
    # Shortest first; the diverging run leaves at the first check after its loss blows up.
    assert [e[0] for e in ended] == [1, 2, 0]
    assert ended[0][1] == "diverged" and ended[0][2] < 100
    assert ended[1:] == [(2, "completed", 500), (0, "completed", 5000)]
    assert [(r.status, len(r.losses)) for r in results] == [(s, n) for _, s, n in sorted(ended)]
