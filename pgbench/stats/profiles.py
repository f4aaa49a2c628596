"""Performance profiles: the fraction of scores above a threshold tau, over a grid of tau,
with stratified bootstrap bands (Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice", NeurIPS, section 5: score distributions).

Two profiles of a (runs, tasks) matrix of normalized scores:

* ``"runs"`` (rliable's run-score distribution, its default): the fraction of all
  runs x tasks scores > tau; with the same runs on every task, the mean over tasks of
  each task's fraction of runs > tau (tasks weigh equally);
* ``"task_means"`` (rliable's average-score distribution): the fraction of tasks whose
  mean over runs is > tau. Steps of 1 / tasks; noisier with few tasks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pgbench.stats.replicates import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL, group_rng
from pgbench.stats.scores import ScoresError, check_bootstrap, check_scores
from pgbench.stats.stratified import bootstrap, percentile_interval

DISTRIBUTIONS = ("runs", "task_means")


def fraction_of_runs_above(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of the runs x tasks entries of ``scores`` (..., runs, tasks) strictly
    above each of ``taus`` (T,): (..., T), exact multiples of 1 / (runs x tasks)."""
    n = scores.shape[-2] * scores.shape[-1]
    counts = [np.count_nonzero(scores > tau, axis=(-2, -1)) for tau in taus]
    return np.stack(counts, axis=-1) / n


def fraction_of_tasks_above(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of tasks whose mean over runs of ``scores`` (..., runs, tasks) is strictly
    above each of ``taus`` (T,): (..., T), exact multiples of 1 / tasks."""
    means = scores.mean(axis=-2)
    counts = [np.count_nonzero(means > tau, axis=-1) for tau in taus]
    return np.stack(counts, axis=-1) / means.shape[-1]


@dataclass(frozen=True, eq=False)
class Profile:
    """One algorithm's performance profile: ``fraction`` (T,) of scores above each of
    ``taus`` (T,) (the ``distribution``, one of :data:`DISTRIBUTIONS`), with pointwise
    stratified-bootstrap percentile bands ``low``, ``high`` (T,) at ``confidence`` from
    ``reps`` replicates (NaN and reps 0 where no Generator was given); ``n_runs`` runs on
    each of ``n_tasks`` tasks."""

    algorithm: str
    distribution: str
    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_runs: int
    n_tasks: int
    reps: int
    confidence: float


def _check_taus(taus: object) -> np.ndarray:
    try:
        t = np.asarray(taus, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScoresError("taus: not an array of numbers") from None
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)):
        raise ScoresError(f"taus: expected a non-empty finite 1-D grid, got shape {t.shape}")
    return t


def performance_profile(
    scores: Mapping[str, np.ndarray],
    taus: np.ndarray,
    rng: np.random.Generator | None = None,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    distribution: str = "runs",
) -> dict[str, Profile]:
    """algorithm -> :class:`Profile` at each of ``taus`` (T,), for ``scores`` algorithm ->
    (runs, tasks) normalized scores (rectangular, finite, the same tasks for every
    algorithm; see :func:`pgbench.stats.aggregate`).

    With ``rng``, the bands are stratified bootstrap percentile intervals: one word is
    drawn from ``rng``, algorithm ``a``'s ``reps`` replicates (runs resampled within each
    task) come from :func:`pgbench.stats.group_rng` of it and
    ``("performance_profile", a)``, so one algorithm's band does not depend on the others.
    """
    if distribution not in DISTRIBUTIONS:
        raise ScoresError(
            f"distribution {distribution!r}: expected one of {', '.join(DISTRIBUTIONS)}"
        )
    matrices = check_scores(scores)
    grid = _check_taus(taus)
    profile = fraction_of_runs_above if distribution == "runs" else fraction_of_tasks_above
    if rng is not None:
        check_bootstrap(rng, reps, confidence)
        base = int(rng.integers(0, 2**63))
    out = {}
    for algo, x in matrices.items():
        point = profile(x, grid)
        if rng is None:
            low, high = np.full(grid.shape, math.nan), np.full(grid.shape, math.nan)
        else:
            replicates = bootstrap(x, group_rng(base, ("performance_profile", algo)), reps)
            low, high = percentile_interval(profile(replicates, grid), confidence)
        n_runs, n_tasks = x.shape
        out[algo] = Profile(
            algorithm=algo,
            distribution=distribution,
            taus=grid,
            fraction=point,
            low=low,
            high=high,
            n_runs=n_runs,
            n_tasks=n_tasks,
            reps=reps if rng is not None else 0,
            confidence=confidence,
        )
    return out
