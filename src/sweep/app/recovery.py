"""What dead workers leave behind, cleaned up by the living: RUNNING trials whose heartbeats
stopped become FAIL (their points run again), and the child runs of failed trials, and
parents that no study records, are deleted from MLflow. Finding runs goes by the study's
unique id, so another study of the same name is never touched."""

from __future__ import annotations

from optuna.trial import TrialState

from sweep.study import study as studies
from sweep.study.heartbeats import Heartbeat, fail_stale
from sweep.study.storage import retrying
from sweep.track.records import study_runs
from sweep.track.runs import RunStore
from sweep.track.sender import Sender


class Recovery:
    """Run before each batch a worker takes, and when it is interrupted."""

    def __init__(self, study: studies.Study, heartbeat: Heartbeat, sender: Sender) -> None:
        self.study, self.heartbeat, self.sender = study, heartbeat, sender
        self.cleaned: int | None = None  # FAIL trials whose child runs are deleted

    def __call__(self) -> None:
        """Fail trials of dead workers and delete the child runs of failed trials, and any
        parent that is not the study's."""
        study = self.study
        if study.storage is not None:
            retrying(self.heartbeat.beat)  # this worker's own trials are fresh when judged
            retrying(fail_stale, study.storage, study.optuna, study.id)
        failed = retrying(study.trials, TrialState.FAIL)
        if self.cleaned is None:
            self.cleaned = retrying(study.attr, studies.CLEANED) or 0
        if len(failed) > self.cleaned:
            numbers = {t.number for t in failed}
            winner = retrying(study.attr, studies.PARENT)
            found = self.sender.call(study_runs, study.uid)
            if found.exception() is not None:  # the server is silent: clean up another time
                return
            stale = [r.run_id for r in found.result()
                     if int(r.tags.get("optuna.trial_number", -1)) in numbers
                     # the parent a dead worker created but never recorded in the study
                     or (r.tags.get("sweep.role") == "parent" and winner not in (None, r.run_id))
                     ]  # fmt: skip
            self.sender.call(RunStore.delete_runs, stale).result()
            retrying(study.optuna.set_user_attr, studies.CLEANED, len(failed))
        self.cleaned = len(failed)
