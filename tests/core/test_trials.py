"""A trial's config is composed from the sweep's own config: `--config-name` and
`--config-dir` hold for every trial, as they do for the sweep."""

from __future__ import annotations

from conftest import run_sweep, runs_of


def test_trials_are_composed_from_the_sweeps_config_name(tmp_path, mlflow_server):
    configs = tmp_path / "my-configs"
    configs.mkdir()
    (configs / "short.yaml").write_text(
        "defaults:\n  - config\n  - _self_\n\ntrain:\n  epochs: 300\n"
        "normalization:\n  factor: 0.5\n"
    )
    done = run_sweep("--config-dir", str(configs), "--config-name", "short",
                     "+experiment=lr_grid", "sweep.space.optimizer.lr=[0.01]",
                     "sweep.space.normalization=[scale]",
                     f"tracking.uri={mlflow_server}", "tracking.experiment=config-name",
                     "sweep.batch_size=4", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    children = [r for r in runs_of(mlflow_server, "config-name") if "optuna.study" in r.data.tags
                and r.data.tags.get("sweep.role") != "parent"]  # fmt: skip
    assert sorted(r.data.params["train.epochs"] for r in children) == ["1000", "500", "5000"]
    assert {r.data.params["normalization.factor"] for r in children} == {"0.5"}
