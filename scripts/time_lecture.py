"""Wall time of `python -m sweep +experiment=lecture` on the default (SQLite) store, by phase.

The run logs its own store-setup, training and logging times; start-up (interpreter,
imports, Hydra composition) and exit are the rest of the wall time. The first run in an
empty directory also creates the SQLite store (MLflow's migrations); later runs reuse it.

    python scripts/time_lecture.py [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

PATTERN = re.compile(r"training ([\d.]+) s, store setup ([\d.]+) s, logging ([\d.]+) s")


def one_run(cwd: str) -> tuple[float, float, float, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sweep", "+experiment=lecture"],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    training, setup, logging = map(float, PATTERN.search(done.stdout + done.stderr).groups())
    return wall, setup, training, logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'run':<12}{'wall':>8}{'start-up+exit':>15}{'store setup':>13}{'training':>10}"
          f"{'logging':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as cwd:
        for i in range(args.runs):
            wall, setup, training, logging = one_run(cwd)
            label = "fresh store" if i == 0 else f"warm #{i}"
            rest = wall - setup - training - logging
            print(f"{label:<12}{wall:>7.2f}s{rest:>14.2f}s{setup:>12.2f}s{training:>9.2f}s"
                  f"{logging:>8.2f}s")  # fmt: skip


if __name__ == "__main__":
    main()
