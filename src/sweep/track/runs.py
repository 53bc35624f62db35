"""What a run holds, as plain data: a `RunRecord` to write (names, strings and floats; no
torch, so it pickles and can be spooled and replayed), a `StoredRun` read back, how a
record is checked and packed into MLflow's log-batch requests, and how runs are searched.
`RunStore` is what a sweep calls to write and read runs: MLflow's `Tracker`, or the spool's
stand-in while the server is silent.

Every run carries its own key (the `sweep.run_key` tag), given before it exists, so that a
run can be found again without its id: a run created while the server was silent has only a
placeholder id, `spool-<key>`, until it reaches the server."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sweep.core.results import Outcome

MAX_ENTITIES = 1000  # MLflow's log-batch limits
MAX_PARAMS_TAGS = 100
RUN_KEY = "sweep.run_key"
PLACEHOLDER = "spool-"


@dataclass
class RunRecord:
    """Everything one MLflow run holds."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)  # step i+1 holds value i
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # file name -> content

    def key(self) -> str:
        """The run's key: given by the caller (so a call retried into the spool keeps it)."""
        return self.tags.get(RUN_KEY) or uuid.uuid4().hex

    def merge(self, more: RunRecord) -> RunRecord:
        """This record followed by `more` (what a run holds once both are written)."""
        return RunRecord(
            self.name,
            {**self.params, **more.params},
            {**self.tags, **more.tags},
            {**self.series, **more.series},
            {**self.metrics, **more.metrics},
            {**self.artifacts, **more.artifacts},
        )


@dataclass
class StoredRun:
    """A run as read back from the store (or a trial, from the study), with how it ended."""

    run_id: str
    name: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    outcome: Outcome | None = None  # None for a run that never ended


class RunStore(Protocol):
    """The calls a sweep makes on the runs of one experiment (through the sender process,
    which names them as `RunStore.create` and so on)."""

    def create(self, record: RunRecord, parent_id: str | None = None) -> str: ...
    def complete(self, run_id: str, record: RunRecord, status: str = "FINISHED") -> str: ...
    def write(self, run_id: str, record: RunRecord, tags: dict[str, str] | None = None) -> None: ...
    def reopen(self, run_id: str, record: RunRecord) -> str: ...
    def set_parent(self, run_id: str, parent_id: str) -> None: ...
    def set_status(self, run_id: str, status: str) -> None: ...
    def delete_runs(self, run_ids: list[str]) -> None: ...
    def find_runs(self, **tags: str) -> list[StoredRun]: ...
    def history(self, run_id: str, key: str) -> list[float]: ...


def check_finite(record: RunRecord) -> None:
    """MLflow stores inf as 1.8e308 and NaN breaks its run page: neither is ever sent."""
    values = [v for series in record.series.values() for v in series]
    for name, value in [*record.metrics.items(), *(("series", v) for v in values)]:
        if not math.isfinite(value):
            raise ValueError(f"run {record.name}: refusing to log non-finite {name} ({value})")


def batches(
    record: RunRecord, tags: dict[str, str], present: dict[str, set[int]] | None = None
) -> Iterator[dict[str, list[dict]]]:
    """log-batch payloads as the REST API takes them: params and tags first, then points,
    final scalars last; the steps in `present[key]` are left out."""
    now = int(time.time() * 1000)
    present = present or {}
    points = [
        {"key": key, "value": value, "timestamp": now, "step": step}
        for key, values in record.series.items()
        for step, value in enumerate(values, start=1)
        if step not in present.get(key, ())
    ]
    points += [
        {"key": k, "value": v, "timestamp": now, "step": 0}
        for k, v in record.metrics.items()
        if 0 not in present.get(k, ())
    ]
    check_finite(record)
    params = [{"key": k, "value": v} for k, v in record.params.items()]
    tag_list = [{"key": k, "value": v} for k, v in tags.items()]
    while params or tag_list or points:
        p, params = params[:MAX_PARAMS_TAGS], params[MAX_PARAMS_TAGS:]
        t, tag_list = tag_list[:MAX_PARAMS_TAGS], tag_list[MAX_PARAMS_TAGS:]
        room = MAX_ENTITIES - len(p) - len(t)
        m, points = points[:room], points[room:]
        yield {"metrics": m, "params": p, "tags": t}


def tag_filter(tags: dict[str, str]) -> str:
    """An MLflow filter string matching these tag values (keys may hold dots). MLflow's filter
    strings have no escapes: a value is quoted with the quote it lacks, and one that holds both
    kinds (a user's study name, say) is left out, for the caller to match itself."""
    return " AND ".join(f"tags.`{k}` = {_quoted(v)}" for k, v in tags.items() if _quoted(v))


def _quoted(value: str) -> str | None:
    """`value` as a filter-string literal, or None when it holds both kinds of quote."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None
