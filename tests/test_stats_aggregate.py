"""Aggregates across tasks (pgbench.stats: normalized scores, mean / median / IQM /
optimality gap, stratified bootstrap, performance profiles, probability of improvement).

Hand-computed small cases for every metric; a straight reimplementation of each bootstrap
(Python loops over replicates and tasks, the same Generator draws) that the vectorized one
must equal exactly; the wrong-axis bug rliable had (tasks resampled instead of runs within
each task); the coverage of the mean's interval on iid normal data; determinism; one-line
errors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, trim_mean

import pgbench.stats as stats
from pgbench.errors import PgbenchError
from pgbench.stats import (
    ScoresError,
    aggregate,
    aggregate_difference,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    aggregate_optimality_gap,
    fraction_of_runs_above,
    fraction_of_tasks_above,
    group_rng,
    improvement_matrix,
    interval_estimates,
    normalized_scores,
    performance_profile,
    probability_of_improvement,
)
from pgbench.stats.improvement import improvement
from pgbench.stats.stratified import stratified_indices, stratified_resample

METRICS = ("mean", "median", "iqm", "optimality_gap")
POINT = {
    "mean": aggregate_mean,
    "median": aggregate_median,
    "iqm": aggregate_iqm,
    "optimality_gap": aggregate_optimality_gap,
}
# the definitions written out plainly, for the loop reimplementation
REFERENCE = {
    "mean": lambda m: np.mean(m),
    "median": lambda m: np.median(np.mean(m, axis=0)),
    "iqm": lambda m: trim_mean(m, 0.25, axis=None),
    "optimality_gap": lambda m: 1.0 - np.mean(np.minimum(m, 1.0)),
}


def _one_line_error(excinfo) -> str:
    err = excinfo.value
    assert isinstance(err, PgbenchError) and isinstance(err, ValueError)
    assert "\n" not in str(err)
    return str(err)


# ---------------------------------------------------------------- hand cases


def test_normalized_scores_per_task_range():
    scores = np.array([[250.0, -800.0], [500.0, -1600.0]])
    out = normalized_scores(scores, low=[0.0, -1600.0], high=[500.0, 0.0])
    np.testing.assert_array_equal(out, [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_array_equal(normalized_scores([2.0, 4.0], 2.0, 6.0), [0.0, 0.5])
    # a cost (high below low) and leading axes (runs, curve points, tasks)
    np.testing.assert_array_equal(normalized_scores([[[10.0]]], 20.0, 10.0), [[[1.0]]])


@pytest.mark.parametrize(
    "low, high, words",
    [
        ([0.0, 1.0], [1.0, 1.0], "high == low for task(s) [1]"),
        ([0.0, 0.0, 0.0], 1.0, "low must be a scalar or shape (2,)"),
        (0.0, np.inf, "high must be finite"),
    ],
)
def test_normalized_scores_errors(low, high, words):
    with pytest.raises(ScoresError) as excinfo:
        normalized_scores(np.zeros((3, 2)), low, high)
    assert words in _one_line_error(excinfo)


def test_point_metrics_hand_cases():
    m = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])  # 4 runs x 2 tasks
    assert aggregate_mean(m) == 13.75  # (10 + 100) / 8
    assert aggregate_median(m) == 13.75  # task means 2.5, 25: their mean
    # pooled sorted 1 2 3 4 10 20 30 40: cut 2 from each end, mean of 3 4 10 20
    assert aggregate_iqm(m) == 9.25
    three = np.array([[0.0, 1.0, 10.0], [2.0, 3.0, 30.0]])  # task means 1, 2, 20
    assert aggregate_median(three) == 2.0
    assert aggregate_mean(three) == pytest.approx(23.0 / 3.0)
    # N = 6: cut floor(6 / 4) = 1 from each end: -50 [0 1 2 5] 100
    assert aggregate_iqm(np.array([[0.0, 5.0], [1.0, 100.0], [2.0, -50.0]])) == 2.0
    # N = 5: cut 1 from each end: 1 [2 3 4] 5; N = 3 cuts nothing
    assert aggregate_iqm(np.array([[5.0], [1.0], [4.0], [2.0], [3.0]])) == 3.0
    assert aggregate_iqm(np.array([[0.0, 3.0, 9.0]])) == 4.0


def test_iqm_is_scipy_trim_mean_pooled():
    rng = np.random.default_rng(5)
    for runs in range(1, 6):
        for tasks in range(1, 4):
            m = rng.normal(size=(runs, tasks))
            assert aggregate_iqm(m) == pytest.approx(trim_mean(m, 0.25, axis=None), abs=1e-14)


def test_optimality_gap_and_task_weights():
    m = np.array([[0.5, 1.5], [-1.0, 1.0]])  # gaps below 1: 0.5, 0, 2, 0
    assert aggregate_optimality_gap(m) == 0.625
    assert aggregate_optimality_gap(m, gamma=2.0) == 1.5  # 1.5, 0.5, 3, 1
    w = np.array([0.75, 0.25])  # task gaps 1.25 and 0
    assert aggregate_optimality_gap(m, task_weights=w) == 0.9375
    assert aggregate_mean(m, task_weights=w) == 0.75 * -0.25 + 0.25 * 1.25


def test_metrics_vectorize_over_leading_axes():
    x = np.random.default_rng(2).normal(size=(7, 5, 3))
    for fn in POINT.values():
        np.testing.assert_array_equal(fn(x), [fn(x[b]) for b in range(7)])


def test_profile_hand_case():
    m = np.array([[0.2, 0.9], [0.6, 1.2]])  # task means 0.4, 1.05
    taus = np.array([0.0, 0.5, 0.6, 1.0])
    np.testing.assert_array_equal(fraction_of_runs_above(m, taus), [1.0, 0.75, 0.5, 0.25])
    np.testing.assert_array_equal(fraction_of_tasks_above(m, taus), [1.0, 0.5, 0.5, 0.5])
    runs = performance_profile({"a": m}, taus)["a"]
    np.testing.assert_array_equal(runs.fraction, [1.0, 0.75, 0.5, 0.25])
    assert runs.reps == 0 and np.all(np.isnan(runs.low)) and np.all(np.isnan(runs.high))
    means = performance_profile({"a": m}, taus, distribution="task_means")["a"]
    np.testing.assert_array_equal(means.fraction, [1.0, 0.5, 0.5, 0.5])


def test_probability_of_improvement_with_ties():
    x = np.array([[1.0, 0.0], [2.0, 0.0]])
    y = np.array([[2.0, 0.0], [0.0, 0.0]])
    # task 0: (1>2) 0, (1>0) 1, (2=2) 1/2, (2>0) 1 -> 2.5 / 4; task 1: all ties -> 1/2
    result = probability_of_improvement(x, y, names=("x", "y"))
    assert result.probability == (0.625 + 0.5) / 2
    assert np.isnan(result.low) and result.reps == 0
    assert probability_of_improvement(x, x).probability == 0.5
    assert probability_of_improvement(y, x).probability == 1.0 - result.probability


def test_probability_of_improvement_is_mann_whitney_u():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 4, size=(6, 3)).astype(float)  # small integers: many ties
    y = rng.integers(0, 4, size=(4, 3)).astype(float)
    per_task = [mannwhitneyu(x[:, t], y[:, t]).statistic / 24.0 for t in range(3)]
    assert probability_of_improvement(x, y).probability == pytest.approx(np.mean(per_task))


# ---------------------------------------------------------------- the bootstrap, in loops


def _loop_replicates(x, rng, reps, fn):
    """fn of each stratified replicate: the same draw as the vectorized bootstrap, the
    replicate built task by task, run by run."""
    n_runs, n_tasks = x.shape
    idx = rng.integers(0, n_runs, size=(reps, n_runs, n_tasks))
    values = []
    for b in range(reps):
        m = np.empty_like(x)
        for t in range(n_tasks):
            for i in range(n_runs):
                m[i, t] = x[idx[b, i, t], t]
        values.append(fn(m))
    return np.array(values)


def _quantiles(values, confidence=0.95):
    """The percentile interval; (1 - 0.95) / 2 is 0.025000000000000022, not 0.025."""
    q = [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0]
    return tuple(np.quantile(values, q, axis=0))


def test_interval_estimates_equal_the_loop_exactly():
    x = np.random.default_rng(1).normal(0.5, 0.4, size=(6, 4))
    reps = 300
    ours = interval_estimates(x, np.random.default_rng(7), reps=reps)
    for name in METRICS:
        values = _loop_replicates(x, np.random.default_rng(7), reps, POINT[name])
        low, high = _quantiles(values)
        assert ours[name] == (float(POINT[name](x)), low, high)
        plain = _loop_replicates(x, np.random.default_rng(7), reps, REFERENCE[name])
        np.testing.assert_allclose(ours[name][1:], _quantiles(plain), rtol=1e-12)
        assert ours[name][0] == pytest.approx(REFERENCE[name](x), rel=1e-12)


def test_aggregate_equals_the_loop_through_group_rng():
    rng = np.random.default_rng(3)
    scores = {"b": rng.normal(size=(5, 3)), "a": rng.normal(size=(3, 3))}
    rows = aggregate(scores, np.random.default_rng(11), ("iqm", "mean"), reps=200)
    assert [(r.algorithm, r.metric) for r in rows] == [
        ("b", "iqm"),
        ("b", "mean"),
        ("a", "iqm"),
        ("a", "mean"),
    ]
    base = int(np.random.default_rng(11).integers(0, 2**63))
    for row in rows:
        gen = group_rng(base, ("aggregate", row.algorithm))
        values = _loop_replicates(scores[row.algorithm], gen, 200, POINT[row.metric])
        assert (row.low, row.high) == _quantiles(values)
        assert (row.n_runs, row.n_tasks, row.reps) == (*scores[row.algorithm].shape, 200)


def test_aggregate_difference_hand_case():
    """One task; BASE's two runs 0 and 1, NEW's both 1: the point is 1 - 0.5; BASE's
    replicate means are 0, 0.5, 1 (probabilities 1/4, 1/2, 1/4), NEW's always 1, so the
    difference's 95 % interval runs from 0 to 1."""
    base, new = np.array([[0.0], [1.0]]), np.array([[1.0], [1.0]])
    assert aggregate_difference(base, new, np.random.default_rng(0), reps=2000) == (0.5, 0.0, 1.0)
    # the sign is new - base; NEW may have a different number of runs
    assert aggregate_difference(new, base, np.random.default_rng(0))[0] == -0.5
    three = np.array([[1.0], [1.0], [1.0]])
    assert aggregate_difference(base, three, np.random.default_rng(0), "median")[0] == 0.5


