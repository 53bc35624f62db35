"""The README's picture: MLflow's chart view of the `lr_grid` sweep, in real Chromium.

    python scripts/docs_screenshot.py            # writes docs/mlflow-lr_grid-charts.png

Runs `lr_grid` against a fresh lean tracking server (scripts/serve_mlflow.py) in a temporary
folder, opens the experiment's runs page in chart mode with the runs sorted by final loss (the
charts draw the first ten), waits until plotly has drawn the `loss` chart, and saves the page.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from browser import TIMEOUT_MS, chromium, goto, mlflow_training_mode
from serve_mlflow import start

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "mlflow-lr_grid-charts.png"
BEST_FIRST = "orderByKey=metrics.%60final_loss%60&orderByAsc=true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docs-shot-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start(Path(tmp) / "server", port)
        try:
            subprocess.run(
                [sys.executable, "-m", "sweep", "+experiment=lr_grid", f"tracking.uri={url}"],
                cwd=tmp, check=True, stdout=subprocess.DEVNULL, timeout=600,
            )  # fmt: skip
            import mlflow

            experiment = mlflow.MlflowClient(url).get_experiment_by_name("lr_grid")
            runs = f"{url}/#/experiments/{experiment.experiment_id}/runs"
            with chromium(width=1600, height=1000) as context:
                mlflow_training_mode(context, runs)
                page = context.new_page()
                # Sorted by final loss: the charts show the first ten runs, so the best ten.
                goto(page, f"{runs}?compareRunsMode=CHART&{BEST_FIRST}")
                card = page.locator("[data-testid=experiment-view-compare-runs-card]").filter(
                    has=page.locator('h4[title="loss"]')
                )
                page.wait_for_timeout(8000)
                page.screenshot(path="/tmp/dbg.png")
                expect(card.locator("path.js-line").first).to_be_visible(timeout=TIMEOUT_MS)
                page.wait_for_timeout(1_000)  # plotly's transitions settle
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
        finally:
            server.terminate()
            server.wait(30)
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
