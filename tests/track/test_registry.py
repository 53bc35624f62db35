"""The best trial's model in the Model Registry: loadable as `models:/NAME@champion`, predicting
the lecture's readings from the best child's raw-unit params; `champion` moves only to a better
version; `mlflow models predict` serves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from sweep.train.data import T_U

from conftest import UNSET, client_for, run_sweep, runs_of

SMALL = [
    "+experiment=lr_grid",
    "tracking.registered_model=lr_grid",
    "sweep.space.train.epochs=[500]",
]


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """Three sweeps into one registered model: a mediocre one, a worse one, then lr_grid."""
    cwd = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    client = client_for(uri)
    aliases = []
    for args in ([*SMALL, "name=reg_a", "sweep.space.optimizer.lr=[0.0001]"],
                 [*SMALL, "name=reg_b", "sweep.space.optimizer.lr=[0.00001]"],
                 ["+experiment=lr_grid"]):  # fmt: skip
        done = run_sweep(*args, cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert "Registered model 'lr_grid' version" in done.stdout
        aliases.append(client.get_model_version_by_alias("lr_grid", "champion").version)
    return cwd, uri, aliases


def best_child(uri: str):
    runs = runs_of(uri, "lr_grid")
    completed = [r for r in runs if r.data.tags.get("status") == "completed"]
    # as the summary table ranks them: by final loss, then trial number (ties are common: runs
    # that converged to the same float)
    return min(completed, key=lambda r: (r.data.metrics["final_loss"],
                                         int(r.data.tags["optuna.trial_number"])))  # fmt: skip


def test_champion_moves_only_to_a_better_version(registered):
    _, uri, aliases = registered
    client = client_for(uri)
    versions = {v.version: v for v in client.search_model_versions("name='lr_grid'")}
    assert sorted(versions) == [1, 2, 3]
    value = {k: float(v.tags["metric_value"]) for k, v in versions.items()}
    assert value[2] > value[1] > value[3]  # b is worse than a; lr_grid is the best
    assert aliases == [1, 1, 3]  # a's stays through b; lr_grid takes it
    assert {v.tags["metric"] for v in versions.values()} == {"final_loss"}
    assert [versions[k].tags["study"] for k in (1, 2, 3)] == ["reg_a", "reg_b", "lr_grid"]


def test_the_champion_converts_the_lectures_readings(registered):
    import mlflow

    _, uri, _ = registered
    best = best_child(uri)
    version = client_for(uri).get_model_version_by_alias("lr_grid", "champion")
    assert version.run_id == best.info.run_id == version.tags["run_id"]
    assert int(version.tags["trial"]) == int(best.data.tags["optuna.trial_number"])
    mlflow.set_tracking_uri(uri)  # a global (and MLFLOW_TRACKING_URI): unset again below
    try:
        model = mlflow.pyfunc.load_model("models:/lr_grid@champion")
    finally:
        mlflow.set_tracking_uri(None)
    predicted = model.predict(pd.DataFrame({"t_u": T_U}))["t_c"].tolist()
    w, b = best.data.metrics["w_raw"], best.data.metrics["b_raw"]
    assert predicted == pytest.approx([w * t + b for t in T_U], rel=1e-4)
    assert model.metadata.get_input_schema().input_names() == ["t_u"]


def test_mlflow_models_predict_serves_the_champion(registered):
    cwd, uri, _ = registered
    (cwd / "readings.csv").write_text("t_u\n" + "".join(f"{t}\n" for t in T_U))
    env = {k: v for k, v in os.environ.items() if k not in UNSET} | {"MLFLOW_TRACKING_URI": uri}
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    done = subprocess.run(
        [mlflow_cli, "models", "predict", "-m", "models:/lr_grid@champion", "-i", "readings.csv",
         "-t", "csv", "--env-manager", "local"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.strip().splitlines()[-1])["predictions"]
    best = best_child(uri)
    w, b = best.data.metrics["w_raw"], best.data.metrics["b_raw"]
    assert [p["t_c"] for p in printed] == pytest.approx([w * t + b for t in T_U], rel=1e-4)
