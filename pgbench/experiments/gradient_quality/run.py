"""Gradient quality: how close an estimator's gradients are to the true one, against batch size.

For one cell (env, policy, theta point, estimator, seed):

0. the point theta (P,) of :func:`theta_point` (``init``, ``random`` or a
   gradient-ascent ``path``; it does not depend on the cell's seed or estimator);
1. the reference (:class:`Reference`): the exact gradient
   (:func:`pgbench.exact_gradient`, labelled ``exact``) where the env has a closed
   form, else a Monte Carlo estimate (labelled ``mc-<episodes>``) by reward-to-go
   with the leave-one-out per-step baseline (``baseline: time``, unbiased) from
   ``reference_episodes`` episodes, drawn as K independent sub-batches
   (:func:`reference_parts`, seed ``derive_seed(seed, "reference", k)``) whose
   spread estimates the reference's own noise E||g_ref - grad J||^2
   (:func:`grouped_jackknife`). On CartPole-v1 with linear-softmax(init_scale 0.1),
   from 100 estimates of 1000 episodes each, the time baseline measured 1.7x lower
   variance per episode than plain reward-to-go at ``init(seed=0)`` and 9.7x / 11x
   (two runs) at ``random(seed=1, scale=2.0)``.
   An estimator whose ``estimand`` is not the gradient is compared with the value
   of its estimand instead (:func:`reference_value`): ``natural-gradient`` with
   :func:`pgbench.exact_natural_gradient` (``exact-natural``; no Monte Carlo
   stand-in: a cell without an exact Fisher fails with a one-line message),
   ``restricted-step`` with the restricted step built from the reference
   gradient (``<reference>-restricted``);
2. for each batch size N (those of the suite within the estimator's
   ``min_batch`` and the env's ``max_batch``), R = ``repeats`` independent
   estimates g_1 .. g_R (R, P), repeat r drawn with seed
   ``derive_seed(seed, "estimate", N, r)``: the same for every estimator
   (common random numbers);
3. the metrics of :func:`gradient_metrics`, with their finite-R bias and the
   reference's noise subtracted, plus the mean ``env_steps`` and ``seconds`` (wall
   time, compilation excluded by an untimed warm-up call per batch size and process,
   :func:`_warm_up`) per estimate.

Metrics are pure functions of arrays, so they can be checked by hand. Points
and reference gradients are memoised per process (:data:`_MEMO`): the cells of
one (env, policy, point) share them, and recomputing gives the same bits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from pgbench.api import estimate, estimator_params, exact_gradient, exact_natural_gradient
from pgbench.errors import (
    InvalidSpecError,
    NoExactFormError,
    NonFiniteGradientError,
    PgbenchError,
)
from pgbench.experiments.gradient_quality.suite import EXACT, ThetaSpec, budget_sizes
from pgbench.experiments.output import CellOutput, MetricRow
from pgbench.kernels import timing
from pgbench.registry import ESTIMATORS
from pgbench.seeding import canonical_json, derive_seed

REFERENCE_ESTIMATOR = "reward-to-go"
REFERENCE_PARAMS = {"baseline": "time"}  # unbiased: leave-one-out per-step mean
REFERENCE_CHUNK = 1000  # most episodes per sub-batch (bounds the stored (E, T, P) batch)
REFERENCE_MIN_PARTS = 8  # fewest sub-batches: their spread estimates the reference's noise
# what an estimator estimates (its Estimator.estimand): grad J, F^+ grad J, or the
# Euclidean trust-region step sqrt(2 epsilon / g.g) g built from grad J
ESTIMANDS = ("gradient", "natural-gradient", "restricted-step")
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
_MEMO: OrderedDict[str, Any] = OrderedDict()  # canonical JSON key -> theta or reference
_MEMO_SIZE = 64
_WARM: set[str] = set()  # (env, policy, method, backend, N) keys this process has run once
T = TypeVar("T")


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


def _check(estimates: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
    estimates = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    if estimates.shape[0] < 2 or (g is not None and estimates.shape[1:] != np.shape(g)):
        shapes = f"{estimates.shape}" + ("" if g is None else f", {np.shape(g)}")
        raise ValueError(f"need estimates (R >= 2, P) and g (P,), got {shapes}")
    return estimates


def squared_bias(estimates: np.ndarray, g: np.ndarray, reference_noise: float = 0.0) -> float:
    """Unbiased estimate of ||b||^2, b = E[g_r] - g* the bias of R independent estimates
    ``estimates`` (R, P) of g* (P,), compared with ``g`` (P,); may be negative.

    With mean = mean_r g_r, C = Cov(g_r), S the trace of the sample covariance (ddof=1,
    E[S] = tr C) and ``g`` either g* (``reference_noise`` 0) or an estimate of it,
    independent of the g_r, with E||g - g*||^2 = nu* and an unbiased estimate
    ``reference_noise`` = nu of nu*:

        E||mean - g||^2 = ||b||^2 + tr(C) / R + nu*,  so  ||mean - g||^2 - S / R - nu

    is unbiased for ||b||^2 (for an exact ``g`` the middle term alone is the known
    finite-R bias of ||mean - g||^2, about tr(C) / R even for an unbiased estimator).
    """
    estimates = _check(estimates, g)
    diff = estimates.mean(axis=0) - np.asarray(g, dtype=np.float64)
    return float(diff @ diff) - _trace_cov(estimates) / len(estimates) - reference_noise


def squared_signal(estimates: np.ndarray) -> float:
    """Unbiased estimate of ||E g_r||^2 from R independent estimates (R, P); may be negative.

    E||mean_r g_r||^2 = ||E g_r||^2 + tr(C) / R, so ||mean||^2 - S / R is unbiased
    (S, C as in :func:`squared_bias`).
    """
    estimates = _check(estimates)
    mean = estimates.mean(axis=0)
    return float(mean @ mean) - _trace_cov(estimates) / len(estimates)


def _trace_cov(estimates: np.ndarray) -> float:
    return float(estimates.var(axis=0, ddof=1).sum())


def gradient_metrics(
    estimates: np.ndarray, g: np.ndarray, reference_noise: float = 0.0
) -> dict[str, float]:
    """Quality of R >= 2 independent estimates (R, P) of the gradient g* (P,), compared with
    ``g`` (P,): g* itself (``reference_noise`` 0), or an estimate of it independent of the
    estimates whose own mean squared error E||g - g*||^2 has the unbiased estimate
    ``reference_noise`` (:attr:`Reference.noise`).

    b = E[g_r] - g* is the bias, C = Cov(g_r); the finite-R bias of the plain sample
    quantities and the reference's noise are subtracted (:func:`squared_bias`,
    :func:`squared_signal`):

    * ``bias_norm`` = sqrt(max(0, squared_bias)) estimates ||b||. Its square is unbiased
      for ||b||^2 before the clipping at 0, which can only raise it; so an unbiased
      estimator reads 0 or a little above, not ~sqrt(tr(C) / R) as ||mean - g|| does.
    * ``trace_cov`` = S = sum_p Var_r(g_r[p]) (sample variances, ddof=1): unbiased for tr C.
    * ``mse`` = max(0, mean_r ||g_r - g||^2 - reference_noise), unbiased for
      E||g_r - g*||^2 = ||b||^2 + tr C before clipping (clipping only acts when
      ``reference_noise`` > 0). Unclipped, mse = bias_norm^2 + trace_cov exactly.
    * ``cosine`` = mean_r cos(g_r, g) (see :func:`cosines`); uncorrected: a noisy
      reference pulls it slightly toward 0.
    * ``pairwise_cosine``: see :func:`pairwise_cosine` (does not involve g).
    * ``snr`` = max(0, squared_signal) / S, estimating ||E g_r||^2 / tr C (Roberts &
      Tedrake 2009, "Signal-to-noise ratio analysis of policy gradient algorithms",
      NeurIPS) with a numerator unbiased before clipping (the ratio itself is not
      unbiased); inf if S is 0 and the numerator positive, NaN if both are 0.

    Units: gradient units (reward per unit of parameter) for bias_norm, their square
    for trace_cov and mse; cosines and snr are dimensionless.
    """
    estimates = _check(estimates, g)
    g = np.asarray(g, dtype=np.float64)
    if not (np.isfinite(reference_noise) and reference_noise >= 0):
        raise ValueError(f"reference_noise must be finite and >= 0, got {reference_noise}")
    trace_cov = _trace_cov(estimates)
    signal = max(0.0, squared_signal(estimates))
    if trace_cov > 0:
        snr = signal / trace_cov
    else:
        snr = float("inf") if signal > 0 else float("nan")
    mse = float(np.mean(np.sum((estimates - g) ** 2, axis=1))) - reference_noise
    return {
        "bias_norm": float(np.sqrt(max(0.0, squared_bias(estimates, g, reference_noise)))),
        "trace_cov": trace_cov,
        "mse": max(0.0, mse),
        "cosine": float(np.mean(cosines(estimates, g))),
        "pairwise_cosine": pairwise_cosine(estimates),
        "snr": snr,
    }


# ---------------------------------------------------------------- references


def reference_parts(episodes: int) -> np.ndarray:
    """(K,) int64 sub-batch sizes, summing to ``episodes``, of a Monte Carlo reference.

    K = max(:data:`REFERENCE_MIN_PARTS`, ceil(episodes / :data:`REFERENCE_CHUNK`)),
    at most episodes // 2 (the time baseline needs two episodes per sub-batch); sizes
    differ by at most one. Raises InvalidSpecError below 4 episodes (K < 2 leaves no
    spread to estimate the reference's noise from).
    """
    K = min(max(REFERENCE_MIN_PARTS, -(-episodes // REFERENCE_CHUNK)), episodes // 2)
    if K < 2:
        raise InvalidSpecError(
            f"reference_episodes must be at least 4 for a Monte Carlo reference gradient "
            f"(two sub-batches of two episodes), got {episodes}"
        )
    return episodes // K + (np.arange(K) < episodes % K).astype(np.int64)


def grouped_jackknife(
    parts: np.ndarray, sizes: np.ndarray, h: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, float]:
    """(h(mean) (P',), noise) for K >= 2 independent sub-batch estimates ``parts`` (K, P)
    of sizes ``sizes`` (K,) and a function ``h`` (P,) -> (P',) (default: the identity).

    mean = sum_k n_k g_k / E (E = sum_k n_k) and ``noise`` is the delete-a-group jackknife
    estimate of sum_p Var(h(mean)_p) (Busing, Meijer & van der Leeden 1999, "Delete-m
    jackknife for unequal m", Statistics and Computing 9:3-8): with h_k = h(mean without
    group k), m_k = E / n_k, pseudo-values p_k = m_k h(mean) - (m_k - 1) h_k and
    h_J = K h(mean) - sum_k (1 - n_k / E) h_k,

        noise = (1 / K) sum_k ||p_k - h_J||^2 / (m_k - 1).

    For the identity p_k = g_k, and noise = (1 / K) sum_k n_k / (E - n_k) ||g_k - mean||^2
    is unbiased for tr Cov(mean) when Cov(g_k) = C / n_k or the sizes are equal; for a
    smooth h it is the first-order (delta-method) approximation.
    """
    parts = np.atleast_2d(np.asarray(parts, dtype=np.float64))
    n = np.asarray(sizes, dtype=np.float64)
    K, E = len(n), float(n.sum())
    if K < 2 or parts.shape[0] != K:
        raise ValueError(f"need K >= 2 parts (K, P) and sizes (K,), got {parts.shape}, {n.shape}")
    h = h or (lambda v: v)
    mean = n @ parts / E
    value = np.asarray(h(mean), dtype=np.float64)
    without = (E * mean - n[:, None] * parts) / (E - n)[:, None]
    h_k = np.array([np.asarray(h(row), dtype=np.float64) for row in without])
    m = E / n
    pseudo = m[:, None] * value - (m - 1)[:, None] * h_k
    h_jack = K * value - (1 - n / E) @ h_k
    noise = float(np.mean(np.sum((pseudo - h_jack) ** 2, axis=1) / (m - 1)))
    return value, noise


@dataclass(frozen=True, eq=False)
class Reference:
    """What a cell's estimates are compared with.

    ``value`` (P,); ``label`` (``exact``, ``mc-<episodes>``, ``exact-natural``, ...);
    ``noise``: an unbiased (for a Monte Carlo gradient) or first-order estimate of
    E||value - v||^2, v the true value (0 where exact), subtracted by
    :func:`gradient_metrics`; ``parts`` (K, P) and ``sizes`` (K,): the independent
    sub-batch estimates a Monte Carlo reference is the size-weighted mean of (None
    where exact).
    """

    value: np.ndarray
    label: str
    noise: float = 0.0
    parts: np.ndarray | None = None
    sizes: np.ndarray | None = None

    def then(self, h: Callable[[np.ndarray], np.ndarray], suffix: str) -> Reference:
        """The reference for h(value), labelled ``label + suffix``; a Monte Carlo one gets
        the :func:`grouped_jackknife` noise of h over its sub-batches."""
        if self.parts is None:
            return Reference(h(self.value), self.label + suffix)
        value, noise = grouped_jackknife(self.parts, self.sizes, h)
        return Reference(value, self.label + suffix, noise)


# ---------------------------------------------------------------- one cell


def _finite(grad: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(grad)):
        raise NonFiniteGradientError(f"{what} has non-finite entries (NaN or inf)")
    return grad


def _memo(key: object, compute: Callable[[], T]) -> T:
    """``compute()`` once per process for the JSON-able ``key`` (a small LRU cache)."""
    k = canonical_json(key)
    if k in _MEMO:
        _MEMO.move_to_end(k)
        return _MEMO[k]
    value = _MEMO[k] = compute()
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return value


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def theta_point(env, policy, spec: ThetaSpec, backend: str = "cpu") -> np.ndarray:
    """The point theta (P,) that ``spec`` names for ``policy`` in ``env``.

    * ``init``: ``policy.init(seed)``.
    * ``random``: ``scale * z``, z (P,) standard normal from
      ``default_rng(derive_seed(seed, "theta-random"))``.
    * ``path``: theta_0 = ``policy.init(seed)``, then ``steps`` times
      theta_{k+1} = theta_k + lr * g_k (gradient *ascent* on J), g_k the exact
      gradient (``estimator: exact``) or ``estimate(estimator, env, policy,
      theta_k, episodes, derive_seed(seed, "theta-path", k), **params)``.

    Raises NonFiniteGradientError if a path step gives NaN or inf; NoExactFormError
    for an exact path in an env without a closed-form gradient.
    """
    if spec.kind == "init":
        return policy.init(spec.seed)
    if spec.kind == "random":
        rng = np.random.default_rng(derive_seed(spec.seed, "theta-random"))
        return spec.scale * rng.standard_normal(policy.n_params)
    theta = policy.init(spec.seed)
    for k in range(spec.steps):
        if spec.estimator == EXACT:
            g = exact_gradient(env, policy, theta)
        else:
            g = estimate(
                spec.estimator,
                env,
                policy,
                theta,
                spec.episodes,
                derive_seed(spec.seed, "theta-path", k),
                backend=backend,
                **spec.params,
            )
        theta = _finite(theta + spec.lr * g, f"theta {spec.display!r} after path step {k + 1}")
    return theta


def estimand(name: str) -> str:
    """What estimator ``name`` estimates: one of :data:`ESTIMANDS`, read from the registered
    Estimator's ``estimand`` attribute (``"gradient"`` where it has none)."""
    value = getattr(ESTIMATORS.get(name), "estimand", "gradient")
    if value not in ESTIMANDS:
        raise ValueError(f"estimator {name!r} has an estimand {value!r} not in {ESTIMANDS}")
    return value


def reference_gradient(
    env, policy, theta: np.ndarray, seed: int, episodes: int, backend: str
) -> Reference:
    """The reference gradient at ``theta``: exact where possible, else a Monte Carlo one.

    The Monte Carlo reference (label ``mc-<episodes>``) is the size-weighted mean of K
    independent :data:`REFERENCE_ESTIMATOR` estimates with :data:`REFERENCE_PARAMS`, of
    the sub-batch sizes of :func:`reference_parts`, sub-batch k drawn with seed
    ``derive_seed(seed, "reference", k)``; its noise is their :func:`grouped_jackknife`.
    """
    try:
        return Reference(_finite(exact_gradient(env, policy, theta), "the exact gradient"), "exact")
    except NoExactFormError:
        pass
    sizes = reference_parts(episodes)
    parts = np.empty((len(sizes), policy.n_params))
    for k, n in enumerate(sizes):
        g = estimate(
            REFERENCE_ESTIMATOR,
            env,
            policy,
            theta,
            int(n),
            derive_seed(seed, "reference", k),
            backend=backend,
            **REFERENCE_PARAMS,
        )
        parts[k] = _finite(g, f"the reference gradient (sub-batch {k})")
    value, noise = grouped_jackknife(parts, sizes)
    sizes.setflags(write=False)
    return Reference(value, f"mc-{episodes}", noise, _read_only(parts), sizes)


def reference_value(
    env,
    policy,
    theta: np.ndarray,
    seed: int,
    episodes: int,
    backend: str,
    name: str = REFERENCE_ESTIMATOR,
    params: dict | None = None,
    gradient: Reference | None = None,
) -> Reference:
    """The :class:`Reference` for the estimand of estimator ``name`` with ``params`` at
    ``theta``; ``gradient``: that of :func:`reference_gradient` if already known.

    * ``gradient``: :func:`reference_gradient` (``exact`` or ``mc-<episodes>``).
    * ``natural-gradient``: :func:`pgbench.exact_natural_gradient` (``exact-natural``);
      NoExactFormError where the env has no exact Fisher (a Monte Carlo natural gradient
      from ``episodes`` stored episodes would not fit in memory on CartPole).
    * ``restricted-step``: the estimator's ``from_gradient(g, params)`` of the reference
      gradient g, for ``restricted`` ``sqrt(2 epsilon / g.g) g`` (``<label of g>-restricted``;
      a Monte Carlo g passes on a first-order noise estimate, :meth:`Reference.then`).
    """
    kind = estimand(name)
    if kind == "natural-gradient":
        try:
            value = exact_natural_gradient(env, policy, theta)
        except NoExactFormError as exc:
            raise NoExactFormError(
                f"estimator {name!r} estimates the natural gradient, which has no reference "
                f"here ({exc}); an estimator's envs key limits where it runs"
            ) from None
        return Reference(_finite(value, "the exact natural gradient"), "exact-natural")
    gradient = gradient or reference_gradient(env, policy, theta, seed, episodes, backend)
    if kind == "gradient":
        return gradient
    from_gradient = ESTIMATORS.get(name).from_gradient
    if from_gradient is None:
        raise ValueError(f"estimator {name!r} estimates a {kind!r} but has no from_gradient")
    hp = estimator_params(name, **(params or {}))
    return gradient.then(lambda g: from_gradient(g, hp), "-restricted")


def _cell_point(cell, env, policy, backend: str) -> np.ndarray:
    """The cell's theta (memoised per (env, policy, point, backend))."""
    spec = cell.theta if cell.theta is not None else ThetaSpec()
    key = ("theta", cell.env.canonical(), cell.policy.canonical(), spec.definition(), backend)
    try:
        return _memo(key, lambda: _read_only(theta_point(env, policy, spec, backend)))
    except NoExactFormError as exc:
        raise NoExactFormError(f"theta {spec.display!r}: {exc}") from None


def _cell_reference(cell, env, policy, theta, backend: str) -> Reference:
    """The reference for the cell's estimator, memoised per process: the reference
    gradient per (env, policy, point, seed), shared by every estimator."""
    spec = cell.theta if cell.theta is not None else ThetaSpec()
    episodes = cell.settings["reference_episodes"]
    args = (env, policy, theta, cell.seed, episodes, backend)
    key = ("reference", cell.env.canonical(), cell.policy.canonical(), spec.definition())
    key += (cell.seed, episodes, backend)
    name, params = cell.method.name, cell.method.params
    kind = estimand(name)
    if kind == "natural-gradient":
        return reference_value(*args, name, params)

    def compute() -> Reference:
        ref = reference_gradient(*args)
        return Reference(_read_only(ref.value), ref.label, ref.noise, ref.parts, ref.sizes)

    gradient = _memo(key, compute)
    return gradient if kind == "gradient" else reference_value(*args, name, params, gradient)


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
    theta = _cell_point(cell, env, policy, backend)
    reference = _cell_reference(cell, env, policy, theta, backend)
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
            grads[r] = _finite(
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
