"""Browser tests: the MLflow UI and optuna-dashboard over a real sweep, in real Chromium.

Chromium is Debian's `chromium` package driven by playwright (never `playwright install`), as in
../shared/NOTES.md "Browser". Without it these tests fail rather than skip: CI installs it.
Screenshots of every page go to test-output/screenshots/ (git-ignored); their paths are printed.
Every wait is bounded: a page that never renders fails within about a minute.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser import CHROMIUM, TIMEOUT_MS, chromium, goto, mlflow_training_mode

from conftest import ROOT, client_for, free_port, run_sweep

SHOTS = ROOT / "test-output" / "screenshots"
STUDY = "ui_grid"  # names the MLflow experiment and the Optuna study
N_CHILDREN = 8  # 2 learning rates x 4 normalizations x 1 length


@dataclass
class Sweep:
    cwd: Path
    experiment_id: str
    parent_id: str
    children: dict[str, str]  # run name -> run id
    best_child: str  # name of the completed child with the lowest final loss


@pytest.fixture(scope="module")
def sweep(mlflow_server, tmp_path_factory) -> Sweep:
    cwd = tmp_path_factory.mktemp("ui-sweep")
    result = run_sweep(
        "+experiment=lr_grid", f"name={STUDY}", "sweep.space.optimizer.lr=[0.1,0.01]",
        "sweep.space.train.epochs=[500]", f"tracking.uri={mlflow_server}", cwd=cwd, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    client = client_for(mlflow_server)
    experiment = client.get_experiment_by_name(STUDY)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == N_CHILDREN, [r.info.run_name for r in children]
    completed = [r for r in children if "final_loss" in r.data.metrics]
    best = min(completed, key=lambda r: r.data.metrics["final_loss"])
    return Sweep(
        cwd=cwd,
        experiment_id=experiment.experiment_id,
        parent_id=parents[0].info.run_id,
        children={r.info.run_name: r.info.run_id for r in children},
        best_child=best.info.run_name,
    )


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium with a fresh temporary profile for the module."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(apt-get install -y chromium); the browser tests need it and do not skip.",
            pytrace=False,
        )
    with chromium() as context:
        yield context


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


@contextmanager
def screenshot(page: Page, name: str, capsys):
    """Save a screenshot of `page` after the block, or of the broken page if the block fails."""
    try:
        yield
    except BaseException:
        save(page, f"{name}-FAILED", capsys)
        raise
    save(page, name, capsys)


def save(page: Page, name: str, capsys) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


@pytest.fixture(scope="module")
def mlflow_ui(browser, sweep, mlflow_server) -> str:
    mlflow_training_mode(browser, f"{mlflow_server}/#/experiments/{sweep.experiment_id}/runs")
    return mlflow_server


def run_name_cell(page: Page, run_id: str):
    # AG Grid draws each row in three containers (pinned left, centre, pinned right); the run
    # name sits in one of them.
    return page.locator(f'[role=row][row-id="{run_id}"] [role=gridcell][col-id*="Run Name"]')


def test_mlflow_runs_table_lists_the_children(page, mlflow_ui, sweep, capsys):
    with screenshot(page, "mlflow-runs-table", capsys):
        goto(page, f"{mlflow_ui}/#/experiments/{sweep.experiment_id}/runs")
        parent = run_name_cell(page, sweep.parent_id)
        expect(parent.get_by_role("link", name=STUDY, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text(f"{N_CHILDREN + 1} matching runs")).to_be_visible()
        # Children are nested under the parent's row: expand it.
        if not run_name_cell(page, next(iter(sweep.children.values()))).is_visible():
            parent.locator("button").first.click()
        for name, run_id in sweep.children.items():
            assert re.fullmatch(r"t\d{3}-\w+-gd-lr0\.0?1-e500", name), name
            cell = run_name_cell(page, run_id)
            expect(cell).to_be_visible(timeout=TIMEOUT_MS)
            expect(cell.get_by_role("link", name=name, exact=True)).to_be_visible()
        # Nothing else in the table: the parent and its children, once each.
        shown = page.locator("[role=row][row-id]").evaluate_all(
            "rows => rows.map(r => r.getAttribute('row-id'))"
        )
        assert sorted(set(shown)) == sorted([sweep.parent_id, *sweep.children.values()])


def test_mlflow_child_loss_chart_renders(page, mlflow_ui, sweep, capsys):
    name = sweep.best_child
    run_id = sweep.children[name]
    with screenshot(page, "mlflow-child-model-metrics", capsys):
        goto(page, f"{mlflow_ui}/#/experiments/{sweep.experiment_id}/runs/{run_id}/model-metrics")
        expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)
        card = page.locator("[data-testid=experiment-view-compare-runs-card]").filter(
            has=page.locator('h4[title="loss"]')
        )
        expect(card).to_have_count(1, timeout=TIMEOUT_MS)
        expect(card).to_be_visible()
        # The card's legend names this run's `loss` series; plotly drew its line.
        expect(card).to_contain_text(f"{name} (loss)")
        expect(card).to_contain_text("Step")
        line = card.locator("path.js-line").first
        expect(line).to_be_visible(timeout=TIMEOUT_MS)
        points = len(re.findall(r"[ML]", line.get_attribute("d") or ""))
        assert points >= 3, line.get_attribute("d")
        box = line.bounding_box()
        # The curve runs across the plot (500 steps) and falls (the loss drops from ~150 to ~3).
        assert box and box["width"] > 100 and box["height"] > 50, box
        chart = card.locator("svg.main-svg").first.bounding_box()
        assert chart and chart["width"] > 0 and chart["height"] > 0, chart
        card.scroll_into_view_if_needed()


@pytest.fixture(scope="module")
def optuna_dashboard(sweep, tmp_path_factory):
    """optuna-dashboard on a free port over the sweep's Optuna storage (its cwd's optuna.db),
    stopped at the end."""
    db = sweep.cwd / "optuna.db"
    assert db.is_file(), f"no Optuna storage at {db}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("optuna-dashboard") / "optuna-dashboard.log"
    exe = Path(sys.executable).with_name("optuna-dashboard")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(exe), f"sqlite:///{db}", "--host", "127.0.0.1", "--port", str(port),
             "--server", "wsgiref"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"optuna-dashboard exited: {log_path.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/api/studies", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"no answer in 60 s: {log_path.read_text()}"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_optuna_dashboard_shows_the_study(page, optuna_dashboard, capsys):
    with screenshot(page, "optuna-dashboard-home", capsys):
        goto(page, f"{optuna_dashboard}/dashboard")
        link = page.locator("a[href*='/dashboard/studies/']").filter(has_text=STUDY)
        expect(link).to_have_count(1, timeout=TIMEOUT_MS)
        expect(link).to_be_visible()
    with screenshot(page, "optuna-dashboard-study", capsys):
        link.click()
        page.wait_for_load_state("load")
        expect(page.get_by_text(re.compile(rf"^{STUDY} \(id=\d+\)$"))).to_be_visible(
            timeout=TIMEOUT_MS
        )
        # The History plot: one marker per trial, x-axis ticks at the trial numbers.
        history = page.locator(".js-plotly-plot").first
        expect(history).to_be_visible(timeout=TIMEOUT_MS)
        expect(history.locator(".xtick").filter(has_text=str(N_CHILDREN - 1))).to_have_count(1)
        study_url = page.url
    with screenshot(page, "optuna-dashboard-trials", capsys):
        goto(page, f"{study_url.rstrip('/')}/trials")
        expect(page.get_by_text(f"{N_CHILDREN} Trials", exact=True)).to_be_visible(
            timeout=TIMEOUT_MS
        )
        for number in range(N_CHILDREN):
            expect(page.get_by_text(f"Trial {number}", exact=True)).to_be_visible()


def test_mlflow_registered_model_page_shows_the_champion(page, mlflow_ui, sweep, capsys):
    version = client_for(mlflow_ui).get_model_version_by_alias(STUDY, "champion")
    with screenshot(page, "mlflow-registered-model", capsys):
        goto(page, f"{mlflow_ui}/#/models/{STUDY}")
        expect(page.get_by_role("heading", name=STUDY)).to_be_visible(timeout=TIMEOUT_MS)
        row = page.get_by_role("row").filter(has_text=f"Version {version.version}")
        expect(row).to_have_count(1, timeout=TIMEOUT_MS)
        expect(row).to_contain_text("champion")


@pytest.fixture(scope="module")
def search(mlflow_server, tmp_path_factory) -> tuple[str, str]:
    """A small TPE search (enough trials for Optuna's charts): its experiment and parent."""
    cwd = tmp_path_factory.mktemp("ui-search")
    done = run_sweep("+experiment=tpe_search", "name=ui_search", "sweep.n_trials=15",
                     "sweep.space.train.epochs={low:100,high:500}", f"tracking.uri={mlflow_server}",
                     cwd=cwd, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    client = client_for(mlflow_server)
    experiment = client.get_experiment_by_name("ui_search").experiment_id
    [parent] = client.search_runs([experiment], "tags.`sweep.role` = 'parent'")
    return experiment, parent.info.run_id


def test_mlflow_shows_optunas_chart_inline(page, mlflow_ui, search, capsys):
    experiment, parent = search
    with screenshot(page, "mlflow-optuna-history-artifact", capsys):
        goto(page, f"{mlflow_ui}/#/experiments/{experiment}/runs/{parent}/artifacts/"
                   "optuna_history.html")  # fmt: skip
        frame = page.frame_locator("iframe").first
        plot = frame.locator(".plotly-graph-div")
        expect(plot).to_be_visible(timeout=TIMEOUT_MS)
        # plotly drew the trials: one marker per completed trial on the history's scatter
        points = frame.locator(".scatterlayer .point")
        expect(points.first).to_be_visible(timeout=TIMEOUT_MS)
        assert points.count() >= 10
