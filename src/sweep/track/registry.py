"""The best trial's model in MLflow's Model Registry (a sender call: it runs where the
tracker lives, and knows nothing of torch: the model is two floats and the line they make).

Each finished sweep adds a version under `tracking.registered_model`; the alias `champion`
names the best version ever registered there, by the sweep's metric (lower is better): a
worse sweep adds its version and leaves the alias where it is.
"""

from __future__ import annotations

from pathlib import Path

from sweep.track.tracker import Tracker

CHAMPION = "champion"
MODEL_CODE = Path(__file__).parents[1] / "models" / "thermometer.py"


def register_best(
    tracker: Tracker, run_id: str, params: dict[str, float], name: str, tags: dict[str, str],
    t_u: list[float],
) -> tuple[str, bool]:  # fmt: skip
    """Log the model on the best child run `run_id` (with readings `t_u` as its input
    example), register it as a new version of `name` with `tags` (`metric` and
    `metric_value` among them), and move `champion` to it if it is better than the current
    one; returns (version, whether it is the champion now)."""
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    tracker.client.get_run(run_id)  # a live tracker, and the run is there (the spool has none)
    example = pd.DataFrame({"t_u": t_u})
    signature = infer_signature(
        example, pd.DataFrame({"t_c": [params["w_raw"] * t + params["b_raw"] for t in t_u]})
    )
    mlflow.set_tracking_uri(tracker.uri)
    mlflow.set_registry_uri(tracker.uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE), model_config=dict(params),
            signature=signature, input_example=example,
            pip_requirements=[f"mlflow=={mlflow.__version__}", f"pandas=={pd.__version__}"],
        )  # fmt: skip
    version = mlflow.register_model(info.model_uri, name, tags=tags).version
    client = tracker.client
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    if current is None or _better(tags, current.tags):
        client.set_registered_model_alias(name, CHAMPION, version)
        return version, True
    return version, False


def _better(new: dict[str, str], old: dict[str, str]) -> bool:
    """Lower is better for the same metric; a version measured by another metric yields."""
    if new.get("metric") != old.get("metric"):
        return True
    return float(new["metric_value"]) < float(old["metric_value"])
