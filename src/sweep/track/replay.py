"""Sending the spool: a `Tracker` that also knows each spooled call's idempotent twin
(`replay_<method>`, which `spool.replay` looks up), so an entry applied twice (a replay killed
between applying it and deleting it) changes nothing the second time."""

from __future__ import annotations

from sweep.track.runs import RunRecord
from sweep.track.spool import PLACEHOLDER, RUN_KEY
from sweep.track.tracker import Tracker


class Replayer(Tracker):
    def replay_create(self, record: RunRecord, parent_id: str | None) -> str:
        placeholder = PLACEHOLDER + record.tags[RUN_KEY]
        try:
            run_id = self.resolve(placeholder)
        except LookupError:
            return self.create(record, parent_id)
        self.replay_write(run_id, record, record.tags)
        return run_id

    def replay_complete(self, run_id: str, record: RunRecord, status: str) -> None:
        self.replay_write(run_id, record, record.tags)
        self.set_status(run_id, status)

    def replay_write(self, run_id: str, record: RunRecord, tags: dict[str, str] | None) -> None:
        """`write`, leaving out the metric steps the run already holds."""
        run_id = self.resolve(run_id)
        present = {key: {m.step for m in self.client.get_metric_history(run_id, key)}
                   for key in record.series}  # fmt: skip
        if record.metrics:  # scalars, at step 0: sent again only if the value is not there
            logged = self.client.get_run(run_id).data.metrics
            present |= {k: {0} for k, v in record.metrics.items() if logged.get(k) == v}
        self.write(run_id, record, tags, present)

    # Already idempotent: reopening, moving, ending and deleting a run twice change nothing.
    replay_reopen = Tracker.reopen
    replay_set_parent = Tracker.set_parent
    replay_set_status = Tracker.set_status
    replay_delete_runs = Tracker.delete_runs
