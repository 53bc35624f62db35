"""Process-wide settings of the libraries, applied by the entry points (`python -m sweep`,
`sweep.sync`, `sweep.report`), never on import: a program that embeds the package keeps its
own. The environment variables are defaults: a user who sets one keeps theirs."""

from __future__ import annotations

import os
import warnings


def mlflow_defaults() -> None:
    """MLflow's usage telemetry wraps every client call, and ending a run against a server
    fetches the run again only to print its link: a sweep makes thousands of calls and ends
    hundreds of runs. Users who want either back set the variable themselves."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # Logging a model looks for git (for source tags); where there is none (the image), GitPython
    # would print a nine-line warning into the sweep's output.
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def optuna_defaults() -> None:
    """A sweep's progress line says what Optuna's per-trial INFO lines would; and Optuna warns
    that heartbeats are meant for `optimize`, while a sweep asks, beats and tells itself."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
