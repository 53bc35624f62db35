"""`python -m sweep`: compose the config with Hydra and hand it to `sweep.app.dispatch`.

Exit statuses: 0 done; 2 bad input or config (one line, before anything is created); 1 a
failure at run time (one line); 3 done, but some tracking data still waits in the spool (one
line naming `python -m sweep.sync`); 130 Ctrl-C; 143 SIGTERM. `HYDRA_FULL_ERROR=1` shows the
traceback instead of the line.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from sweep.core import signals
from sweep.core.defaults import mlflow_defaults
from sweep.core.redact import guard_job, guard_streams
from sweep.core.schema import register

# Shipped with the package (the top-level conf/ is a link to it), so an installed sweep runs
# from any directory; a user's own configs come in through Hydra's --config-dir.
CONFIG_DIR = os.environ.get("SWEEP_CONFIG_DIR") or str(Path(__file__).resolve().parent / "conf")
# The user's choice, kept for the sender process: this process sets HYDRA_FULL_ERROR=1 for
# itself below, so that composition errors reach `fail`.
FULL_ERROR = (
    os.environ.setdefault("SWEEP_FULL_ERROR", os.environ.get("HYDRA_FULL_ERROR", "")) == "1"
)


def fail(ex: BaseException, status: int | None = None) -> None:
    """Report `ex` as one line and exit with `status` (by default 2 for bad input, else 1),
    unless the user asked for the full traceback."""
    if FULL_ERROR:
        raise ex
    from sweep.core.errors import exit_status, one_line

    print(f"error: {one_line(ex)}", file=sys.stderr)
    raise SystemExit(exit_status(ex) if status is None else status)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from sweep.app.dispatch import run

    hydra_cfg = HydraConfig.get()
    guard_job(Path(hydra_cfg.runtime.output_dir), hydra_cfg.output_subdir)
    try:
        run(cfg)
    except Exception as ex:  # inside the job, so Hydra adds no lines of its own
        fail(ex)


def main() -> None:
    guard_streams()  # what MLflow, Optuna and SQLAlchemy print carries no URI's password
    signals.install()  # SIGTERM as Ctrl-C
    mlflow_defaults()  # inherited by the sender process
    register()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # composition errors reach us, not Hydra's printer
    try:
        app()
    except Exception as ex:  # composing the config failed: whatever it was, the input is bad
        fail(ex, 2)
    except KeyboardInterrupt as ex:  # what was interrupted has said so; no traceback
        raise SystemExit(signals.exit_status(ex)) from None
    finally:
        # Python's exit runs full collections over every object still alive: with torch,
        # MLflow and pandas imported that took over a second after the work was done.
        gc.freeze()


if __name__ == "__main__":
    main()
