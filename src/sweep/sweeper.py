"""A sweep: batches of trials asked from the Optuna study, trained as one graph, logged to
MLflow as children of one parent run, then told to the study.

Order per trial: train, log the child run completely, store its run id on the trial, tell.
A worker killed in between leaves a RUNNING trial whose heartbeat stops; whoever runs the
sweep next fails it, deletes its half-logged child run, and runs the point again.
"""

from __future__ import annotations

import gc
import logging
import time

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from optuna.trial import TrialState

from sweep import study as studies
from sweep.engine import load_data, run_name, train_trials
from sweep.heartbeats import Heartbeat, fail_stale
from sweep.parent import Parent
from sweep.plan import plan_sweep
from sweep.progress import Progress
from sweep.records import Trial, begin_run, end_run
from sweep.results import RunResult
from sweep.sender import Sender
from sweep.tracking import check_reachable

log = logging.getLogger(__name__)


def run_sweep(cfg: DictConfig, choices: dict[str, str], sender: Sender) -> None:
    plan = plan_sweep(cfg)
    check_reachable(cfg.tracking.uri)
    study = studies.open_study(cfg.sweep, plan.max_epochs)
    sweep = Sweep(cfg, choices, plan.space, plan.composer, study, plan.grid, sender)
    # What is imported and built by now lives until exit: spare every collection a pass over it.
    gc.freeze()
    try:
        sweep.run(plan.total)
    except KeyboardInterrupt:
        sweep.interrupted()
        raise SystemExit(130) from None
    except Exception:
        sweep.failed()
        raise
    finally:
        sweep.heartbeat.stop.set()
    sweep.finish(HydraConfig.get().runtime.output_dir)


class Sweep:
    def __init__(self, cfg, choices, space, composer, study, grid, sender: Sender) -> None:
        self.cfg, self.space, self.composer = cfg, space, composer
        self.study, self.grid, self.sender = study, grid, sender
        self.heartbeat = Heartbeat(study, cfg.sweep.heartbeat_interval)
        # The parent run opens in the sender process while this one asks and trains.
        self.parent = Parent(sender, study, cfg, choices, space)
        self.in_flight: list[list] = []  # [optuna trial, result, logging future]
        self.trained, self.train_seconds = 0, 0.0
        self.curves: dict[str, list[float]] = {}  # run id -> loss curve, for the parent's plot
        self.cleaned: set[int] = set()  # failed trials whose child runs are already deleted

    def count(self, *states: TrialState) -> int:
        return studies.count(self.study, states, self.grid)

    def best(self) -> float | None:
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return min((t.value for t in done), default=None)

    def run(self, total: int) -> None:
        progress = Progress(total, self.count(*studies.DONE))
        try:
            while True:
                # A dead worker's trials fail here and their half-logged child runs go, before
                # their grid points are queued again.
                self.recover()
                if self.grid is not None:
                    missing = studies.missing_grid_points(self.study, self.grid)
                    studies.enqueue(self.study, missing, self.space.distributions)
                done, running = self.count(*studies.DONE), self.count(TrialState.RUNNING)
                room = total - done - running
                if self.grid is not None:
                    room = min(room, self.count(TrialState.WAITING))
                if room > 0:
                    progress.update(self.batch(min(room, self.cfg.sweep.batch_size)), self.best())
                elif running == 0:
                    return
                else:  # trials of other workers, or of a dead one whose heartbeat will expire
                    time.sleep(self.cfg.sweep.heartbeat_interval)
        finally:
            progress.close()

    def batch(self, size: int) -> int:
        """Ask `size` trials, train them as one graph, log them, tell them."""
        self.in_flight, trials, runs = [], [], []
        # Queued grid trials already hold their values; a sampler chooses them as it is asked.
        if self.grid is not None:
            asking = iter(studies.claim(self.study, size, self.space.distributions))
        else:
            asking = (self.study.ask(self.space.distributions) for _ in range(size))
        for optuna_trial in asking:
            self.in_flight.append([optuna_trial, None, None])
            config, choices = self.composer.compose(optuna_trial.params)
            name = run_name(config, choices, optuna_trial.number)
            trials.append(Trial(name, config, choices, optuna_trial.number))
            # Its child run is created (params, tags, config) while the rest are asked and trained.
            tags = self.parent.child_tags(trials[-1])
            runs.append(self.sender.call(begin_run, trials[-1], tags, self.parent.pending))
        asked = [slot[0] for slot in self.in_flight]
        self.heartbeat.add(asked)
        on_report = None if self.cfg.sweep.pruner.kind == "none" else _reporter(asked)

        def ended(i: int, result: RunResult) -> None:  # shipped while longer trials train
            self.in_flight[i][1:] = [result, self.sender.call(end_run, runs[i], trials[i], result)]

        data = load_data(trials)  # the first batch imports torch here
        started = time.perf_counter()
        train_trials(trials, data, self.cfg.sweep.report_every, on_report, ended)
        self.train_seconds += time.perf_counter() - started
        self.parent.prepare()
        while self.in_flight:
            optuna_trial, result, future = self.in_flight[0]
            run_id = future.result()
            if result.status == "completed":
                self.curves[run_id] = result.losses
            studies.tell(self.study, optuna_trial, result, run_id)
            self.in_flight.pop(0)
            self.trained += 1
        self.heartbeat.remove(asked)
        return len(asked)

    def recover(self) -> None:
        """Fail trials of dead workers and delete the child runs of failed trials."""
        fail_stale(self.study, self.cfg.sweep.grace_period)
        states = (TrialState.FAIL,)
        failed = {t.number for t in self.study.get_trials(deepcopy=False, states=states)}
        if failed - self.cleaned:
            children = self.parent.children()
            stale = [r for r in children if int(r.tags["optuna.trial_number"]) in failed]
            self.parent.tracker.delete_runs([r.run_id for r in stale])
            self.cleaned |= failed

    def interrupted(self) -> None:
        """Ctrl-C: let the batch's logging finish and tell what was logged; fail the rest
        (their runs, begun but never ended, are deleted)."""
        self.sender.close()  # waits until the batch's runs are logged and ended
        for optuna_trial, result, future in self.in_flight:
            if future is not None and future.exception() is None:
                studies.tell(self.study, optuna_trial, result, future.result())
                self.trained += 1
            else:
                self.study.tell(optuna_trial, state=TrialState.FAIL)
        self.recover()
        self.parent.interrupted()

    def failed(self) -> None:
        """An error: the parent (if it was created) is marked FAILED, not left RUNNING."""
        self.sender.close()
        pending = self.parent.pending
        if pending.done() and pending.exception() is None:
            self.parent.tracker.set_status(self.parent.run_id, "FAILED")

    def finish(self, output_dir: str) -> None:
        started = time.perf_counter()
        self.sender.close()
        self.parent.finish(self.trained, output_dir, self.curves)
        log.info("timings: training %.2f s, parent summary %.2f s",
                 self.train_seconds, time.perf_counter() - started)  # fmt: skip


def _reporter(asked: list):
    """Per-epoch reports to Optuna; the trainer stops the runs the pruner prunes."""

    def on_report(epoch: int, losses: dict[int, float]) -> set[int]:
        pruned = set()
        for i, loss in losses.items():
            asked[i].report(loss, epoch)
            if asked[i].should_prune():
                pruned.add(i)
        return pruned

    return on_report
