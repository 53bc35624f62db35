"""The study wing (Optuna): the study, its space, samplers and pruners, its storage, and
what workers claim. Optuna's private parts stay in `_optuna`.

`__all__` lists the modules other packages may import."""

__all__ = ["claims", "heartbeats", "importance", "samplers", "space", "storage", "study"]
