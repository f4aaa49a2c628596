"""Probability of improvement P(X > Y) across tasks, with stratified bootstrap intervals
(Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice", NeurIPS,
section 5).

For task t, P(X_t > Y_t) is the Mann-Whitney U statistic of X's runs against Y's over
n_x n_y: the fraction of (run of X, run of Y) pairs where X scores higher, a tie counting
1/2. The probability of improvement is its mean over tasks (tasks weigh equally). Between
identical samples it is 1/2; P(X > Y) + P(Y > X) = 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pgbench.stats.replicates import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL, group_rng
from pgbench.stats.scores import ScoresError, check_bootstrap, check_matrix, check_scores
from pgbench.stats.stratified import bootstrap, percentile_interval


def task_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X_t > Y_t) + P(X_t = Y_t) / 2 per task: ``x`` (..., n_x, tasks) and ``y``
    (..., n_y, tasks), the same leading axes, -> (..., tasks). Counts (run of X, run of
    Y) pairs exactly in integers, one of X's runs at a time (memory ... x n_y x tasks)."""
    n_x, n_y = x.shape[-2], y.shape[-2]
    twice_wins = np.zeros(x.shape[:-2] + x.shape[-1:], dtype=np.int64)
    for i in range(n_x):
        xi = x[..., i : i + 1, :]
        twice_wins += 2 * np.count_nonzero(xi > y, axis=-2) + np.count_nonzero(xi == y, axis=-2)
    return twice_wins / (2 * n_x * n_y)


def improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) averaged over tasks: ``x`` (..., n_x, tasks), ``y`` (..., n_y, tasks) ->
    (...); :func:`task_improvement`'s mean over the tasks axis."""
    return task_improvement(x, y).mean(axis=-1)


@dataclass(frozen=True)
class Improvement:
    """P(``algorithm`` > ``other``) averaged over ``n_tasks`` tasks: the point
    ``probability`` and the stratified-bootstrap percentile interval [``low``, ``high``]
    at ``confidence`` from ``reps`` replicates (NaN and reps 0 where no Generator was
    given); ``n_runs`` and ``n_runs_other`` runs per task."""

    algorithm: str
    other: str
    probability: float
    low: float
    high: float
    n_runs: int
    n_runs_other: int
    n_tasks: int
    reps: int
    confidence: float


def _pair(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = check_matrix(x, "x"), check_matrix(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ScoresError(f"x and y need the same tasks, got {a.shape[1]} and {b.shape[1]}")
    return a, b


def probability_of_improvement(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator | None = None,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    names: tuple[str, str] = ("x", "y"),
) -> Improvement:
    """P(X > Y) of ``x`` (n_x, tasks) over ``y`` (n_y, tasks), the same tasks in the same
    order, finite; ``names`` label them in the row. With ``rng``: its percentile interval
    over ``reps`` stratified replicates, X's runs and Y's resampled independently within
    each task (X's indices drawn first, then Y's)."""
    a, b = _pair(x, y)
    p = float(improvement(a, b))
    low = high = math.nan
    if rng is not None:
        check_bootstrap(rng, reps, confidence)
        low, high = (float(v) for v in _interval(a, b, rng, reps, confidence)[0])
    return Improvement(
        algorithm=names[0],
        other=names[1],
        probability=p,
        low=low,
        high=high,
        n_runs=a.shape[0],
        n_runs_other=b.shape[0],
        n_tasks=a.shape[1],
        reps=reps if rng is not None else 0,
        confidence=confidence,
    )


def _interval(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, reps: int, confidence: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(low, high) of P(X > Y) and of P(Y > X), from the same replicates: X's (reps, n_x,
    tasks) drawn first, then Y's."""
    bx, by = bootstrap(x, rng, reps), bootstrap(y, rng, reps)
    forward = percentile_interval(improvement(bx, by), confidence)
    backward = percentile_interval(improvement(by, bx), confidence)
    return forward, backward


def improvement_matrix(
    scores: Mapping[str, np.ndarray],
    rng: np.random.Generator | None = None,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
) -> tuple[Improvement, ...]:
    """P(a > b) for every ordered pair of distinct algorithms of ``scores`` (algorithm ->
    (runs, tasks), the same tasks for all; see :func:`pgbench.stats.aggregate`): a tidy
    tuple of :class:`Improvement` rows, ``a`` in the dict's order, then ``b``;
    ``pandas.DataFrame(rows)`` makes it a table (pivot algorithm x other for the matrix).

    With ``rng``: one word is drawn from it; the pair {a, b} (a before b in sorted order)
    draws a's then b's replicates from :func:`pgbench.stats.group_rng` of it and
    ``("probability_of_improvement", a, b)``, and both P(a > b) and P(b > a) come from
    those replicates, so a pair's intervals depend neither on the other algorithms nor on
    the dict's order.
    """
    matrices = check_scores(scores)
    if rng is not None:
        check_bootstrap(rng, reps, confidence)
        base = int(rng.integers(0, 2**63))
    names = list(matrices)
    intervals: dict[tuple[str, str], tuple[float, float]] = {}
    if rng is not None:
        for a, b in ((a, b) for a in sorted(names) for b in sorted(names) if a < b):
            gen = group_rng(base, ("probability_of_improvement", a, b))
            forward, backward = _interval(matrices[a], matrices[b], gen, reps, confidence)
            intervals[a, b], intervals[b, a] = forward, backward
    rows = []
    for a in names:
        for b in names:
            if a == b:
                continue
            x, y = matrices[a], matrices[b]
            low, high = intervals.get((a, b), (math.nan, math.nan))
            row = Improvement(
                algorithm=a,
                other=b,
                probability=float(improvement(x, y)),
                low=float(low),
                high=float(high),
                n_runs=x.shape[0],
                n_runs_other=y.shape[0],
                n_tasks=x.shape[1],
                reps=reps if rng is not None else 0,
                confidence=confidence,
            )
            rows.append(row)
    return tuple(rows)
