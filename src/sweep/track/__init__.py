"""The tracking wing (MLflow): run records, the tracker, the sender and its spool, the
registry, tables and plots. Imports no torch; MLflow's private parts stay in `_mlflow`.

`__all__` lists the modules other packages may import."""

__all__ = [
    "link",
    "plots",
    "reachable",
    "records",
    "registry",
    "replay",
    "runs",
    "sender",
    "spool",
    "table",
    "tracker",
]
