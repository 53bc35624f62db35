"""What a sweep's parent run holds once trials are done, from a real summary table: counts by
status, the best trial's values as metrics and its settings as tags, the table and plots as
artifacts, and the summary written to the job's directory."""

from __future__ import annotations

import io

import pandas as pd

from sweep.app.parent import parent_artifacts, parent_record, write_summary
from sweep.core.results import Outcome
from sweep.track.runs import StoredRun
from sweep.track.table import table

PNG = b"\x89PNG\r\n\x1a\n"
KEYS = ["optimizer.lr", "normalization"]


def child(n, status, loss=None, val=None, lr="0.01", norm="scale", epochs="500", **tags):
    metrics = {} if loss is None else {"final_loss": loss, "w_raw": 0.5 + n, "b_raw": -17.0 - n}
    if val is not None:
        metrics["final_val_loss"] = val
    params = {"optimizer.lr": lr, "normalization": norm, "train.epochs": epochs, "optimizer": "gd"}
    tags = {"optuna.trial_number": str(n), "status": status, "epochs_trained": epochs, **tags}
    return StoredRun(f"run{n}", f"t{n}", "FINISHED", params, metrics, tags,
                     Outcome.from_run(metrics, tags))  # fmt: skip


RUNS = [
    child(0, "diverged", norm="none", lr="0.1", diverged_at_epoch="11", epochs_trained="10"),
    child(1, "completed", 3.5, 4.0, lr="0.001"),
    child(2, "pruned", 9.0, 9.5, norm="minmax"),
    child(3, "completed", 2.9, 4.5, norm="standard", epochs="1000"),
    child(4, "completed", 3.1, 3.0, lr="0.001", norm="standard"),
]


def test_the_record_counts_statuses_and_names_the_best_trial():
    frame = table(RUNS, KEYS)
    record = parent_record("study", frame, {"t003 2.9": [5.0, 2.9]}, "final_loss", KEYS)
    assert record.name == "study"
    assert {k: v for k, v in record.metrics.items() if k.startswith("n_")} == {
        "n_completed": 3.0, "n_diverged": 1.0, "n_pruned": 1.0, "n_failed": 0.0}  # fmt: skip
    assert record.metrics["best_final_loss"] == 2.9
    assert (record.metrics["best_w_raw"], record.metrics["best_b_raw"]) == (3.5, -20.0)
    assert "best_final_val_loss" not in record.metrics
    assert record.tags == {
        "best.trial": "3", "best.run_id": "run3", "best.optimizer.lr": "0.01",
        "best.normalization": "standard", "best.optimizer": "gd", "best.train.epochs": "1000",
    }  # fmt: skip
    assert record.params == {}


def test_the_best_trial_goes_by_the_sweeps_metric():
    frame = table(RUNS, KEYS, by="final_val_loss")
    record = parent_record("study", frame, {}, "final_val_loss", KEYS)
    assert record.metrics["best_final_val_loss"] == 3.0
    assert record.metrics["best_final_loss"] == 3.1  # the best trial's, not the least
    assert (record.tags["best.trial"], record.tags["best.run_id"]) == ("4", "run4")
    assert sorted(k for k in record.metrics if k.startswith("best_")) == [
        "best_b_raw", "best_final_loss", "best_final_val_loss", "best_w_raw"]  # fmt: skip


def test_without_a_completed_trial_there_is_no_best():
    frame = table([RUNS[0], RUNS[2]], KEYS)
    record = parent_record("study", frame, {}, "final_loss", KEYS)
    assert record.metrics == {"n_completed": 0.0, "n_diverged": 1.0, "n_pruned": 1.0,
                              "n_failed": 0.0}  # fmt: skip
    assert record.tags == {}
    assert sorted(record.artifacts) == ["best_curves.png", "final_loss_vs_lr.png", "summary.csv"]


def test_the_artifacts_are_the_table_and_two_plots():
    frame = table(RUNS, KEYS)
    artifacts = parent_artifacts(frame, {"t003 2.9": [5.0, 3.0, 2.9]})
    assert sorted(artifacts) == ["best_curves.png", "final_loss_vs_lr.png", "summary.csv"]
    assert artifacts["final_loss_vs_lr.png"].startswith(PNG)
    assert artifacts["best_curves.png"].startswith(PNG)
    back = pd.read_csv(io.BytesIO(artifacts["summary.csv"]))
    assert back["trial"].tolist() == [3, 4, 1, 2, 0]
    assert back["run_id"].tolist() == ["run3", "run4", "run1", "run2", "run0"]
    assert list(back.columns) == list(frame.columns)
    assert parent_record("s", frame, {}, "final_loss", KEYS).artifacts["summary.csv"] == (
        artifacts["summary.csv"])  # fmt: skip


def test_the_summary_is_written_and_printed_best_first(tmp_path, capsys):
    frame = table(RUNS, KEYS)
    path = write_summary(frame, str(tmp_path), "final_loss", {"optimizer.lr": 0.75,
                                                               "normalization": 0.25})  # fmt: skip
    assert path == tmp_path / "summary.csv"
    pd.testing.assert_frame_equal(pd.read_csv(path), pd.read_csv(io.StringIO(frame.to_csv(
        index=False))))  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Best 5 of 5 trials (by final loss):"
    assert out[-2] == "Status: completed 3, diverged 1, pruned 1"
    shares = "optimizer.lr 0.750, normalization 0.250"
    assert out[-1] == f"Parameter importances (Optuna, fANOVA): {shares}"
    assert "run3" not in "\n".join(out)  # run ids are in the CSV, not on the console


def test_without_importances_none_are_printed(tmp_path, capsys):
    write_summary(table(RUNS, KEYS), str(tmp_path), "final_loss", {})
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "Status: completed 3, diverged 1, pruned 1"
    assert (tmp_path / "summary.csv").is_file()
