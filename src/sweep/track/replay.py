"""Sending the spool: each spooled call's idempotent twin (`replay_<method>`, which
`spool.replay` looks up), so an entry applied twice (a replay killed between applying it and
deleting it) changes nothing the second time. Placeholders in an entry are resolved first."""

from __future__ import annotations

from sweep.track.runs import PLACEHOLDER, RunRecord
from sweep.track.spool import Resolver
from sweep.track.tracker import Tracker


class Replayer:
    def __init__(self, tracker: Tracker, resolver: Resolver | None = None) -> None:
        self.tracker = tracker
        self.resolver = resolver or Resolver(tracker)

    def replay_create(self, record: RunRecord, parent_id: str | None) -> str:
        placeholder = PLACEHOLDER + record.key()
        run_id = self.resolver.run_id(placeholder)
        if run_id == placeholder:  # not on the server yet
            run_id = self.tracker.create(record, self.resolver.run_id(parent_id))
            self.resolver.known[placeholder] = run_id
        else:
            self.replay_write(run_id, record, record.tags)
        return run_id

    def replay_complete(self, run_id: str, record: RunRecord, status: str) -> None:
        self.replay_write(run_id, record, record.tags)
        self.replay_set_status(run_id, status)

    def replay_write(self, run_id: str, record: RunRecord, tags: dict[str, str] | None) -> None:
        """`write`, leaving out the metric steps the run already holds."""
        run_id = self.resolver.run_id(run_id)
        client = self.tracker.client
        present = {key: {m.step for m in client.get_metric_history(run_id, key)}
                   for key in record.series}  # fmt: skip
        if record.metrics:  # scalars, at step 0: sent again only if the value is not there
            logged = client.get_run(run_id).data.metrics
            present |= {k: {0} for k, v in record.metrics.items() if logged.get(k) == v}
        self.tracker.write(run_id, record, tags, present)

    # Already idempotent: reopening, moving, ending and deleting a run twice change nothing.
    def replay_reopen(self, run_id: str, record: RunRecord) -> str:
        return self.tracker.reopen(*self.resolver.args((run_id, record)))

    def replay_set_parent(self, run_id: str, parent_id: str) -> None:
        self.tracker.set_parent(*self.resolver.args((run_id, parent_id)))

    def replay_set_status(self, run_id: str, status: str) -> None:
        self.tracker.set_status(self.resolver.run_id(run_id), status)

    def replay_delete_runs(self, run_ids: list[str]) -> None:
        self.tracker.delete_runs(*self.resolver.args((run_ids,)))
