"""Score matrices across tasks: checking them, and normalizing returns to a task's range.

The shape every cross-task function takes is ``(runs, tasks)``: ``scores[n, m]`` is the
score of run (seed) ``n`` on task ``m``; an algorithm has the same number of runs on every
task (rectangular input: pad nothing, leave out or re-run the short tasks), and algorithms
compared with each other are scored on the same tasks in the same column order. Runs may
differ between algorithms.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pgbench.errors import PgbenchError


class ScoresError(PgbenchError, ValueError):
    """Scores, ranges or bootstrap settings that cannot be aggregated across tasks."""


def check_matrix(scores: object, name: str = "scores") -> np.ndarray:
    """``scores`` as a float64 array (runs, tasks), runs >= 1 and tasks >= 1, every entry
    finite; else a one-line :class:`ScoresError` naming ``name``."""
    try:
        out = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScoresError(f"{name}: not an array of numbers") from None
    if out.ndim != 2:
        raise ScoresError(f"{name}: expected shape (runs, tasks), got {out.shape}")
    if out.shape[0] < 1 or out.shape[1] < 1:
        raise ScoresError(f"{name}: needs at least one run and one task, got {out.shape}")
    if not np.all(np.isfinite(out)):
        bad = "NaN" if np.any(np.isnan(out)) else "infinite values"
        raise ScoresError(f"{name}: has {bad}; every (run, task) needs a finite score")
    return out


def check_scores(scores: Mapping[str, object]) -> dict[str, np.ndarray]:
    """``scores`` (algorithm -> (runs, tasks)) as a dict of float64 matrices (each checked
    by :func:`check_matrix`), in the mapping's order; at least one algorithm, every one
    with the same number of tasks."""
    if not isinstance(scores, Mapping) or not scores:
        raise ScoresError("scores: expected a non-empty dict algorithm -> (runs, tasks)")
    out = {str(k): check_matrix(v, f"scores[{k!r}]") for k, v in scores.items()}
    tasks = {k: v.shape[1] for k, v in out.items()}
    if len(set(tasks.values())) > 1:
        listed = ", ".join(f"{k}: {n}" for k, n in tasks.items())
        raise ScoresError(f"scores: every algorithm needs the same tasks, got tasks {listed}")
    return out


def check_bootstrap(rng: object, reps: int, confidence: float) -> None:
    """One-line :class:`ScoresError` unless ``rng`` is a Generator, ``reps`` an int >= 1
    and ``confidence`` in (0, 1)."""
    if not isinstance(rng, np.random.Generator):
        raise ScoresError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
        raise ScoresError(f"reps: expected an int >= 1, got {reps!r}")
    if not 0.0 < confidence < 1.0:
        raise ScoresError(f"confidence: must be in (0, 1), got {confidence}")


def normalized_scores(
    scores: object, low: float | np.ndarray, high: float | np.ndarray
) -> np.ndarray:
    """(scores - low) / (high - low): 0 at a task's ``low`` reference return (e.g. a random
    policy's), 1 at its ``high`` (e.g. the optimum or a published expert score); ``high``
    may lie below ``low`` (a cost, lower is better), the map is the same.

    ``scores`` (..., tasks), any number of leading axes (runs, curve points); ``low`` and
    ``high`` scalars or (tasks,), one per column. Returns float64, the shape of ``scores``.
    A one-line :class:`ScoresError` where a range is empty (high == low), not finite, or
    does not match the tasks axis.
    """
    try:
        x = np.asarray(scores, dtype=np.float64)
        lo = np.asarray(low, dtype=np.float64)
        hi = np.asarray(high, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScoresError("normalized_scores: scores, low and high must be numbers") from None
    if x.ndim < 1:
        raise ScoresError("normalized_scores: scores need a tasks axis (the last)")
    tasks = x.shape[-1]
    for name, bound in (("low", lo), ("high", hi)):
        if bound.ndim > 1 or (bound.ndim == 1 and bound.size != tasks):
            raise ScoresError(
                f"normalized_scores: {name} must be a scalar or shape ({tasks},) (one per "
                f"task), got {bound.shape}"
            )
        if not np.all(np.isfinite(bound)):
            raise ScoresError(f"normalized_scores: {name} must be finite, got {bound}")
    width = hi - lo
    if np.any(width == 0.0):
        where = np.flatnonzero(np.broadcast_to(width, (tasks,)) == 0.0)
        raise ScoresError(f"normalized_scores: high == low for task(s) {where.tolist()}")
    return (x - lo) / width