def test_aggregate_difference_equals_the_loop_exactly():
    rng = np.random.default_rng(13)
    base, new = rng.normal(0.5, 0.3, size=(5, 3)), rng.normal(0.4, 0.3, size=(4, 3))
    reps = 300
    for name in METRICS:
        ours = aggregate_difference(base, new, np.random.default_rng(21), name, reps=reps)
        gen = np.random.default_rng(21)  # BASE's replicates drawn first, then NEW's
        b = _loop_replicates(base, gen, reps, REFERENCE[name])
        n = _loop_replicates(new, gen, reps, REFERENCE[name])
        np.testing.assert_allclose(ours[1:], _quantiles(n - b), rtol=1e-12, atol=1e-15)
        assert ours[0] == pytest.approx(REFERENCE[name](new) - REFERENCE[name](base), rel=1e-12)
        gen = np.random.default_rng(21)
        b = _loop_replicates(base, gen, reps, POINT[name])
        n = _loop_replicates(new, gen, reps, POINT[name])
        assert ours == (float(POINT[name](new) - POINT[name](base)), *_quantiles(n - b))


def test_aggregate_difference_resamples_runs_within_tasks():
    """No spread within any task, tasks far apart: every stratified replicate is the data
    itself, a zero-width interval at the point; resampling tasks instead gives a wide one."""
    base = np.tile([0.0, 1.0], (2, 1))  # IQM of 0 0 1 1: 0.5
    new = np.tile([0.5, 1.0], (2, 1))  # IQM of 0.5 0.5 1 1: 0.75
    assert aggregate_difference(base, new, np.random.default_rng(0)) == (0.25, 0.25, 0.25)
    rng = np.random.default_rng(0)
    tasks = rng.integers(0, 2, size=(1000, 2))
    wrong = aggregate_iqm(np.moveaxis(new[:, tasks], 1, 0)) - aggregate_iqm(
        np.moveaxis(base[:, tasks], 1, 0)
    )
    low, high = np.quantile(wrong, [0.025, 0.975])
    assert high - low == 0.5  # replicates of tasks (0, 0): 0.5, of (1, 1): 0
    # spread in one side only: its runs, within their task, make the whole interval
    spread = np.array([[0.0, 1.0], [0.2, 1.0]])
    point, low, high = aggregate_difference(base, spread, np.random.default_rng(0), "mean")
    assert point == pytest.approx(0.05) and low == 0.0 and high == pytest.approx(0.1)


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        ((np.zeros((2, 2)), np.zeros((2, 3))), {}, "same tasks, got 2 and 3 tasks"),
        ((np.zeros((2, 2)), [[np.nan, 0.0]]), {}, "new: has NaN"),
        ((np.zeros(2), np.zeros((2, 2))), {}, "base: expected shape (runs, tasks)"),
        ((np.zeros((2, 2)), np.zeros((2, 2)), "max"), {}, "metric 'max'"),
        ((np.zeros((2, 2)), np.zeros((2, 2)), ("iqm",)), {}, "expected one name"),
        ((np.zeros((2, 2)), np.zeros((2, 2))), {"reps": 0}, "reps: expected an int"),
        ((np.zeros((2, 2)), np.zeros((2, 2)), "iqm"), {"task_weights": [1, 1]}, "no task_w"),
    ],
)
def test_aggregate_difference_errors_are_one_line(args, kwargs, words):
    base, new, *metric = args
    with pytest.raises(ScoresError) as excinfo:
        aggregate_difference(base, new, np.random.default_rng(0), *metric, **kwargs)
    assert words in _one_line_error(excinfo)


