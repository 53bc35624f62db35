"""The training wing (torch): the lecture's loop for a batch of trials and the data it
reads. Knows nothing of MLflow or Optuna.

`__all__` lists the modules other packages may import."""

__all__ = ["batching", "bookkeeping", "data", "lecture", "normalize", "optimizers", "trainer"]
