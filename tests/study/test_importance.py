"""What mattered: a search's parent run holds Optuna's parameter importances and Optuna's own
charts (self-contained HTML that carries the study's data)."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import optuna

from sweep.study.importance import CHARTS, insights

from conftest import client_for, run_sweep, runs_of

KEYS = {"optimizer.lr", "normalization", "train.epochs"}  # tpe_search's space


class Scripts(HTMLParser):
    """The text of every <script> and the classes of every <div> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.divs: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        if tag == "div":
            self.divs.append(dict(attrs).get("class", ""))
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def plot_data(html: str) -> list[dict]:
    """The traces passed to Plotly.newPlot in the page."""
    page = Scripts()
    page.feed(html)
    assert any("plotly-graph-div" in c for c in page.divs)
    [script] = [s for s in page.scripts if "Plotly.newPlot(" in s]
    start = script.index(",", script.index("Plotly.newPlot(")) + 1
    data, _ = json.JSONDecoder().raw_decode(script[start:].lstrip())
    return data


def test_a_search_records_importances_and_optunas_charts(tmp_path, mlflow_server):
    done = run_sweep("+experiment=tpe_search", "sweep.n_trials=40", "name=mattered",
                     f"tracking.uri={mlflow_server}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Parameter importances (Optuna, fANOVA): " in done.stdout
    [parent] = [
        r for r in runs_of(mlflow_server, "mattered") if "mlflow.parentRunId" not in r.data.tags
    ]
    shares = {k.removeprefix("importance."): v for k, v in parent.data.metrics.items()
              if k.startswith("importance.")}  # fmt: skip
    assert set(shares) == KEYS
    assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6)
    study = optuna.load_study(study_name="mattered", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]

    folder = client_for(mlflow_server).download_artifacts(parent.info.run_id, "", str(tmp_path))
    pages = {name: (tmp_path / name).read_text() for name in CHARTS}
    assert folder and all(len(page) > 1_000_000 for page in pages.values())  # plotly.js inside
    history = plot_data(pages["optuna_history.html"])
    cap = min(t.value for t in complete) * 1e6  # a diverged trial's penalty would squash it
    objective = next(t for t in history if t.get("name", "").startswith("objective (capped at"))
    assert len(objective["y"]) == len(complete)
    assert sorted(objective["y"]) == sorted(min(t.value, cap) for t in complete)
    assert max(t.value for t in complete) > cap  # this search has diverged trials
    bars = plot_data(pages["optuna_importances.html"])[0]
    assert set(bars["y"]) == KEYS  # the same importances, as the chart shows them
    shown = dict(zip(bars["y"], bars["x"], strict=True))
    for key, share in shares.items():
        assert math.isclose(shown[key], share, abs_tol=1e-2)
    for name in ("optuna_parallel_coordinate.html", "optuna_slice.html"):
        assert all(re.search(re.escape(key), pages[name]) for key in KEYS), name


def test_too_few_trials_say_nothing():
    study = optuna.create_study()
    space = {"x": optuna.distributions.FloatDistribution(0, 9)}
    for x in range(9):
        study.add_trial(optuna.trial.create_trial(params={"x": float(x)}, distributions=space,
                                                  value=float(x)))  # fmt: skip
    assert insights(study).importances == {} and insights(study).charts == {}