def test_profile_bands_equal_the_loop_exactly():
    x = np.random.default_rng(4).uniform(size=(5, 3))
    taus = np.linspace(0.0, 1.0, 6)
    for dist, fn in (("runs", fraction_of_runs_above), ("task_means", fraction_of_tasks_above)):
        prof = performance_profile({"a": x}, taus, np.random.default_rng(8), reps=200,
                                   distribution=dist)["a"]  # fmt: skip
        base = int(np.random.default_rng(8).integers(0, 2**63))
        gen = group_rng(base, ("performance_profile", "a"))
        values = _loop_replicates(x, gen, 200, lambda m, fn=fn: fn(m, taus))
        low, high = _quantiles(values)
        np.testing.assert_array_equal(prof.low, low)
        np.testing.assert_array_equal(prof.high, high)


def _loop_improvement(x, y, rng, reps):
    """P(X > Y) of each replicate by counting pairs in loops; X's indices drawn first."""
    (nx, nt), ny = x.shape, y.shape[0]
    ix = rng.integers(0, nx, size=(reps, nx, nt))
    iy = rng.integers(0, ny, size=(reps, ny, nt))
    values = []
    for b in range(reps):
        per_task = []
        for t in range(nt):
            wins = 0.0
            for i in range(nx):
                for j in range(ny):
                    xi, yj = x[ix[b, i, t], t], y[iy[b, j, t], t]
                    wins += 1.0 if xi > yj else 0.5 if xi == yj else 0.0
            per_task.append(wins / (nx * ny))
        values.append(np.mean(per_task))
    return np.array(values)


