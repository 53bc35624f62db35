"""A sweep: batches of trials asked from the Optuna study, trained as one graph, logged to
MLflow as children of one parent run, then told to the study.

Order per trial: train, log the child run completely, store its run id on the trial, tell.
A worker killed in between leaves a RUNNING trial whose heartbeat stops; whoever runs the
sweep next fails it, deletes its half-logged child run, and runs the point again.
"""

from __future__ import annotations

import time
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from optuna.trial import TrialState

from sweep import study as studies
from sweep.config import GROUPS, ConfigError
from sweep.engine import load_data, run_name, train_trials
from sweep.parent import Parent
from sweep.progress import Progress
from sweep.records import Trial, run_record
from sweep.space import Space, parse
from sweep.tracking import Tracker
from sweep.trials import Composer


def run_sweep(cfg: DictConfig, choices: dict[str, str]) -> None:
    loader = GlobalHydra.instance().config_loader()
    space = parse(cfg.sweep.space, cfg, lambda g: sorted(loader.get_group_options(g)))
    studies.check_settings(cfg.sweep)
    composer = Composer(list(HydraConfig.get().overrides.task))
    grid = space.grid() if cfg.sweep.sampler == "grid" else None
    total = _budget(cfg, grid)
    grid = None if grid is None else grid[:total]
    max_epochs = _preflight(space, composer, cfg)
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment)
    study = studies.open_study(cfg.sweep, max_epochs)
    parent = Parent(tracker, study, cfg, choices, space)
    sweep = Sweep(cfg, space, composer, tracker, study, parent, grid, total)
    try:
        sweep.run()
    except KeyboardInterrupt:
        sweep.interrupted()
        raise SystemExit(130) from None
    finally:
        sweep.heartbeat.stop.set()
        tracker.close()
    parent.finish(sweep.trained, HydraConfig.get().runtime.output_dir)


def _budget(cfg: DictConfig, grid: list | None) -> int:
    n_trials = cfg.sweep.n_trials
    if grid is not None:
        return min(n_trials or len(grid), len(grid))
    if n_trials is None:
        raise ConfigError("sweep.n_trials", f"required for sampler '{cfg.sweep.sampler}'")
    return n_trials


def _preflight(space: Space, composer: Composer, cfg: DictConfig) -> int:
    """Compose each combination of group options and load its data, so bad input fails
    before anything is created; returns the most epochs any trial can ask for."""
    groups = [a for a in space.axes if a.key in GROUPS]
    combos: list[dict[str, Any]] = [{}]
    for axis in groups:
        combos = [{**c, axis.key: v} for c in combos for v in axis.choices]
    trials = []
    for combo in combos:
        config, choices = composer.compose(combo)
        trials.append(Trial("preflight", config, choices))
    load_data(trials)
    epochs = next((a for a in space.axes if a.key == "train.epochs"), None)
    if epochs is None:
        return int(cfg.train.epochs)
    return int(max(epochs.choices) if epochs.choices is not None else epochs.high)


class Sweep:
    def __init__(self, cfg, space, composer, tracker, study, parent, grid, total) -> None:
        self.cfg, self.space, self.composer = cfg, space, composer
        self.tracker, self.study, self.parent = tracker, study, parent
        self.grid, self.total = grid, total
        self.heartbeat = studies.Heartbeat(study, cfg.sweep.heartbeat_interval)
        self.in_flight: list = []
        self.trained = 0

    def count(self, *states: TrialState) -> int:
        return studies.count(self.study, states, self.grid)

    def best(self) -> float | None:
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return min((t.value for t in done), default=None)

    def run(self) -> None:
        self.recover()
        progress = Progress(self.total, self.count(*studies.DONE))
        try:
            while True:
                studies.fail_stale(self.study)
                if self.grid is not None:
                    for point in studies.missing_grid_points(self.study, self.grid):
                        self.study.enqueue_trial(point)
                done, running = self.count(*studies.DONE), self.count(TrialState.RUNNING)
                room = self.total - done - running
                if self.grid is not None:
                    room = min(room, self.count(TrialState.WAITING))
                if room <= 0:
                    if running == 0:
                        return
                    time.sleep(
                        self.cfg.sweep.heartbeat_interval
                    )  # others' trials, or a dead worker's
                    self.recover()
                    continue
                finished = self.batch(min(room, self.cfg.sweep.batch_size))
                progress.update(finished, self.best())
        finally:
            progress.close()

    def batch(self, size: int) -> int:
        """Ask `size` trials, train them as one graph, log them, tell them."""
        asked = [self.study.ask() for _ in range(size)]
        self.in_flight = [[t, None, None] for t in asked]  # trial, result, logging future
        self.heartbeat.add(asked)
        trials = []
        for optuna_trial in asked:
            config, choices = self.composer.compose(self.space.suggest(optuna_trial))
            trial = Trial("", config, choices, optuna_trial.number)
            trials.append(Trial(run_name(trial), config, choices, optuna_trial.number))
        on_report = None if self.cfg.sweep.pruner.kind == "none" else self._reporter(asked)
        results = train_trials(trials, load_data(trials), self.cfg.sweep.report_every, on_report)
        for slot, trial, result in zip(self.in_flight, trials, results, strict=True):
            record = lambda t=trial, r=result: run_record(t, r, self.parent.child_tags(t))  # noqa: E731
            slot[1:] = [result, self.tracker.submit(record, self.parent.run_id)]
        while self.in_flight:
            optuna_trial, result, future = self.in_flight[0]
            studies.tell(self.study, optuna_trial, result, future.result())
            self.in_flight.pop(0)
            self.trained += 1
        self.heartbeat.remove(asked)
        return size

    def _reporter(self, asked: list):
        def on_report(epoch: int, losses: dict[int, float]) -> set[int]:
            pruned = set()
            for i, loss in losses.items():
                asked[i].report(loss, epoch)
                if asked[i].should_prune():
                    pruned.add(i)
            return pruned

        return on_report

    def recover(self) -> None:
        """Fail trials of dead workers and delete the child runs of failed trials."""
        studies.fail_stale(self.study)
        failed = {
            t.number for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        }
        if failed:
            stale = [
                r.run_id
                for r in self.parent.children()
                if int(r.tags.get("optuna.trial_number", -1)) in failed
            ]
            self.tracker.delete_runs(stale)

    def interrupted(self) -> None:
        """Ctrl-C: trials already logged were told; the rest fail now and run again next time."""
        self.tracker.close()  # waits until the batch's runs are logged and ended
        for optuna_trial, result, future in self.in_flight:
            if future is not None and future.exception() is None:
                studies.tell(self.study, optuna_trial, result, future.result())
                self.trained += 1
            else:
                self.study.tell(optuna_trial, state=TrialState.FAIL)
        self.recover()
        self.parent.interrupted()
