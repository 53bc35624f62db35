"""End to end: `python -m sweep` for single runs, read back through MLflow's own client."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from PIL import Image

from sweep.train.data import T_C, T_U

from conftest import LECTURE_LOSSES, LECTURE_PARAMS, client_for, run_sweep, runs_of


def history(client, run_id, key):
    points = client.get_metric_history(run_id, key)
    return [p.step for p in points], [p.value for p in points]


def check_lecture_run(uri, experiment, tmp_path):
    client = client_for(uri)
    [run] = runs_of(uri, experiment)
    assert run.info.status == "FINISHED"
    steps, losses = history(client, run.info.run_id, "loss")
    assert steps == list(range(1, 5001))
    assert [round(losses[e - 1], 6) for e in range(500, 5001, 500)] == LECTURE_LOSSES
    m = run.data.metrics
    assert [m["w"], m["b"]] == LECTURE_PARAMS
    assert m["final_loss"] == losses[-1]
    assert m["w_raw"] == pytest.approx(0.53670845) and m["b_raw"] == LECTURE_PARAMS[1]
    p = run.data.params
    assert (p["normalization"], p["optimizer"], p["data"]) == ("scale", "gd", "thermometer")
    assert (p["optimizer.lr"], p["train.epochs"], p["normalization.factor"]) == (
        "0.01", "5000", "0.1",
    )  # fmt: skip
    assert p["train.init_params"] == "[1.0, 0.0]"
    assert run.data.tags["status"] == "completed"
    assert p["tracking.run_chart"] == "False"
    names = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert names == ["config.yaml"]  # no loss_curve.png: MLflow charts `loss` itself
    local = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
    config = yaml.safe_load(Path(local).read_text())
    assert config["optimizer"]["lr"] == 0.01 and config["train"]["epochs"] == 5000
    assert config["tracking"]["run_chart"] is False


def test_lecture_on_the_embedded_default_store(tmp_path):
    done = run_sweep("+experiment=lecture", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:10] == [
        f"Epoch {e}, Loss {v:f}" for e, v in zip(range(500, 5001, 500), LECTURE_LOSSES, strict=True)
    ]
    assert "params [5.3671, -17.3012]" in lines[10]
    assert (tmp_path / "mlflow.db").exists()
    check_lecture_run(f"sqlite:///{tmp_path / 'mlflow.db'}", "lecture", tmp_path)


def test_lecture_on_a_tracking_server(tmp_path, mlflow_server):
    done = run_sweep("+experiment=lecture", "tracking.experiment=lecture-server", cwd=tmp_path,
                     env={"MLFLOW_TRACKING_URI": mlflow_server})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "mlflow.db").exists()
    check_lecture_run(mlflow_server, "lecture-server", tmp_path)


def test_run_chart_true_adds_the_runs_loss_curve_png(tmp_path, mlflow_server):
    done = run_sweep("+experiment=lecture", "tracking.experiment=lecture-chart",
                     "tracking.run_chart=true", cwd=tmp_path,
                     env={"MLFLOW_TRACKING_URI": mlflow_server})  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = client_for(mlflow_server)
    [run] = runs_of(mlflow_server, "lecture-chart")
    assert run.data.params["tracking.run_chart"] == "True"
    names = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert names == ["config.yaml", "loss_curve.png"]
    png = client.download_artifacts(run.info.run_id, "loss_curve.png", str(tmp_path))
    with Image.open(png) as img:
        img.load()
        assert (img.format, img.size) == ("PNG", (640, 400))


def test_divergent_case_is_recorded_as_diverged(tmp_path, mlflow_server):
    done = run_sweep("normalization=none", "optimizer.lr=1e-2", "tracking.experiment=divergent",
                     f"tracking.uri={mlflow_server}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not finite from epoch 11" in done.stdout
    [run] = runs_of(mlflow_server, "divergent")
    assert run.data.tags["status"] == "diverged"
    assert run.data.tags["diverged_at_epoch"] == "11"
    steps, losses = history(client_for(mlflow_server), run.info.run_id, "loss")
    assert steps == list(range(1, 11))
    assert all(math.isfinite(v) and v < 1e300 for v in losses)
    assert not {"w", "b", "final_loss"} & set(run.data.metrics)


def test_csv_gives_the_same_run_as_thermometer(tmp_path, mlflow_server):
    csv = tmp_path / "readings.csv"
    csv.write_text("t_u,t_c\n" + "".join(f"{u},{c}\n" for u, c in zip(T_U, T_C, strict=True)))
    common = ("train.epochs=2000", "train.val_fraction=0.2", f"tracking.uri={mlflow_server}")
    a = run_sweep("data=csv", f"data.path={csv}", "data.x=t_u", "data.y=t_c",
                  "tracking.experiment=csv", *common, cwd=tmp_path)  # fmt: skip
    b = run_sweep("tracking.experiment=thermo", *common, cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    client = client_for(mlflow_server)
    [ra], [rb] = runs_of(mlflow_server, "csv"), runs_of(mlflow_server, "thermo")
    for key in ("loss", "val_loss"):
        assert history(client, ra.info.run_id, key) == history(client, rb.info.run_id, key)
        assert len(history(client, ra.info.run_id, key)[0]) == 2000
    assert ra.data.metrics == rb.data.metrics
    assert ra.data.params["data"] == "csv" and ra.data.params["data.path"] == str(csv)


def test_sgd_with_zero_momentum_agrees_with_gd_in_the_store(tmp_path, mlflow_server):
    uri = f"tracking.uri={mlflow_server}"
    a = run_sweep("optimizer=sgd", "optimizer.momentum=0", "tracking.experiment=sgd0", uri,
                  cwd=tmp_path)  # fmt: skip
    b = run_sweep("tracking.experiment=gd", uri, cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    client = client_for(mlflow_server)
    [ra], [rb] = runs_of(mlflow_server, "sgd0"), runs_of(mlflow_server, "gd")
    la, lb = history(client, ra.info.run_id, "loss")[1], history(client, rb.info.run_id, "loss")[1]
    assert len(la) == len(lb) == 5000
    assert max(abs(x - y) for x, y in zip(la, lb, strict=True)) <= 1e-5
    assert ra.data.params["optimizer"] == "sgd" and ra.data.params["optimizer.momentum"] == "0.0"