def test_probability_of_improvement_interval_equals_the_loop_exactly():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 5, size=(4, 3)).astype(float)
    y = rng.integers(0, 5, size=(3, 3)).astype(float)
    ours = probability_of_improvement(x, y, np.random.default_rng(2), reps=150)
    low, high = _quantiles(_loop_improvement(x, y, np.random.default_rng(2), 150))
    assert (ours.low, ours.high) == (low, high)
    assert ours.probability == float(improvement(x, y))


def test_improvement_matrix_every_ordered_pair():
    rng = np.random.default_rng(12)
    scores = {"c": rng.normal(size=(4, 2)), "a": rng.normal(size=(3, 2)) + 1.0}
    scores["b"] = rng.normal(size=(5, 2))
    rows = improvement_matrix(scores, np.random.default_rng(0), reps=100)
    assert [(r.algorithm, r.other) for r in rows] == [
        ("c", "a"), ("c", "b"), ("a", "c"), ("a", "b"), ("b", "c"), ("b", "a"),
    ]  # fmt: skip
    by_pair = {(r.algorithm, r.other): r for r in rows}
    base = int(np.random.default_rng(0).integers(0, 2**63))
    gen = group_rng(base, ("probability_of_improvement", "a", "c"))
    low, high = _quantiles(_loop_improvement(scores["a"], scores["c"], gen, 100))
    assert (by_pair["a", "c"].low, by_pair["a", "c"].high) == (low, high)
    for (a, b), row in by_pair.items():
        assert row.probability + by_pair[b, a].probability == pytest.approx(1.0)
        assert row.low == pytest.approx(1.0 - by_pair[b, a].high)
        assert (row.n_runs, row.n_runs_other) == (len(scores[a]), len(scores[b]))


