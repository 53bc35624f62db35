"""Every entry point's one error path (`python -m sweep`, `sweep.sync`, `sweep.report`): a
failure becomes the one line a user reads on stderr, and an exit status from one table.

Hydra prints several lines (search path, hints) for a bad override; users of this tool get
one line naming the key or file and what is allowed. `HYDRA_FULL_ERROR=1` keeps the traceback.

Exit statuses: 0 done; 2 bad input or config (found before anything is created); 1 a failure
at run time; 3 done, but some tracking data still waits in the spool; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import NoReturn

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from sweep.core.config import ConfigError
from sweep.core.redact import redact


class Spooled(RuntimeError):
    """The sweep finished, but some of its tracking data waits in the spool (exit status 3)."""


def full_traceback() -> bool:
    """Did the user ask for tracebacks instead of lines? `python -m sweep` sets HYDRA_FULL_ERROR
    for itself (so that composition errors reach it), after keeping the user's choice in
    SWEEP_FULL_ERROR, which its sender process inherits too."""
    return os.environ.get("SWEEP_FULL_ERROR", os.environ.get("HYDRA_FULL_ERROR", "")) == "1"


def fail(ex: BaseException, status: int | None = None) -> NoReturn:
    """End an entry point on `ex`: one line and the table's status (or `status`), or the
    traceback when the user asked for it."""
    if full_traceback():
        raise ex
    print(f"error: {one_line(ex)}", file=sys.stderr)
    raise SystemExit(exit_status(ex) if status is None else status) from None


def one_line(ex: BaseException) -> str:
    """The message for `ex`, on one line, starting with the offending key or file, with no
    password of any URI in it."""
    cause = ex.__cause__ if isinstance(ex.__cause__, OmegaConfBaseException) else ex
    if isinstance(ex, ConfigError):
        text = str(ex)
    elif isinstance(ex, MissingConfigException) and ex.options:
        found = re.search(r"'([^']+)/([^'/]+)'", str(ex))
        group, option = found.groups() if found else ("config", str(ex.missing_cfg_file))
        group = group.lstrip("/")
        text = f"{group}: unknown option '{option}'; allowed: {', '.join(sorted(ex.options))}"
    elif isinstance(cause, MissingMandatoryValue):
        text = f"{cause.full_key}: a value is required (set {cause.full_key}=...)"
    elif isinstance(cause, ConfigKeyError | ConfigAttributeError) and cause.full_key:
        text = f"{cause.full_key}: unknown key{_allowed_keys(cause.object_type)}"
    elif isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        text = f"{cause.full_key}: {_first_line(cause)}"
    elif isinstance(ex, OverrideParseException):
        text = f"override: {_first_line(ex)}"
    else:
        text = _first_line(ex) or type(ex).__name__
    return redact(" ".join(text.split()))


def exit_status(ex: BaseException) -> int:
    """2 for bad input or config (found before anything is created), 3 for a finished sweep
    whose tracking data is partly still in the spool, 1 for anything else."""
    if isinstance(ex, Spooled):
        return 3
    config = (ConfigError, HydraException, OmegaConfBaseException)
    return 2 if isinstance(ex, config) or isinstance(ex.__cause__, config) else 1


def _first_line(ex: BaseException) -> str:
    lines = [line for line in str(ex).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _allowed_keys(schema: object) -> str:
    if not dataclasses.is_dataclass(schema):
        return ""
    names = [f.name for f in dataclasses.fields(schema)]
    return f"; allowed: {', '.join(names)}" if names else "; this option takes no settings"
