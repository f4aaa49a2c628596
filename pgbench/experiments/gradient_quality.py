"""Gradient quality: how close an estimator's gradients are to the true one, against batch size.

For one cell (env, policy, estimator, seed) at the fixed point
``theta = policy.init(theta.seed)``:

1. the reference gradient g (P,): exact (:func:`pgbench.exact_gradient`,
   labelled ``exact``) where the env has a closed form, else a reward-to-go
   estimate from ``reference_episodes`` episodes with its own derived seed
   (labelled ``mc-<episodes>``; its own noise, trace_cov / episodes, then
   enters bias_norm and mse);
2. for each batch size N, R = ``repeats`` independent estimates g_1 .. g_R
   (R, P), repeat r drawn with seed ``derive_seed(seed, "estimate", N, r)``:
   the same for every estimator (common random numbers);
3. the metrics of :func:`gradient_metrics`, plus the mean ``env_steps`` and
   ``seconds`` (wall time, compilation excluded by a warm-up call) per estimate.

Metrics are pure functions of arrays, so they can be checked by hand.
"""

from __future__ import annotations

import numpy as np

from pgbench.errors import NoExactFormError, NonFiniteGradientError
from pgbench.experiments import CellOutput, MetricRow
from pgbench.sweep import Cell, derive_seed

REFERENCE_ESTIMATOR = "reward-to-go"
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


# ---------------------------------------------------------------- metrics (pure)


def cosines(estimates: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(R,) cosine of each row of ``estimates`` (R, P) to ``g`` (P,).

    A zero estimate has cosine 0 (no direction, no alignment); NaN if ``g`` is zero.
    """
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    g = np.asarray(g, dtype=np.float64)
    g_norm = np.linalg.norm(g)
    if g_norm == 0.0:
        return np.full(estimates.shape[0], np.nan)
    norms = np.linalg.norm(estimates, axis=1)
    dots = estimates @ g
    return np.divide(dots, norms * g_norm, out=np.zeros_like(dots), where=norms > 0)


def pairwise_cosine(estimates: np.ndarray) -> float:
    """Mean cosine over the R(R-1)/2 pairs i < j of rows of ``estimates`` (R, P).

    The gradient-predictiveness measure of Ilyas et al. (2020), "A closer look at
    deep policy gradients", ICLR (Sec. 3). Zero rows count as cosine 0; NaN if R < 2.
    """
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    R = estimates.shape[0]
    if R < 2:
        return float("nan")
    norms = np.linalg.norm(estimates, axis=1, keepdims=True)
    units = np.divide(estimates, norms, out=np.zeros_like(estimates), where=norms > 0)
    i, j = np.triu_indices(R, k=1)
    return float(np.mean(np.sum(units[i] * units[j], axis=1)))


def gradient_metrics(estimates: np.ndarray, g: np.ndarray) -> dict[str, float]:
    """Quality of R estimates (R, P) of the gradient ``g`` (P,); R >= 2.

    * ``bias_norm`` = ||mean_r g_r - g||. Even for an unbiased estimator its
      expectation is about sqrt(trace_cov / R), not 0.
    * ``trace_cov`` = sum_p Var_r(g_r[p]) (sample variances, ddof=1).
    * ``mse`` = mean_r ||g_r - g||^2 (= bias_norm^2 + (R-1)/R trace_cov).
    * ``cosine`` = mean_r cos(g_r, g) (see :func:`cosines`).
    * ``pairwise_cosine``: see :func:`pairwise_cosine`.
    * ``snr`` = ||mean_r g_r||^2 / trace_cov (Roberts & Tedrake 2009, "Signal-to-noise
      ratio analysis of policy gradient algorithms", NeurIPS); inf if trace_cov is 0.

    Units: gradient units (reward per unit of parameter) for bias_norm, their square
    for trace_cov and mse; cosines and snr are dimensionless.
    """
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    g = np.asarray(g, dtype=np.float64)
    if estimates.shape[0] < 2 or estimates.shape[1:] != g.shape:
        raise ValueError(f"need estimates (R >= 2, P) and g (P,), got {estimates.shape}, {g.shape}")
    mean = estimates.mean(axis=0)
    trace_cov = float(estimates.var(axis=0, ddof=1).sum())
    signal = float(mean @ mean)
    if trace_cov > 0:
        snr = signal / trace_cov
    else:
        snr = float("inf") if signal > 0 else float("nan")
    return {
        "bias_norm": float(np.linalg.norm(mean - g)),
        "trace_cov": trace_cov,
        "mse": float(np.mean(np.sum((estimates - g) ** 2, axis=1))),
        "cosine": float(np.mean(cosines(estimates, g))),
        "pairwise_cosine": pairwise_cosine(estimates),
        "snr": snr,
    }


# ---------------------------------------------------------------- one cell


def _finite(grad: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(grad)):
        raise NonFiniteGradientError(f"{what} has non-finite entries (NaN or inf)")
    return grad


def reference_gradient(
    env, policy, theta: np.ndarray, seed: int, episodes: int, backend: str
) -> tuple[np.ndarray, str]:
    """(g (P,), label): exact where possible, else a reward-to-go Monte Carlo estimate."""
    from pgbench import estimate, exact_gradient

    try:
        return _finite(exact_gradient(env, policy, theta), "the exact gradient"), "exact"
    except NoExactFormError:
        pass
    g = estimate(
        REFERENCE_ESTIMATOR,
        env,
        policy,
        theta,
        episodes,
        derive_seed(seed, "reference"),
        backend=backend,
    )
    return _finite(g, "the reference gradient"), f"mc-{episodes}"


def run_cell(cell: Cell) -> CellOutput:
    """Rows ``(batch_size, N, metric, value)`` for every N and metric in :data:`METRICS`."""
    from pgbench import estimate

    s = cell.settings
    env = cell.env.build()
    policy = cell.policy.build(env)
    theta = policy.init(s["theta"]["seed"])
    backend = s["backend"]
    g, reference = reference_gradient(
        env, policy, theta, cell.seed, s["reference_episodes"], backend
    )
    name, params = cell.method.name, cell.method.params
    R, sizes = s["repeats"], s["batch_sizes"]
    # warm-up: compile (or load) the kernels so that `seconds` times the estimate alone
    estimate(
        name,
        env,
        policy,
        theta,
        min(sizes),
        derive_seed(cell.seed, "warm-up"),
        backend=backend,
        **params,
    )
    rows: list[MetricRow] = []
    for N in sizes:
        grads = np.empty((R, policy.n_params))
        steps = np.empty(R)
        seconds = np.empty(R)
        for r in range(R):
            grad, info = estimate(
                name,
                env,
                policy,
                theta,
                N,
                derive_seed(cell.seed, "estimate", N, r),
                info=True,
                backend=backend,
                **params,
            )
            grads[r] = _finite(
                grad, f"estimator {cell.method.display!r}: estimate {r} at batch size {N}"
            )
            steps[r], seconds[r] = info["env_steps"], info["seconds"]
        metrics = gradient_metrics(grads, g)
        metrics["env_steps"] = float(steps.mean())
        metrics["seconds"] = float(seconds.mean())
        rows.extend(MetricRow(X_NAME, int(N), m, metrics[m]) for m in METRICS)
    return CellOutput(rows=rows, columns={"reference": reference})