# ---------------------------------------------------------------- the right axis


def test_no_spread_within_tasks_gives_zero_width_not_the_task_bootstrap():
    """rliable's bug: resampling tasks instead of runs within each task. Tasks on very
    different scales, runs with no spread within a task: every stratified replicate is
    the data itself, so the interval has zero width; a task bootstrap's does not."""
    x = np.tile([0.0, 1.0, 10.0, 100.0], (5, 1))  # 5 runs x 4 tasks
    ours = interval_estimates(x, np.random.default_rng(0), reps=500)
    for name, (point, low, high) in ours.items():
        assert low == high == point, name
    rng = np.random.default_rng(0)
    tasks = rng.integers(0, 4, size=(500, 4))
    wrong = aggregate_mean(np.moveaxis(x[:, tasks], 1, 0))  # (500,) task-resampled means
    low, high = np.quantile(wrong, [0.025, 0.975])
    assert high - low > 10.0
    prof = performance_profile({"a": x}, [0.5, 5.0], np.random.default_rng(1), reps=300)
    np.testing.assert_array_equal(prof["a"].low, prof["a"].high)
    poi = probability_of_improvement(x, x + 0.5, np.random.default_rng(1), reps=300)
    assert poi.low == poi.high == poi.probability == 0.0


def test_runs_are_resampled_independently_per_task():
    """Resampling whole rows (one run index for every task) is wrong too: with task 1 the
    negation of task 0 run by run, every row-resampled mean is 0; the stratified one is
    not."""
    v = np.array([-2.0, -1.0, 1.0, 2.0])
    x = np.stack([v, -v], axis=1)
    point, low, high = interval_estimates(x, np.random.default_rng(3), ("mean",))["mean"]
    assert point == 0.0 and low < -0.3 and high > 0.3
    idx = stratified_indices(np.random.default_rng(0), 4, 2, 1000)
    assert idx.shape == (1000, 4, 2) and idx.min() == 0 and idx.max() == 3
    assert np.mean(np.all(idx[:, :, 0] == idx[:, :, 1], axis=1)) < 0.05
    resampled = stratified_resample(x, idx)
    for t in range(2):
        assert set(resampled[:, :, t].ravel()) <= set(x[:, t])


def test_one_run_per_task_gives_zero_width():
    (row,) = aggregate({"a": [[0.1, 0.9, 0.4]]}, np.random.default_rng(0), ("median",), reps=50)
    assert row.low == row.high == row.estimate == 0.4 and row.n_runs == 1


