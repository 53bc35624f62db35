"""A tracking server that does not answer, or that refuses the sweep's credentials, is one
line naming the server (and the HTTP status) before anything is created."""

from __future__ import annotations

from serve_mlflow import start

from conftest import client_for, free_port, run_sweep

ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-pw-123456"}


def test_basic_auth_lets_the_right_credentials_in_and_refuses_the_wrong_ones(tmp_path, monkeypatch):
    port = free_port()
    secrets = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN["MLFLOW_TRACKING_PASSWORD"],
               "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-secret"}  # fmt: skip
    server = start(tmp_path / "auth", port, env=secrets, app_name="basic-auth")
    uri = f"http://127.0.0.1:{port}"
    try:
        common = ("+experiment=lecture", "train.epochs=20", f"tracking.uri={uri}")
        for env in ({}, {**ADMIN, "MLFLOW_TRACKING_PASSWORD": "wrong-password-1"}):
            done = run_sweep(*common, cwd=tmp_path, env=env)
            assert done.returncode == 2
            assert done.stderr.splitlines() == [
                f"error: tracking.uri: MLflow at {uri} refused this sweep's credentials "
                "(HTTP 401); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
            ]
        for key, value in ADMIN.items():
            monkeypatch.setenv(key, value)
        assert client_for(uri).get_experiment_by_name("lecture") is None  # nothing created
        done = run_sweep(*common, cwd=tmp_path, env=ADMIN)
        assert done.returncode == 0, done.stderr
        [run] = client_for(uri).search_runs(
            [client_for(uri).get_experiment_by_name("lecture").experiment_id]
        )
        assert run.info.status == "FINISHED" and run.data.params["train.epochs"] == "20"
    finally:
        server.terminate()
        server.wait(30)
