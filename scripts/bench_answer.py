"""What the sweep's answer costs: `lr_grid` on the embedded store with the best model
registered and without (median of 3 each, fresh directories), and Optuna's importances and
charts for a 40-trial `tpe_search` study.

    python scripts/bench_answer.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNSET = ("MLFLOW_TRACKING_URI", "SWEEP_STORAGE")


def sweep(cwd: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    import optuna

    from sweep.study.importance import insights

    walls: dict[str, list[float]] = {"registered": [], "not registered": []}
    for _ in range(3):
        for label, extra in (
            ("registered", []),
            ("not registered", ["tracking.registered_model="]),
        ):
            with tempfile.TemporaryDirectory() as tmp:
                walls[label].append(sweep(Path(tmp), "+experiment=lr_grid", *extra))
    for label, values in walls.items():
        print(f"lr_grid, {label}: median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
    added = statistics.median(walls["registered"]) - statistics.median(walls["not registered"])
    print(f"registration adds {added:.2f} s (difference of medians)")
    with tempfile.TemporaryDirectory() as tmp:
        sweep(Path(tmp), "+experiment=tpe_search", "sweep.n_trials=40")
        study = optuna.load_study(study_name="tpe_search", storage=f"sqlite:///{tmp}/optuna.db")
        times = []
        for _ in range(3):
            started = time.perf_counter()
            found = insights(study)
            times.append(time.perf_counter() - started)
        size = sum(len(v) for v in found.charts.values()) / 1e6
        print(f"tpe_search (40 trials): importances + 4 charts median "
              f"{statistics.median(times):.2f} s, {size:.1f} MB of HTML")  # fmt: skip


if __name__ == "__main__":
    main()
