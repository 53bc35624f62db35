"""Run records: log-batch payloads within MLflow's limits, every point once, in order."""

from __future__ import annotations

from sweep.track.runs import RunRecord, batches


def record(n_points: int, n_params: int) -> RunRecord:
    return RunRecord(
        "r",
        params={f"p{i}": str(i) for i in range(n_params)},
        series={"loss": [1.0 / s for s in range(1, n_points + 1)]},
        metrics={"w": 1.5, "b": -2.0},
    )


def test_batches_respect_mlflows_limits_and_carry_every_point_once():
    found = list(batches(record(2500, 150), {"status": "completed"}))
    for batch in found:
        assert len(batch["metrics"]) + len(batch["params"]) + len(batch["tags"]) <= 1000
        assert len(batch["params"]) <= 100 and len(batch["tags"]) <= 100
    points = [m for b in found for m in b["metrics"] if m["key"] == "loss"]
    assert [m["step"] for m in points] == list(range(1, 2501))
    assert [m["value"] for m in points] == [1.0 / s for s in range(1, 2501)]
    assert sum(len(b["params"]) for b in found) == 150
    assert len(found) == 3
