"""What a worker takes next: grid points queued once and claimed once, points given up after
max_retries failures, a sampler's trials never beyond the budget, and the tally of the study."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from study.test_study import DIST, GRID, open_study
from sweep.study.claims import GridBook, params_key, take


def test_a_trials_key_is_its_values_in_key_order_also_while_it_waits():
    values = {"train.epochs": 300, "optimizer.lr": 0.01}
    key = '{"optimizer.lr": 0.01, "train.epochs": 300}'
    dists = {"train.epochs": IntDistribution(100, 500, step=100),
             "optimizer.lr": FloatDistribution(1e-4, 1.0, log=True)}  # fmt: skip
    told = create_trial(state=TrialState.COMPLETE, value=1.0, params=values, distributions=dists)
    queued = create_trial(state=TrialState.WAITING, system_attrs={"fixed_params": values})
    assert [params_key(values), params_key(told), params_key(queued)] == [key] * 3


def frozen(x: int, state: TrialState):
    return create_trial(state=state, params={"x": x}, distributions={"x": IntDistribution(0, 9)},
                        value=1.0 if state == TrialState.COMPLETE else None)  # fmt: skip


def test_the_grid_book_reads_each_point_once_by_state():
    s = TrialState
    first_queued = frozen(4, s.WAITING)
    trials = [
        frozen(0, s.COMPLETE), frozen(0, s.COMPLETE),  # a duplicate from an older version
        frozen(1, s.FAIL), frozen(1, s.FAIL), frozen(1, s.PRUNED),  # done after failing: done
        frozen(2, s.FAIL), frozen(2, s.FAIL), frozen(2, s.RUNNING),  # retried: not given up
        frozen(3, s.FAIL), frozen(3, s.FAIL),  # failed max_retries times
        first_queued, frozen(4, s.WAITING),
        frozen(5, s.FAIL),  # failed once: to be retried
        frozen(7, s.COMPLETE), frozen(7, s.RUNNING),  # not in this grid
    ]  # fmt: skip
    grid = [{"x": i} for i in range(7)]
    book = GridBook.read(trials, grid, 2)
    keys = {i: params_key({"x": i}) for i in range(7)}
    assert book.done == {keys[0], keys[1]}
    assert book.running == {keys[2]}
    assert book.given_up == {keys[3]}
    assert list(book.waiting) == [keys[4]] and book.waiting[keys[4]] is first_queued
    assert [p["x"] for p in grid if book.open(params_key(p))] == [4, 5, 6]


def test_a_sampler_never_takes_more_than_the_budget_leaves(tmp_path):
    study = open_study(tmp_path, sampler="random")
    taken, tally = take(study, 5, DIST, None, 3, 3)
    assert len(taken) == 3 and all(0 <= t.params["x"] <= 4 for t in taken)
    assert (tally.total, tally.done, tally.running, tally.failed, tally.best) == (3, 0, 3, 0, None)
    study.optuna.tell(taken[0], 0.5)
    study.optuna.tell(taken[1], state=TrialState.FAIL)  # a failed trial is tried again
    more, tally = take(study, 5, DIST, None, 3, 3)
    assert len(more) == 1
    assert (tally.done, tally.running, tally.failed, tally.best) == (1, 2, 0, 0.5)
    assert len(study.trials()) == 4


def test_the_tally_carries_the_best_completed_value(tmp_path):
    study = open_study(tmp_path)
    taken, _ = take(study, 3, DIST, GRID, 5, 3)
    study.optuna.tell(taken[0], 2.0)
    study.optuna.tell(taken[1], 0.25)
    study.optuna.tell(taken[2], state=TrialState.PRUNED)  # done, but with no value
    rest, tally = take(study, 5, DIST, GRID, 5, 3)
    assert [t.params for t in rest] == [{"x": 3}, {"x": 4}]
    assert (tally.done, tally.running, tally.best) == (3, 2, 0.25)


def test_points_queued_by_enqueue_trial_get_values_of_every_kind_when_claimed(tmp_path):
    study = open_study(tmp_path)
    dists = {"optimizer.lr": FloatDistribution(1e-4, 1.0, log=True),
             "normalization": CategoricalDistribution(["none", "scale"]),
             "train.epochs": IntDistribution(100, 1000, step=100)}  # fmt: skip
    point = {"optimizer.lr": 0.01, "normalization": "scale", "train.epochs": 300}
    study.optuna.enqueue_trial(point)  # how earlier versions queued a grid
    [claimed], tally = take(study, 1, dists, [point], 1, 3)
    assert claimed.params == point
    [stored] = study.trials()
    assert (stored.state, stored.params, stored.distributions) == (TrialState.RUNNING, point, dists)
    assert (tally.total, tally.running) == (1, 1)


def test_the_grid_is_queued_once_and_each_point_taken_once(tmp_path):
    study = open_study(tmp_path)
    other = open_study(tmp_path)  # a second worker on the same storage
    mine, tally = take(study, 2, DIST, GRID, 5, 3)
    assert [t.params for t in mine] == [{"x": 0}, {"x": 1}]
    assert (tally.total, tally.done, tally.running, tally.failed) == (5, 0, 2, 0)
    theirs, tally = take(other, 5, DIST, GRID, 5, 3)
    assert [t.params for t in theirs] == [{"x": 2}, {"x": 3}, {"x": 4}]
    assert tally.running == 5
    assert take(study, 1, DIST, GRID, 5, 3)[0] == []
    assert len(other.trials()) == 5 and [t.state for t in other.trials()] == [
        TrialState.RUNNING] * 5  # fmt: skip


def test_a_point_failed_max_retries_times_is_given_up(tmp_path):
    study = open_study(tmp_path)
    for _ in range(2):
        [trial], tally = take(study, 1, DIST, GRID[:1], 1, 2)
        assert tally.failed == 0
        study.optuna.tell(trial, state=TrialState.FAIL)
    taken, tally = take(study, 1, DIST, GRID[:1], 1, 2)
    assert taken == [] and (tally.done, tally.running, tally.failed) == (0, 0, 1)


def test_points_queued_by_enqueue_trial_get_their_values_when_claimed(tmp_path):
    study = open_study(tmp_path)
    study.optuna.enqueue_trial({"x": 3})  # how earlier versions queued a grid
    [trial], _ = take(study, 1, DIST, [{"x": 3}], 1, 3)
    assert trial.params == {"x": 3} and study.trials()[0].params == {"x": 3}
