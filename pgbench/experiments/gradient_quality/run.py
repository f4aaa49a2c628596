"""Gradient quality: how close an estimator's gradients are to the true one, against batch size.

For one cell (env, policy, theta point, estimator, seed), :func:`run_cell`:

0. the point theta (P,) of :func:`~.reference.theta_point` (:func:`~.reference.cell_point`);
1. the reference (:class:`~.reference.Reference`): the exact gradient where the env has
   a closed form, else a Monte Carlo one, or the value of the estimator's estimand
   where that is not the gradient (:func:`~.reference.cell_reference`; see
   :mod:`.reference`);
2. for each batch size N (those of the suite within the estimator's
   ``min_batch`` and the env's ``max_batch``, :func:`batch_sizes`), R = ``repeats``
   independent estimates g_1 .. g_R (R, P), repeat r drawn with seed
   ``derive_seed(seed, "estimate", N, r)``: the same for every estimator
   (common random numbers);
3. the metrics of :func:`~.quality.gradient_metrics`, with their finite-R bias and the
   reference's noise subtracted, plus the mean ``env_steps`` and ``seconds`` (wall
   time, compilation excluded by an untimed warm-up call per batch size and process,
   :func:`_warm_up`) per estimate.

The statistics are pure functions of arrays (:mod:`.quality`), so they can be checked by
hand; points and references are memoised per process (:mod:`.reference`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pgbench.api import estimate, estimator_params
from pgbench.errors import NonFiniteGradientError, PgbenchError
from pgbench.experiments.gradient_quality.quality import gradient_metrics
from pgbench.experiments.gradient_quality.reference import (
    cell_point,
    cell_reference,
    check_finite,
)
from pgbench.experiments.gradient_quality.suite import budget_sizes
from pgbench.experiments.output import CellOutput, MetricRow
from pgbench.kernels import timing
from pgbench.registry import ESTIMATORS
from pgbench.seeding import canonical_json, derive_seed

X_NAME = "batch_size"
METRICS = (
    "bias_norm",
    "trace_cov",
    "mse",
    "cosine",
    "pairwise_cosine",
    "snr",
    "env_steps",
    "seconds",
)
_WARM: set[str] = set()  # (env, policy, method, backend, N) keys this process has run once


def is_unbiased(name: str, params: dict) -> bool:
    """Whether estimator ``name`` with ``params`` promises E[estimate] = grad J at every N."""
    return ESTIMATORS.get(name).is_unbiased(estimator_params(name, **params))


def batch_sizes(cell) -> list[int]:
    """The suite's batch sizes within the estimator's ``min_batch`` and the env's ``max_batch``."""
    min_batch = getattr(cell.method, "min_batch", None)
    max_batch = getattr(cell.env, "max_batch", None)
    return list(budget_sizes(cell.settings["batch_sizes"], min_batch, max_batch))


def _warm_up(cell, backend: str, N: int, call: Callable[[], object]) -> None:
    """``call()`` once per process per (env, policy, method, backend, N), untimed, so that
    ``seconds`` never includes compiling or loading a kernel: which kernels an estimate
    runs can depend on N (e.g. the reward-to-go scan turns parallel above
    ``PARALLEL_SCAN_SIZE`` steps), so a warm-up at one batch size does not cover the rest."""
    key = canonical_json(
        (cell.env.canonical(), cell.policy.canonical(), cell.method.canonical(), backend, N)
    )
    if key not in _WARM:
        call()
        _WARM.add(key)


def run_cell(cell) -> CellOutput:
    """Rows ``(batch_size, N, metric, value)`` for every N and metric in :data:`METRICS`.

    Columns added to every row: ``reference`` (``exact`` or ``mc-<episodes>``) and
    ``unbiased`` (:func:`is_unbiased`). ``compile_seconds``: the Numba compile (or cache
    load) seconds the cell spent, all of it outside the timed estimates (the reference and
    the warm-ups of :func:`_warm_up`).
    """
    compiled = timing.compile_seconds()
    s = cell.settings
    env = cell.env.build()
    policy = cell.policy.build(env)
    backend = s["backend"]
    theta = cell_point(cell, env, policy, backend)
    reference = cell_reference(cell, env, policy, theta, backend)
    name, params = cell.method.name, cell.method.params
    R, sizes = s["repeats"], batch_sizes(cell)

    def one(N: int, seed: int, **kw):
        try:
            return estimate(name, env, policy, theta, N, seed, backend=backend, **kw, **params)
        except NonFiniteGradientError:
            raise
        except PgbenchError as exc:
            msg = (
                f"estimator {cell.method.display!r} at batch size {N}: {exc} "
                "(an estimator's min_batch skips the batch sizes below it)"
            )
            try:
                error = type(exc)(msg)
            except TypeError:
                error = PgbenchError(msg)
            raise error from None

    rows: list[MetricRow] = []
    for N in sizes:
        _warm_up(cell, backend, N, lambda N=N: one(N, derive_seed(cell.seed, "warm-up", N)))
        grads = np.empty((R, policy.n_params))
        steps = np.empty(R)
        seconds = np.empty(R)
        for r in range(R):
            grad, info = one(N, derive_seed(cell.seed, "estimate", N, r), info=True)
            grads[r] = check_finite(
                grad, f"estimator {cell.method.display!r}: estimate {r} at batch size {N}"
            )
            steps[r], seconds[r] = info["env_steps"], info["seconds"]
        metrics = gradient_metrics(grads, reference.value, reference.noise)
        metrics["env_steps"] = float(steps.mean())
        metrics["seconds"] = float(seconds.mean())
        rows.extend(MetricRow(X_NAME, int(N), m, metrics[m]) for m in METRICS)
    return CellOutput(
        rows=rows,
        columns={"reference": reference.label, "unbiased": is_unbiased(name, params)},
        compile_seconds=timing.compile_seconds() - compiled,
    )
