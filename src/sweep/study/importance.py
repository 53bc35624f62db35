"""What mattered in a search: Optuna's parameter importances and Optuna's own interactive
charts, for the parent run (the charts as HTML artifacts, which the MLflow UI shows inline).

Only for a sampler's search (a grid has no question of what to try next) with at least
`MIN_TRIALS` completed trials: fewer say nothing an importance could be trusted with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

MIN_TRIALS = 10
CAP = 1e6
TARGET = "objective"
CHARTS = {
    "optuna_history.html": "plot_optimization_history",
    "optuna_parallel_coordinate.html": "plot_parallel_coordinate",
    "optuna_importances.html": "plot_param_importances",
    "optuna_slice.html": "plot_slice",
}


@dataclass
class Insights:
    importances: dict[str, float] = field(default_factory=dict)  # param -> share, summing to 1
    charts: dict[str, bytes] = field(default_factory=dict)  # file name -> self-contained HTML


def insights(study: optuna.Study) -> Insights:
    """Importances (fANOVA, seeded so that a rerun gives the same numbers) and the charts."""
    from optuna import visualization
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS:
        return Insights()
    evaluator = FanovaImportanceEvaluator(seed=0)
    found = Insights(get_param_importances(study, evaluator=evaluator))
    # The charts show values capped at CAP x the best (a diverged trial's penalty, up to
    # 1e37, would squash every other point flat), as the PNG charts do; importances are
    # computed on, and charted with, the true values.
    cap = min(t.value for t in complete) * CAP
    capped = {
        "target": lambda t: min(t.value, cap),
        "target_name": f"{TARGET} (capped at {cap:.3g})",
    }
    for name, plot in CHARTS.items():
        kwargs = {"evaluator": evaluator} if plot == "plot_param_importances" else capped
        figure = getattr(visualization, plot)(study, **kwargs)
        # plotly.js inside each file: the MLflow UI shows artifacts offline, in a sandbox
        found.charts[name] = figure.to_html(include_plotlyjs=True, full_html=True).encode()
    return found
