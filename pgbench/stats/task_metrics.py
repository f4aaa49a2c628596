"""Point metrics of a (runs, tasks) score matrix, as rliable defines them (Agarwal et al.
2021, "Deep RL at the edge of the statistical precipice", NeurIPS).

Each takes ``scores`` (..., runs, tasks), any leading axes (e.g. bootstrap replicates),
and returns one number per leading index (...); (runs, tasks) gives a 0-d float64.

* :func:`aggregate_mean`: the mean over tasks of each task's mean over runs (for
  rectangular input, the mean of all runs x tasks scores);
* :func:`aggregate_median`: the median over tasks of each task's mean over runs (not the
  median of the pooled runs);
* :func:`aggregate_iqm`: the interquartile mean of all runs x tasks scores pooled;
* :func:`aggregate_optimality_gap`: the mean shortfall below ``gamma``, max(gamma - x, 0).

``task_weights`` (tasks,), where a metric takes it, weighs each task's mean (normalized to
sum to 1); None is equal weights. The median and IQM take no weights (a weighted order
statistic needs a convention rliable does not have; see :func:`aggregate_iqm`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pgbench.stats.scores import ScoresError

IQM_TRIM = 0.25  # of the pooled scores, cut from each end


def _weighted_task_mean(per_task: np.ndarray, task_weights: np.ndarray | None) -> np.ndarray:
    """Mean over the last (tasks) axis of ``per_task`` (..., tasks), weighted."""
    if task_weights is None:
        return per_task.mean(axis=-1)
    return (per_task * task_weights).sum(axis=-1)


def aggregate_mean(scores: np.ndarray, task_weights: np.ndarray | None = None) -> np.ndarray:
    """Mean over tasks of each task's mean over runs: ``scores`` (..., runs, tasks) ->
    (...); ``task_weights`` (tasks,) summing to 1, or None (equal)."""
    return _weighted_task_mean(scores.mean(axis=-2), task_weights)


def aggregate_median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of each task's mean over runs (the mean of the two middle task
    means for an even number of tasks): ``scores`` (..., runs, tasks) -> (...)."""
    return np.median(scores.mean(axis=-2), axis=-1)


def aggregate_iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean of the N = runs x tasks scores pooled: ``scores`` (..., runs,
    tasks) -> (...).

    The convention of ``scipy.stats.trim_mean(scores, 0.25, axis=None)``, which rliable
    calls: sort the N scores, cut k = floor(N / 4) from each end, and average the N - 2k
    left (whole scores, no fractional weights). For N a multiple of 4 that is exactly the
    middle 50 %; otherwise slightly more (N = 6: the middle 4; N = 5: the middle 3). N < 4
    cuts nothing (the mean).
    """
    pooled = scores.reshape(*scores.shape[:-2], -1)
    n = pooled.shape[-1]
    k = int(IQM_TRIM * n)
    return np.sort(pooled, axis=-1)[..., k : n - k].mean(axis=-1)


def aggregate_optimality_gap(
    scores: np.ndarray, gamma: float = 1.0, task_weights: np.ndarray | None = None
) -> np.ndarray:
    """Mean of max(gamma - x, 0) over runs, then over tasks (``task_weights`` (tasks,)
    summing to 1, or None): how far below ``gamma`` (1 = the normalized reference high)
    the scores fall, scores above it counting 0. ``scores`` (..., runs, tasks) -> (...).
    rliable's ``gamma - mean(min(x, gamma))``, the same number."""
    gap = np.maximum(gamma - scores, 0.0)
    return _weighted_task_mean(gap.mean(axis=-2), task_weights)


METRICS = ("mean", "median", "iqm", "optimality_gap")  # the names aggregate() takes
WEIGHTED = frozenset({"mean", "optimality_gap"})  # the metrics that take task_weights


def check_task_weights(task_weights: object, n_tasks: int) -> np.ndarray | None:
    """``task_weights`` as float64 (n_tasks,) normalized to sum to 1 (None stays None);
    a one-line :class:`ScoresError` unless finite, >= 0, not all 0, one per task."""
    if task_weights is None:
        return None
    try:
        w = np.asarray(task_weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScoresError("task_weights: not an array of numbers") from None
    if w.shape != (n_tasks,):
        raise ScoresError(f"task_weights: expected shape ({n_tasks},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0.0) or not np.any(w > 0.0):
        raise ScoresError(f"task_weights: must be finite, >= 0 and not all 0, got {w}")
    return w / w.sum()


def metric_function(
    name: str, *, gamma: float = 1.0, task_weights: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """The metric ``name`` (one of :data:`METRICS`) as a function of scores (..., runs,
    tasks) -> (...), with ``gamma`` and normalized ``task_weights`` bound; a one-line
    :class:`ScoresError` for an unknown name, or weights given to the median or IQM."""
    if name not in METRICS:
        raise ScoresError(f"metric {name!r}: expected one of {', '.join(METRICS)}")
    if task_weights is not None and name not in WEIGHTED:
        raise ScoresError(
            f"metric {name!r} takes no task_weights (only {', '.join(sorted(WEIGHTED))} do)"
        )
    if name == "mean":
        return lambda x: aggregate_mean(x, task_weights)
    if name == "median":
        return aggregate_median
    if name == "iqm":
        return aggregate_iqm
    return lambda x: aggregate_optimality_gap(x, gamma, task_weights)
