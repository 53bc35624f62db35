"""The sweep table: ordering, columns and summary text, from runs as MLflow holds them."""

from __future__ import annotations

from sweep.core.results import Outcome
from sweep.track.runs import StoredRun
from sweep.track.table import summary_text, table


def child(n, status, loss=None, lr="0.01", norm="scale", epochs="500", **tags):
    metrics = {} if loss is None else {"final_loss": loss, "w_raw": 0.5, "b_raw": -17.0}
    params = {"optimizer.lr": lr, "normalization": norm, "train.epochs": epochs, "optimizer": "gd"}
    tags = {"optuna.trial_number": str(n), "status": status, "epochs_trained": epochs, **tags}
    return StoredRun(f"run{n}", f"t{n}", "FINISHED", params, metrics, tags,
                     Outcome.from_run(metrics, tags))  # fmt: skip


def test_table_orders_completed_by_loss_then_pruned_then_diverged():
    runs = [
        child(0, "diverged", norm="none", diverged_at_epoch="11", epochs_trained="10"),
        child(1, "completed", 3.5, lr="0.001"),
        child(2, "pruned", 9.0),
        child(3, "completed", 2.9),
    ]
    frame = table(runs, ["optimizer.lr", "normalization"])
    assert frame["trial"].tolist() == [3, 1, 2, 0]
    assert list(frame.columns[:5]) == ["trial", "status", "final_loss", "optimizer.lr",
                                       "normalization"]  # fmt: skip
    assert frame.loc[3, "diverged_at_epoch"] == 11 and frame.loc[3, "epochs_trained"] == 10
    assert frame["optimizer.lr"].tolist() == [0.01, 0.001, 0.01, 0.01]
    text = summary_text(frame, top=2)
    assert text.startswith("Best 2 of 4 trials (by final loss):")
    assert text.endswith("Status: completed 2, diverged 1, pruned 1")
    assert "run3" not in text
