"""Aggregate metrics across tasks with stratified bootstrap intervals, as rliable's
``get_interval_estimates`` (Agarwal et al. 2021, "Deep RL at the edge of the statistical
precipice", NeurIPS), resampling runs within each task (:mod:`pgbench.stats.stratified`).

* :func:`interval_estimates`: one (runs, tasks) matrix, one Generator;
* :func:`aggregate`: a dict algorithm -> (runs, tasks), a tidy tuple of
  :class:`Estimate` rows (one per algorithm and metric);
* :func:`aggregate_difference`: one metric's difference between two (runs, tasks)
  matrices of the same tasks (new - base), each side bootstrapped on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pgbench.stats.replicates import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL, group_rng
from pgbench.stats.scores import ScoresError, check_bootstrap, check_matrix, check_scores
from pgbench.stats.stratified import bootstrap, percentile_interval
from pgbench.stats.task_metrics import METRICS, check_task_weights, metric_function


@dataclass(frozen=True)
class Estimate:
    """One algorithm's aggregate ``metric`` over its runs and tasks: the point
    ``estimate`` and the stratified-bootstrap percentile interval [``low``, ``high``] at
    ``confidence`` from ``reps`` replicates, with ``n_runs`` runs on each of ``n_tasks``
    tasks (input is rectangular: every task has ``n_runs``)."""

    algorithm: str
    metric: str
    estimate: float
    low: float
    high: float
    n_runs: int
    n_tasks: int
    reps: int
    confidence: float


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise ScoresError(f"metrics: expected at least one of {', '.join(METRICS)}")
    if len(set(names)) < len(names):
        raise ScoresError(f"metrics: each at most once, got {', '.join(names)}")
    return names


def interval_estimates(
    scores: np.ndarray,
    rng: np.random.Generator,
    metrics: Sequence[str] = METRICS,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    task_weights: np.ndarray | None = None,
    gamma: float = 1.0,
) -> dict[str, tuple[float, float, float]]:
    """metric -> (estimate, low, high) for one ``scores`` (runs, tasks) matrix.

    The ``reps`` replicates (reps, runs, tasks) come from one draw of ``rng``
    (:func:`pgbench.stats.stratified.stratified_indices`) and are shared by every metric;
    each metric (a name of :data:`pgbench.stats.task_metrics.METRICS`) is computed on each
    replicate, and its interval is the percentile interval at ``confidence``.
    ``task_weights`` (tasks,) weigh the mean and the optimality gap (``gamma``: the
    normalized score counted as optimal); one run per task gives zero-width intervals.
    """
    x = check_matrix(scores)
    check_bootstrap(rng, reps, confidence)
    names = _check_metrics(metrics)
    weights = check_task_weights(task_weights, x.shape[1])
    fns = {m: metric_function(m, gamma=gamma, task_weights=weights) for m in names}
    replicates = bootstrap(x, rng, reps)
    out = {}
    for name, fn in fns.items():
        low, high = percentile_interval(fn(replicates), confidence)
        out[name] = (float(fn(x)), float(low), float(high))
    return out


def aggregate(
    scores: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    metrics: Sequence[str] = METRICS,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    task_weights: np.ndarray | None = None,
    gamma: float = 1.0,
) -> tuple[Estimate, ...]:
    """Aggregate metrics with stratified bootstrap intervals, per algorithm.

    ``scores``: algorithm -> (runs, tasks) normalized scores (see
    :func:`pgbench.stats.normalized_scores`), finite, rectangular (the same runs on every
    task), every algorithm on the same tasks in the same column order; runs may differ
    between algorithms. ``metrics``: names among ``"mean"``, ``"median"``, ``"iqm"``,
    ``"optimality_gap"`` (:mod:`pgbench.stats.task_metrics` defines them; ``gamma`` is the
    optimality gap's threshold, ``task_weights`` (tasks,) weigh the mean and the gap).

    Returns a tidy tuple of frozen :class:`Estimate` rows, algorithm-major in the dict's
    order, then ``metrics``' order; ``pandas.DataFrame(rows)`` makes it a table with
    columns algorithm, metric, estimate, low, high, n_runs, n_tasks, reps, confidence.

    One word is drawn from ``rng``; algorithm ``a``'s replicates come from
    :func:`pgbench.stats.group_rng` of it and ``("aggregate", a)`` (see
    :func:`interval_estimates`), so one algorithm's interval does not depend on which
    others are aggregated with it, nor in which order.
    """
    matrices = check_scores(scores)
    check_bootstrap(rng, reps, confidence)
    names = _check_metrics(metrics)
    base = int(rng.integers(0, 2**63))
    rows = []
    for algo, x in matrices.items():
        est = interval_estimates(
            x,
            group_rng(base, ("aggregate", algo)),
            names,
            reps=reps,
            confidence=confidence,
            task_weights=task_weights,
            gamma=gamma,
        )
        n_runs, n_tasks = x.shape
        for name in names:
            point, low, high = est[name]
            rows.append(Estimate(algo, name, point, low, high, n_runs, n_tasks, reps, confidence))
    return tuple(rows)


def aggregate_difference(
    base: np.ndarray,
    new: np.ndarray,
    rng: np.random.Generator,
    metric: str = "iqm",
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    task_weights: np.ndarray | None = None,
    gamma: float = 1.0,
) -> tuple[float, float, float]:
    """(estimate, low, high) of ``metric(new) - metric(base)``, the difference of an
    aggregate across tasks between two independent sets of runs on the same tasks.

    ``base`` (runs_base, tasks) and ``new`` (runs_new, tasks): normalized scores, finite,
    columns the same tasks in the same order; the runs may differ in number and are not
    paired. ``metric``: one name of :data:`pgbench.stats.task_metrics.METRICS`
    (``gamma`` and ``task_weights`` as in :func:`interval_estimates`).

    Each side is resampled on its own by the stratified bootstrap (runs within each task,
    :func:`pgbench.stats.stratified.bootstrap`): ``reps`` replicates of ``base`` are drawn
    from ``rng`` first, then ``reps`` of ``new``; replicate b's difference is the metric
    of new's b-th replicate minus base's, and [``low``, ``high``] their percentile
    interval at ``confidence``. With no spread between runs within any task, on both
    sides, the interval has zero width.
    """
    x = check_matrix(base, "base")
    y = check_matrix(new, "new")
    if x.shape[1] != y.shape[1]:
        raise ScoresError(
            f"aggregate_difference: base and new need the same tasks, got {x.shape[1]} and "
            f"{y.shape[1]} tasks"
        )
    check_bootstrap(rng, reps, confidence)
    if not isinstance(metric, str):
        raise ScoresError(f"metric: expected one name of {', '.join(METRICS)}, got {metric!r}")
    weights = check_task_weights(task_weights, x.shape[1])
    fn = metric_function(metric, gamma=gamma, task_weights=weights)
    base_replicates = fn(bootstrap(x, rng, reps))
    new_replicates = fn(bootstrap(y, rng, reps))
    low, high = percentile_interval(new_replicates - base_replicates, confidence)
    return float(fn(y) - fn(x)), float(low), float(high)
