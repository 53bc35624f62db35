"""`python -m sweep`: compose the config with Hydra and hand it to `sweep.launch.launcher`.

Errors are one line with an exit status from the table in `sweep.core.errors` (3: done, but
some tracking data waits in the spool, for `python -m sweep.sync`); `HYDRA_FULL_ERROR=1` shows
the traceback instead of the line.
"""

from __future__ import annotations

import gc
import os
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


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from sweep.core.errors import fail
    from sweep.launch.launcher import run

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
    from sweep.core.errors import fail

    # The user's choice, kept (also for the sender process) before composition errors are
    # routed to us rather than to Hydra's printer.
    os.environ.setdefault("SWEEP_FULL_ERROR", os.environ.get("HYDRA_FULL_ERROR", ""))
    os.environ["HYDRA_FULL_ERROR"] = "1"
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
