"""A sweep: batches of trials taken from the Optuna study, trained as one graph, logged to
MLflow as children of the study's one parent run, then told to the study.

Order per trial: take (under the study's lock) and beat, train, log the child run completely,
tell with its run id and outcome. A worker killed in between leaves RUNNING trials whose
heartbeats stop; whoever runs the sweep next (or a worker still running) fails them, deletes
their half-logged child runs, and runs the points again, up to `sweep.max_retries` times.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from hydra.core.hydra_config import HydraConfig
from optuna.trial import TrialState

from sweep.app import summary
from sweep.app.parent import Parent
from sweep.app.plan import Plan, plan_sweep
from sweep.app.recovery import Recovery
from sweep.core import signals
from sweep.core.progress import Progress
from sweep.core.results import RunResult
from sweep.core.schema import RootConfig
from sweep.core.trials import Trial
from sweep.study import study as studies
from sweep.study.claims import take
from sweep.study.heartbeats import Heartbeat
from sweep.study.samplers import reporter
from sweep.track.reachable import check_reachable
from sweep.track.records import begin_run, end_run
from sweep.track.runs import RunStore
from sweep.track.sender import Sender
from sweep.train import data
from sweep.train.batching import train_trials

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    """A trial taken from the study and not yet told: its result and the call that logs it
    arrive when it ends."""

    trial: Any  # optuna.Trial
    result: RunResult | None = None
    logged: Future | None = None  # the sender's end_run call: its value is the run id


def run_sweep(cfg: RootConfig, choices: dict[str, str], sender: Sender) -> None:
    plan = plan_sweep(cfg)
    check_reachable(cfg.tracking.uri)
    made_for = studies.identity(plan.settings, choices, plan.space, cfg.sweep.sampler)
    study = studies.open_study(cfg.sweep, plan.max_epochs, made_for)
    sweep = Sweep(cfg, choices, plan, study, sender)
    # What is imported and built by now lives until exit: spare every collection a pass over it.
    gc.freeze()
    try:
        sweep.run()
    except KeyboardInterrupt as ex:  # Ctrl-C or SIGTERM
        sweep.interrupted()
        raise SystemExit(signals.exit_status(ex)) from None
    except Exception:
        sweep.failed()
        raise
    finally:
        sweep.heartbeat.stop.set()
    sweep.finish(HydraConfig.get().runtime.output_dir)


class Sweep:
    def __init__(
        self, cfg: RootConfig, choices: dict, plan: Plan, study: studies.Study, sender: Sender
    ) -> None:
        self.cfg, self.plan, self.study, self.sender = cfg.sweep, plan, study, sender
        self.parent = Parent(sender, study, cfg, choices, plan.space)
        self.heartbeat = Heartbeat(study.storage, self.cfg.heartbeat_interval)
        self.in_flight: list[InFlight] = []
        self.trained, self.train_seconds = 0, 0.0
        self.curves: dict[str, list[float]] = {}  # run id -> loss curve, for the parent's plot
        # A dead worker's trials fail and their half-logged child runs go, before their grid
        # points are queued again.
        self.recover = Recovery(study, self.heartbeat, sender)

    def run(self) -> None:
        progress = None
        try:
            while True:
                self.recover()
                with signals.critical():  # what is claimed is in flight: failed if interrupted
                    taken, tally = take(self.study, self.cfg.batch_size,
                                        self.plan.space.distributions, self.plan.grid,
                                        self.plan.total, self.cfg.max_retries)  # fmt: skip
                    self.in_flight = [InFlight(t) for t in taken]
                if progress is None:
                    progress = Progress(tally.total, tally.done + tally.failed)
                progress.update(tally.done + tally.failed, tally.best)
                if taken:
                    self.batch(taken)
                elif tally.running == 0:
                    return
                else:  # trials of other workers, or of a dead one whose heartbeat will expire
                    time.sleep(self.cfg.heartbeat_interval)
        finally:
            if progress is not None:
                progress.close()

    def params(self, trial: Trial) -> dict[str, str]:
        return summary.shown_params(trial, self.plan.space.keys)

    def batch(self, taken: list) -> None:
        """Train the trials taken as one graph, log them, tell them."""
        self.heartbeat.add(taken)
        trials, runs = [], []
        parent = self.parent.open()
        for optuna_trial in taken:
            trials.append(self.plan.composer.trial(optuna_trial.params, optuna_trial.number))
            # Its child run is created (params, tags, config) while the rest are trained.
            tags = self.parent.child_tags(trials[-1])
            runs.append(self.sender.call(begin_run, trials[-1], tags, parent))
            self.parent.began(runs[-1])
        on_report = None if self.cfg.pruner.kind == "none" else reporter(taken)

        def ended(i: int, result: RunResult) -> None:  # shipped while longer trials train
            self.in_flight[i].result = result
            self.in_flight[i].logged = self.sender.call(end_run, runs[i], trials[i], result)

        datasets = data.load_all(trials)  # the first batch imports torch here
        started = time.perf_counter()
        train_trials(trials, datasets, self.cfg.report_every, on_report, ended,
                     report_val=self.cfg.metric == "val_loss")  # fmt: skip
        self.train_seconds += time.perf_counter() - started
        self.parent.settle()  # with the other workers, before anything is told
        for trial in trials:
            first = self.in_flight[0]
            run_id = first.logged.result()
            with signals.critical():  # told and forgotten together: never told twice
                self.tell(first.trial, first.result, run_id, self.params(trial))
                self.in_flight.pop(0)
        self.heartbeat.remove(taken)

    def tell(self, optuna_trial, result: RunResult, run_id: str, params: dict) -> None:
        told = studies.tell(self.study.optuna, optuna_trial, result, run_id, params,
                            self.cfg.metric)  # fmt: skip
        if told:
            self.trained += 1
            if result.status == "completed":
                self.curves[run_id] = result.losses
        else:  # failed meanwhile by a worker that took this one for dead: its point runs again
            self.sender.call(RunStore.delete_runs, [run_id])

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM: let the batch's logging finish and tell what was logged; fail the
        rest (their runs, begun but never ended, are deleted)."""
        self.sender.drain()  # waits until the batch's runs are logged and ended (or spooled)
        self.settle_in_flight()
        self.recover()
        self.parent.end("KILLED")
        self.sender.close()
        print(f"Interrupted. Parent run {self.parent.shown_id()}; run the same command again to "
              "resume.")  # fmt: skip

    def failed(self) -> None:
        """An error: trials already logged are told, the rest fail now (they run again, up to
        sweep.max_retries), and the parent (if it was created) is marked FAILED, not left
        RUNNING. Nothing waits for logging still under way."""
        with contextlib.suppress(Exception):
            self.settle_in_flight()
            self.parent.end("FAILED")
        self.sender.close()

    def settle_in_flight(self) -> None:
        """Tell the claimed trials whose child runs are logged; fail the others."""
        for flight in self.in_flight:
            logged = flight.logged
            if logged is not None and logged.done() and logged.exception() is None:
                trial = self.plan.composer.trial(flight.trial.params, flight.trial.number)
                self.tell(flight.trial, flight.result, logged.result(), self.params(trial))
            else:
                self.study.optuna.tell(flight.trial, state=TrialState.FAIL, skip_if_finished=True)
        self.in_flight = []

    def finish(self, output_dir: str) -> None:
        started = time.perf_counter()
        frame = self.parent.finish(self.trained, self.table, self.curves)
        self.sender.close()
        self.parent.write_table(frame, output_dir, self.trained)
        log.info("timings: training %.2f s, parent summary %.2f s",
                 self.train_seconds, time.perf_counter() - started)  # fmt: skip

    def table(self):
        """The summary table as the study holds it now."""
        return summary.frame(self.study, self.plan, self.cfg)
