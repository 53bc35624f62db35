"""The orchestration on top of the wings: a composed config becomes one run or a sweep
(plan, take a batch, train, track, tell), with its parent run and recovery.

`__all__` lists the modules other packages may import."""

__all__ = ["dispatch", "parent", "plan", "recovery", "summary", "sweeper"]
