"""Benchmark: what `sweep.track.plots` costs per chart, and once per process.

    python scripts/bench_plots.py [--figures 30] [--processes 5] [--plots FILE]

`--plots` measures another version of the module, e.g. the Pillow one this replaced:
`git show d0144e7:src/sweep/track/plots.py > /tmp/plots_pillow.py`.

Per chart: the median milliseconds of `--figures` charts, after one warm-up chart, for a
trial's loss curve of 5000 points (the default epochs) and of 100 points, the same with a
`val_loss` curve, and the parent's two charts. Once per process, in fresh interpreters (median
of `--processes`): `import sweep.track.plots`, and the first chart drawn in it (what the
charts import lazily, fonts, caches) minus a warm one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import statistics
import subprocess
import sys
import time

ONE_OFF = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import sweep.track
t1 = time.perf_counter()
if len(sys.argv) > 1:
    spec = importlib.util.spec_from_file_location("plots", sys.argv[1])
    spec.loader.exec_module(plots := importlib.util.module_from_spec(spec))
else:
    from sweep.track import plots
t2 = time.perf_counter()
plots.loss_curve("t001", {"loss": [80.0 / (1 + e) + 2.93 for e in range(5000)]})
t3 = time.perf_counter()
plots.loss_curve("t001", {"loss": [80.0 / (1 + e) + 2.93 for e in range(5000)]})
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, (t3 - t2) - (t4 - t3)]))
"""


def curve(points: int) -> list[float]:
    """A lecture-like loss: from ~80 down to 2.93 over the run."""
    return [2.93 + 77.0 * math.exp(-e / (points / 15)) for e in range(points)]


def median_ms(draw, figures: int) -> float:
    draw()  # warm-up
    times = []
    for _ in range(figures):
        t = time.perf_counter()
        png = draw()
        times.append(time.perf_counter() - t)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=int, default=30)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--plots", help="a plots.py to measure instead of sweep.track.plots")
    args = parser.parse_args()

    if args.plots:
        spec = importlib.util.spec_from_file_location("plots", args.plots)
        spec.loader.exec_module(plots := importlib.util.module_from_spec(spec))
    else:
        from sweep.track import plots

    rng = random.Random(0)
    lrs = sorted(10 ** rng.uniform(-12, 3) for _ in range(60))  # a random search's lrs
    by_norm = {n: (lrs, [rng.choice([2.93, 5.0, 40.0, 1e35]) for _ in lrs]) for n in "abc"}
    best = {f"t{i:03d}": curve(5000) for i in range(5)}
    cases = {
        "loss_curve, 5000 points": lambda: plots.loss_curve("t001", {"loss": curve(5000)}),
        "loss_curve, 100 points": lambda: plots.loss_curve("t001", {"loss": curve(100)}),
        "loss_curve, 5000 points + val_loss": lambda: plots.loss_curve(
            "t001", {"loss": curve(5000), "val_loss": curve(5000)}
        ),
        "loss_curve, diverged at 11 (with inf)": lambda: plots.loss_curve(
            "t001", {"loss": [*curve(10), math.inf]}, "diverged at epoch 11"
        ),
        "parent: best_curves (5 x 5000)": lambda: plots.loss_curve("Best trials", best),
        "parent: final_loss_vs_lr (3 x 60)": lambda: plots.final_loss_vs_lr(by_norm),
    }
    print(f"{plots.__file__}: median of {args.figures} charts, ms per chart")
    for name, draw in cases.items():
        print(f"  {name:40s} {median_ms(draw, args.figures):8.2f}")

    runs = []
    for _ in range(args.processes):
        command = [sys.executable, "-c", ONE_OFF, *([args.plots] if args.plots else [])]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out))
    track, module, first = (1000 * statistics.median(r[i] for r in runs) for i in range(3))
    print(f"once per process, median of {args.processes} fresh interpreters, ms")
    print(f"  {'import sweep.track':40s} {track:8.1f}")
    print(f"  {'import the plots module (after it)':40s} {module:8.1f}")
    print(f"  {'first chart, over a warm one':40s} {first:8.1f}")


if __name__ == "__main__":
    main()
