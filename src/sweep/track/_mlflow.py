"""Every use of MLflow's private or undocumented parts, in one place, each with its reason.

Checked against MLflow 3.17.2 (`CHECKED`). `tests/track/test__mlflow.py` exercises each one
against a real tracking server and fails on an MLflow whose version or internals differ,
rather than letting a sweep silently fall back to a path ten times slower. Everything else in
the package uses MLflow's public API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

CHECKED = "3.17.2"


def log_batch_sender(client: Any) -> Callable[[str], Any] | None:
    """When the client talks to a tracking server, a function that sends one log-batch request
    whose JSON the caller wrote (None for a local store): MLflow's protobuf entities cost ten
    times more client CPU per point (a quarter of a sweep's client CPU); MLflow still sends it,
    with its authentication, retries and error handling."""
    from mlflow.protos.service_pb2 import LogBatch
    from mlflow.store.tracking.rest_store import RestStore

    store = client._tracking_client.store
    if not isinstance(store, RestStore):
        return None
    return functools.partial(store._call_endpoint, LogBatch)


def artifact_repository(artifact_uri: str, tracking_uri: str) -> Any:
    """The repository behind a run's artifact location, known since the run was created:
    `MlflowClient.log_artifacts` fetches the run first, one request more per write."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)


def get_as_client(uri: str, endpoint: str, timeout: float) -> int:
    """The HTTP status of one GET of `endpoint` on the tracking server at `uri`, sent the way
    MLflow's client sends its requests, with no retry: credentials by MLflow's own lookup (the
    URI's, MLFLOW_TRACKING_USERNAME/PASSWORD, ~/.mlflow/credentials, MLFLOW_TRACKING_TOKEN,
    MLFLOW_TRACKING_AUTH, AWS SigV4), its TLS settings (MLFLOW_TRACKING_INSECURE_TLS, server and
    client certificates) and its request headers. `get_default_host_creds` is what the client's
    REST store is built with; neither it nor `http_request` is documented. A server that does
    not answer raises OSError, with the innermost reason (`[Errno 111] Connection refused`)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        response = http_request(
            get_default_host_creds(uri), endpoint, "GET", max_retries=0, backoff_factor=0,
            backoff_jitter=0, timeout=timeout, raise_on_status=False,
        )  # fmt: skip
    except MlflowException as ex:  # MLflow wraps requests' errors, the cause kept in the chain
        inner: BaseException = ex
        while (cause := inner.__cause__ or inner.__context__) is not None:
            inner = cause
        raise OSError(str(inner)) from None
    response.close()
    return response.status_code
