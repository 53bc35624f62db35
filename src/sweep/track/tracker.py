"""MLflow, behind one narrow interface: what a run holds is a `RunRecord`, written by a
`Tracker` (a sweep's writes go through `sweep.track.sender`, which runs a Tracker in its own
process).

Records are plain data (names, strings and floats; no torch), so what is sent can be pickled,
spooled to disk and replayed. Per-epoch points travel in log-batch requests of at most 1000
entities: against a tracking server a request costs milliseconds whatever it carries, so
requests, not points, are the cost.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from sweep.core.config import ConfigError
from sweep.core.locks import file_lock, sqlite_path
from sweep.core.results import Outcome
from sweep.track import _mlflow as mlflow_internals
from sweep.track.reachable import check_reachable
from sweep.track.runs import RUN_KEY, RunRecord, StoredRun, batches, check_finite, tag_filter


class Tracker:
    """One MLflow experiment on one tracking store."""

    def __init__(self, uri: str, experiment: str, create: bool = True) -> None:
        from mlflow.tracking import MlflowClient

        check_reachable(uri)
        self.uri = uri
        # A fresh SQLite store is migrated by its first user; workers that start together take
        # turns (MLflow's migration is not safe to run twice at once).
        path = sqlite_path(uri) if uri.startswith("sqlite:") else None
        with file_lock(path.with_name(path.name + ".lock")) if path else contextlib.nullcontext():
            self.client = MlflowClient(tracking_uri=uri)
            self.send_batch = mlflow_internals.log_batch_sender(self.client)  # once, not per batch
            self.experiment_id = self._experiment(experiment, create)
        self.artifact_uris: dict[str, str] = {}  # of the runs this tracker created

    def _experiment(self, name: str, create: bool) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is None and not create:
            raise ConfigError("experiment", f"no MLflow experiment '{name}' at {self.uri}")
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:  # another worker created it first
            return self.client.get_experiment_by_name(name).experiment_id

    def log_run(self, record: RunRecord, parent_id: str | None = None) -> str:
        """Create, fill and finish one run."""
        check_finite(record)
        return self.complete(self.create(RunRecord(record.name), parent_id), record)

    def create(self, record: RunRecord, parent_id: str | None = None) -> str:
        """A new RUNNING run holding `record`; one that fails half-way is marked FAILED."""
        tags = {**record.tags, RUN_KEY: record.key()}  # how a replay finds it again
        if parent_id is not None:
            tags["mlflow.parentRunId"] = parent_id
        check_finite(record)  # before the run exists: a refused record leaves nothing behind
        run = self.client.create_run(self.experiment_id, run_name=record.name, tags=tags)
        self.artifact_uris[run.info.run_id] = run.info.artifact_uri
        self._fill(run.info.run_id, record, {})  # its tags came with it
        return run.info.run_id

    def complete(self, run_id: str, record: RunRecord, status: str = "FINISHED") -> str:
        """Add `record` to a run created earlier and end it (a record with a non-finite value
        is refused by `batches` before any request, and the run is marked FAILED)."""
        self._fill(run_id, record, record.tags)
        self.client.set_terminated(run_id, status)
        return run_id

    def _fill(self, run_id: str, record: RunRecord, tags: dict[str, str]) -> None:
        try:
            self.write(run_id, record, tags)
        except BaseException as ex:  # an interrupted run ends KILLED, a broken one FAILED
            interrupted = isinstance(ex, KeyboardInterrupt)
            self.client.set_terminated(run_id, "KILLED" if interrupted else "FAILED")
            raise

    def write(
        self, run_id: str, record: RunRecord, tags: dict[str, str] | None = None,
        present: dict[str, set[int]] | None = None,
    ) -> None:  # fmt: skip
        """Add a record's params, tags, metrics and artifacts to an existing run (leaving out
        the metric steps in `present`)."""
        for batch in batches(record, record.tags if tags is None else tags, present):
            self._log_batch(run_id, batch)
        if not record.artifacts:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in record.artifacts.items():
                (Path(tmp) / name).write_bytes(content)
            artifact_uri = self.artifact_uris.get(run_id)
            if artifact_uri is None:
                self.client.log_artifacts(run_id, tmp)
            else:  # known since create_run: saves the client a get-run request per write
                mlflow_internals.artifact_repository(artifact_uri, self.uri).log_artifacts(tmp)

    def _log_batch(self, run_id: str, batch: dict[str, list[dict]]) -> None:
        """One log-batch request; against a server its JSON is written here (CPU that a
        sweep's machine would rather give the server: see `_mlflow`)."""
        if self.send_batch is not None:
            self.send_batch(json.dumps({"run_id": run_id, **batch}))
            return
        from mlflow.entities import Metric, Param, RunTag

        self.client.log_batch(run_id, metrics=[Metric(**m) for m in batch["metrics"]],
                              params=[Param(**p) for p in batch["params"]],
                              tags=[RunTag(**t) for t in batch["tags"]])  # fmt: skip

    def reopen(self, run_id: str, record: RunRecord) -> str:
        """A sweep's parent, RUNNING again with `record`'s tags refreshed; a new run holding
        `record` when that run is gone (deleted in the UI, or another tracking store)."""
        from mlflow.exceptions import MlflowException

        try:
            gone = self.client.get_run(run_id).info.lifecycle_stage == "deleted"
        except MlflowException:
            gone = True
        if gone:
            return self.create(record)
        self.set_status(run_id, "RUNNING")
        tags = {k: v for k, v in record.tags.items() if k != RUN_KEY}  # it keeps its own key
        self.write(run_id, RunRecord(record.name, tags=tags))
        return run_id

    def set_parent(self, run_id: str, parent_id: str) -> None:
        """Move a run under another parent (the parent is a tag)."""
        self.client.set_tag(run_id, "mlflow.parentRunId", parent_id)

    def set_status(self, run_id: str, status: str) -> None:
        """RUNNING again (a resumed parent), or FINISHED / FAILED / KILLED with an end time."""
        if status == "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        else:
            self.client.set_terminated(run_id, status)

    def find_runs(self, **tags: str) -> list[StoredRun]:
        """Active runs of the experiment whose tags have these values (keys may hold dots)."""
        from mlflow.entities import ViewType

        found, token = [], None  # values tag_filter cannot quote are matched below
        while True:
            page = self.client.search_runs(
                [self.experiment_id], tag_filter(tags), ViewType.ACTIVE_ONLY,
                max_results=1000, page_token=token,
            )  # fmt: skip
            found += [
                StoredRun(r.info.run_id, r.info.run_name, r.info.status, r.data.params,
                          r.data.metrics, r.data.tags,
                          Outcome.from_run(r.data.metrics, r.data.tags))
                for r in page if all(r.data.tags.get(k) == v for k, v in tags.items())
            ]  # fmt: skip
            token = page.token
            if not token:
                return found

    def history(self, run_id: str, key: str) -> list[float]:
        points = self.client.get_metric_history(run_id, key)
        points = sorted(points, key=lambda m: m.step)
        return [m.value for m in points]

    def delete_runs(self, run_ids: list[str]) -> None:
        """Delete these runs; one already deleted (by another worker) is no error."""
        from mlflow.exceptions import MlflowException

        for run_id in run_ids:
            try:
                self.client.delete_run(run_id)
            except MlflowException:
                if self.client.get_run(run_id).info.lifecycle_stage != "deleted":
                    raise
