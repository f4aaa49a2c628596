"""The stratified bootstrap of a (runs, tasks) score matrix, vectorized over replicates.

Stratified: the tasks are the strata, fixed; each replicate resamples, independently for
every task, that task's runs with replacement (task ``t``'s column of the replicate is
drawn from task ``t``'s own runs only). It answers "what if the experiment were re-run
with other seeds on the same tasks" (Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice", NeurIPS, section 4). Resampling whole task columns instead (the
wrong axis) measures how the aggregate depends on which tasks were chosen, and says
nothing about the seeds: with no spread between runs it still gives a wide interval.

Intervals are percentile intervals (the (1 - confidence) / 2 and (1 + confidence) / 2
quantiles of the replicates, numpy's linear interpolation), as
:func:`pgbench.stats.bootstrap_ci` and rliable's default ``method="percentile"``.
"""

from __future__ import annotations

import numpy as np


def stratified_indices(
    rng: np.random.Generator, n_runs: int, n_tasks: int, reps: int
) -> np.ndarray:
    """Run indices (reps, n_runs, n_tasks), int64 in [0, n_runs), one ``rng.integers``
    draw: entry [b, i, t] is the run that fills row i of task t in replicate b."""
    return rng.integers(0, n_runs, size=(reps, n_runs, n_tasks))


def stratified_resample(scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The replicates (reps, runs, tasks) of ``scores`` (runs, tasks) that
    ``indices`` (reps, runs, tasks) from :func:`stratified_indices` pick:
    ``out[b, i, t] = scores[indices[b, i, t], t]``."""
    return scores[indices, np.arange(scores.shape[1])]


def bootstrap(scores: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
    """``reps`` stratified replicates (reps, runs, tasks) of ``scores`` (runs, tasks),
    drawn from ``rng`` with one call of :func:`stratified_indices`. Memory: two arrays of
    reps x runs x tasks 8-byte numbers (2000 x 10 x 50: 16 MB)."""
    n_runs, n_tasks = scores.shape
    return stratified_resample(scores, stratified_indices(rng, n_runs, n_tasks, reps))


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of
    ``replicates`` (reps, ...) over axis 0, each of shape (...) (floats for (reps,))."""
    q = [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0]
    low, high = np.quantile(replicates, q, axis=0)
    return low, high
