"""What every wing shares: settings and their checks, the trial, the outcome, errors,
locks, signals. Imports no torch, MLflow or Optuna.

`__all__` lists the modules other packages may import."""

__all__ = [
    "config",
    "defaults",
    "errors",
    "locks",
    "progress",
    "redact",
    "results",
    "schema",
    "signals",
    "trials",
]
