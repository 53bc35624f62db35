"""Is the tracking store usable at all? Asked before anything is created, so a wrong address
or wrong credentials cost one line and nothing half-written, instead of MLflow's client
retrying each request for minutes."""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from sweep.core.config import ConfigError
from sweep.core.redact import redact


class Unreachable(ConfigError):
    """The tracking server does not answer (at start: bad input; later: the spool's cue)."""


def is_remote(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https")


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, as `tracking.uri`, when the tracking store cannot be used at all: a server
    that does not answer, or that refuses this process's credentials."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        path = Path(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if str(path) not in ("", ":memory:") and not path.parent.resolve().is_dir():
            raise ConfigError("tracking.uri", f"no directory for the SQLite file in {uri}")
    if not is_remote(uri):
        return
    host = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl().rstrip("/")
    try:
        _get(f"{host}/health", _authorization(parts), timeout)
    except urllib.error.HTTPError as ex:
        if ex.code >= 500:
            raise Unreachable("tracking.uri", f"cannot reach MLflow at {redact(uri)} "
                              f"(HTTP {ex.code})") from None  # fmt: skip
    except (urllib.error.URLError, OSError) as ex:
        reason = str(getattr(ex, "reason", ex))
        raise Unreachable(
            "tracking.uri", f"cannot reach MLflow at {redact(uri)} ({reason})"
        ) from None
    try:  # /health answers anyone; the API says whether these credentials are welcome
        _get(f"{host}/api/2.0/mlflow/experiments/search?max_results=1", _authorization(parts),
             timeout)  # fmt: skip
    except urllib.error.HTTPError as ex:
        if ex.code in (401, 403):
            raise ConfigError(
                "tracking.uri",
                f"MLflow at {redact(uri)} refused this sweep's credentials (HTTP {ex.code}); set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
            ) from None
    except (urllib.error.URLError, OSError):
        pass  # it answered /health a moment ago; MLflow's client retries what fails now


def _authorization(parts) -> str | None:
    """The header MLflow's client would send: credentials from the URI, else its variables."""
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
    user = parts.username or os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = parts.password or os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    if not user:  # unset or empty, as MLflow's client reads them
        return None
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _get(url: str, authorization: str | None, timeout: float) -> None:
    request = urllib.request.Request(url)
    if authorization:
        request.add_header("Authorization", authorization)
    with urllib.request.urlopen(request, timeout=timeout):
        pass