def test_mean_interval_covers_about_95_percent():
    rng = np.random.default_rng(2024)
    covered = 0
    for _ in range(200):
        x = rng.normal(0.3, 1.0, size=(10, 4))
        _, low, high = interval_estimates(x, rng, ("mean",), reps=500)["mean"]
        covered += low <= 0.3 <= high
    assert 0.85 <= covered / 200 <= 0.99


# ---------------------------------------------------------------- determinism, errors


def test_same_seed_same_intervals_independent_of_other_algorithms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    one = aggregate({"a": a, "b": b}, np.random.default_rng(42), reps=100)
    assert one == aggregate({"a": a, "b": b}, np.random.default_rng(42), reps=100)
    alone = aggregate({"a": a}, np.random.default_rng(42), reps=100)
    swapped = aggregate({"b": b, "a": a}, np.random.default_rng(42), reps=100)
    assert [r for r in one if r.algorithm == "a"] == list(alone)
    assert sorted(one, key=dataclasses.astuple) == sorted(swapped, key=dataclasses.astuple)
    other = aggregate({"a": a, "b": b}, np.random.default_rng(43), reps=100)
    assert one != other
    pairs = improvement_matrix({"a": a, "b": b}, np.random.default_rng(5), reps=100)
    assert pairs == improvement_matrix({"b": b, "a": a}, np.random.default_rng(5), reps=100)[::-1]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda g: aggregate({"a": [[0.0, np.nan]]}, g), "scores['a']: has NaN"),
        (lambda g: aggregate({"a": [[0.0, np.inf]]}, g), "has infinite values"),
        (lambda g: aggregate({"a": [0.0, 1.0]}, g), "expected shape (runs, tasks)"),
        (lambda g: aggregate({}, g), "non-empty dict"),
        (lambda g: aggregate({"a": np.zeros((2, 2)), "b": np.zeros((2, 3))}, g), "same tasks"),
        (lambda g: aggregate({"a": np.zeros((2, 2))}, 0), "numpy.random.Generator"),
        (lambda g: aggregate({"a": np.zeros((2, 2))}, g, reps=0), "reps: expected an int"),
        (lambda g: aggregate({"a": np.zeros((2, 2))}, g, confidence=1.0), "confidence"),
        (lambda g: aggregate({"a": np.zeros((2, 2))}, g, ("max",)), "metric 'max'"),
        (lambda g: aggregate({"a": np.zeros((2, 2))}, g, ("iqm", "iqm")), "at most once"),
        (
            lambda g: aggregate({"a": np.zeros((2, 2))}, g, ("median",), task_weights=[1, 1]),
            "takes no task_weights",
        ),
        (
            lambda g: aggregate({"a": np.zeros((2, 2))}, g, ("mean",), task_weights=[1]),
            "task_weights: expected shape (2,)",
        ),
        (lambda g: performance_profile({"a": np.zeros((2, 2))}, []), "taus"),
        (
            lambda g: performance_profile({"a": np.zeros((2, 2))}, [0.5], distribution="tasks"),
            "distribution 'tasks'",
        ),
        (lambda g: probability_of_improvement(np.zeros((2, 2)), np.zeros((2, 3))), "same tasks"),
    ],
)
def test_errors_are_one_line(call, words):
    with pytest.raises(PgbenchError) as excinfo:
        call(np.random.default_rng(0))
    assert words in _one_line_error(excinfo)


def test_the_package_keeps_every_name_of_the_old_module():
    from pgbench.stats import replicates

    public = [n for n in vars(replicates) if not n.startswith("_") and n.upper() == n]
    public += [
        n
        for n, v in vars(replicates).items()
        if callable(v) and getattr(v, "__module__", "") == replicates.__name__ and n[0] != "_"
    ]
    for name in public:
        assert getattr(stats, name) is getattr(replicates, name), name
    for name in stats.__all__:
        assert hasattr(stats, name), name
