"""Launching workers, above the sweep: this process is the one worker (`launcher=none`), or it
starts `launcher.workers` of them on this machine (`local`) or submits them to SLURM as one job
array (`slurm`), then follows the study until it is done. Every launched worker runs the same
`python -m sweep` command with `launcher=none`: the study in its database stays the only
coordination.

`__all__` lists the modules other packages may import."""

__all__ = ["jobs", "launcher", "local", "slurm", "watch"]
