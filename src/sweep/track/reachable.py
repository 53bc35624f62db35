"""Is the tracking store usable at all? Asked before anything is created, so a wrong address
or wrong credentials cost one line and nothing half-written, instead of MLflow's client
retrying each request for minutes.

Each question is asked anonymously with urllib first: fast, with no MLflow to import, and all
that a server without authentication needs. Over TLS, or when the server asks who is calling
(401, 403), it is asked again the way MLflow's client asks (`_mlflow.get_as_client`), with the
credentials and TLS settings MLflow itself finds: the check refuses no setup MLflow accepts."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from sweep.core.config import ConfigError
from sweep.core.redact import redact
from sweep.track import _mlflow as mlflow_internals

HEALTH = "/health"  # answers anyone, also on a server with basic auth
API = "/api/2.0/mlflow/experiments/search?max_results=1"  # says whether the caller is welcome
ASKS_WHO = (401, 403)


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
    try:
        status = _get(uri, HEALTH, timeout)
    except OSError as ex:
        reason = redact(str(getattr(ex, "reason", ex)))
        raise Unreachable(
            "tracking.uri", f"cannot reach MLflow at {redact(uri)} ({reason})"
        ) from None
    if status >= 500:
        raise Unreachable("tracking.uri", f"cannot reach MLflow at {redact(uri)} (HTTP {status})")
    try:
        status = _get(uri, API, timeout)
    except OSError:
        return  # it answered /health a moment ago; MLflow's client retries what fails now
    if status in ASKS_WHO:
        raise ConfigError(
            "tracking.uri",
            f"MLflow at {redact(uri)} refused this sweep's credentials (HTTP {status}); set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
        )


def _get(uri: str, endpoint: str, timeout: float) -> int:
    """The HTTP status of GET `endpoint`: anonymously over plain HTTP, then, over TLS or when the
    server asks who is calling, as MLflow's client would send it (OSError: no answer)."""
    parts = urlsplit(uri)
    if parts.scheme == "http":
        # The URI's own credentials, if any, are MLflow's to send: the anonymous URL drops them.
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl().rstrip("/")
        status = _anonymous_get(bare + endpoint, timeout)
        if status not in ASKS_WHO:
            return status
    return mlflow_internals.get_as_client(uri, endpoint, timeout)


def _anonymous_get(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as ex:
        ex.close()
        return ex.code
    except http.client.HTTPException as ex:  # something answers, but not in HTTP
        raise OSError(f"no HTTP answer: {ex!r}") from None
