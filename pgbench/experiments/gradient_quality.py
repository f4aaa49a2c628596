"""Gradient quality: how close an estimator's gradients are to the true one, against batch size.

For one cell (env, policy, theta point, estimator, seed):

0. the point theta (P,) of :func:`theta_point` (``init``, ``random`` or a
   gradient-ascent ``path``; it does not depend on the cell's seed or estimator);
1. the reference gradient g (P,): exact (:func:`pgbench.exact_gradient`,
   labelled ``exact``) where the env has a closed form, else a reward-to-go
   estimate from ``reference_episodes`` episodes with its own derived seed
   (labelled ``mc-<episodes>``; its own noise, trace_cov / episodes, then
   enters bias_norm and mse). An estimator whose ``estimand`` is not the
   gradient is compared with the value of its estimand instead
   (:func:`reference_value`): ``natural-gradient`` with
   :func:`pgbench.exact_natural_gradient` (``exact-natural``; no Monte Carlo
   stand-in: a cell without an exact Fisher fails with a one-line message),
   ``restricted-step`` with the restricted step built from the reference
   gradient (``<reference>-restricted``);
2. for each batch size N (those of the suite within the estimator's
   ``min_batch`` and the env's ``max_batch``), R = ``repeats`` independent
   estimates g_1 .. g_R (R, P), repeat r drawn with seed
   ``derive_seed(seed, "estimate", N, r)``: the same for every estimator
   (common random numbers);
3. the metrics of :func:`gradient_metrics`, plus the mean ``env_steps`` and
   ``seconds`` (wall time, compilation excluded by a warm-up call) per estimate.

Metrics are pure functions of arrays, so they can be checked by hand. Points
and reference gradients are memoised per process (:data:`_MEMO`): the cells of
one (env, policy, point) share them, and recomputing gives the same bits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from pgbench.config import EXACT, ThetaSpec, budget_sizes
from pgbench.errors import NoExactFormError, NonFiniteGradientError, PgbenchError
from pgbench.experiments import CellOutput, MetricRow
from pgbench.sweep import Cell, canonical_json, derive_seed

REFERENCE_ESTIMATOR = "reward-to-go"
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
    from pgbench import estimate, exact_gradient

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
    from pgbench.registry import ESTIMATORS

    value = getattr(ESTIMATORS.get(name), "estimand", "gradient")
    if value not in ESTIMANDS:
        raise ValueError(f"estimator {name!r} has an estimand {value!r} not in {ESTIMANDS}")
    return value


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


def reference_value(
    env,
    policy,
    theta: np.ndarray,
    seed: int,
    episodes: int,
    backend: str,
    name: str = REFERENCE_ESTIMATOR,
    params: dict | None = None,
    gradient: tuple[np.ndarray, str] | None = None,
) -> tuple[np.ndarray, str]:
    """(value (P,), label) of the estimand of estimator ``name`` with ``params`` at ``theta``;
    ``gradient``: the (g, label) of :func:`reference_gradient` if already known.

    * ``gradient``: :func:`reference_gradient` (``exact`` or ``mc-<episodes>``).
    * ``natural-gradient``: :func:`pgbench.exact_natural_gradient` (``exact-natural``);
      NoExactFormError where the env has no exact Fisher (a Monte Carlo natural gradient
      from ``episodes`` stored episodes would not fit in memory on CartPole).
    * ``restricted-step``: ``sqrt(2 epsilon / g.g) g`` of the reference gradient g,
      ``epsilon`` from the params (``<label of g>-restricted``).
    """
    from pgbench import estimator_params, exact_natural_gradient

    kind = estimand(name)
    if kind == "natural-gradient":
        try:
            value = exact_natural_gradient(env, policy, theta)
        except NoExactFormError as exc:
            raise NoExactFormError(
                f"estimator {name!r} estimates the natural gradient, which has no reference "
                f"here ({exc}); an estimator's envs key limits where it runs"
            ) from None
        return _finite(value, "the exact natural gradient"), "exact-natural"
    g, label = gradient or reference_gradient(env, policy, theta, seed, episodes, backend)
    if kind == "gradient":
        return g, label
    from pgbench.estimators.natural import restricted_direction

    epsilon = estimator_params(name, **(params or {})).epsilon
    return restricted_direction(g, epsilon), f"{label}-restricted"


def _cell_point(cell: Cell, env, policy, backend: str) -> np.ndarray:
    """The cell's theta (memoised per (env, policy, point, backend))."""
    spec = cell.theta if cell.theta is not None else ThetaSpec()
    key = ("theta", cell.env.canonical(), cell.policy.canonical(), spec.definition(), backend)
    try:
        return _memo(key, lambda: _read_only(theta_point(env, policy, spec, backend)))
    except NoExactFormError as exc:
        raise NoExactFormError(f"theta {spec.display!r}: {exc}") from None


def _cell_reference(cell: Cell, env, policy, theta, backend: str) -> tuple[np.ndarray, str]:
    """The reference value for the cell's estimator and its label, memoised per process: the
    reference gradient per (env, policy, point, seed), shared by every estimator."""
    spec = cell.theta if cell.theta is not None else ThetaSpec()
    episodes = cell.settings["reference_episodes"]
    args = (env, policy, theta, cell.seed, episodes, backend)
    key = ("reference", cell.env.canonical(), cell.policy.canonical(), spec.definition())
    key += (cell.seed, episodes, backend)
    name, params = cell.method.name, cell.method.params
    kind = estimand(name)
    if kind == "natural-gradient":
        return reference_value(*args, name, params)

    def compute() -> tuple[np.ndarray, str]:
        g, label = reference_gradient(*args)
        return _read_only(g), label

    gradient = _memo(key, compute)
    return gradient if kind == "gradient" else reference_value(*args, name, params, gradient)


def is_unbiased(name: str, params: dict) -> bool:
    """Whether estimator ``name`` with ``params`` promises E[estimate] = grad J at every N."""
    from pgbench import estimator_params
    from pgbench.registry import ESTIMATORS

    return ESTIMATORS.get(name).is_unbiased(estimator_params(name, **params))


def batch_sizes(cell: Cell) -> list[int]:
    """The suite's batch sizes within the estimator's ``min_batch`` and the env's ``max_batch``."""
    min_batch = getattr(cell.method, "min_batch", None)
    max_batch = getattr(cell.env, "max_batch", None)
    return list(budget_sizes(cell.settings["batch_sizes"], min_batch, max_batch))


def run_cell(cell: Cell) -> CellOutput:
    """Rows ``(batch_size, N, metric, value)`` for every N and metric in :data:`METRICS`.

    Columns added to every row: ``reference`` (``exact`` or ``mc-<episodes>``) and
    ``unbiased`` (:func:`is_unbiased`).
    """
    from pgbench import estimate

    s = cell.settings
    env = cell.env.build()
    policy = cell.policy.build(env)
    backend = s["backend"]
    theta = _cell_point(cell, env, policy, backend)
    g, reference = _cell_reference(cell, env, policy, theta, backend)
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

    # warm-up: compile (or load) the kernels so that `seconds` times the estimate alone
    one(min(sizes), derive_seed(cell.seed, "warm-up"))
    rows: list[MetricRow] = []
    for N in sizes:
        grads = np.empty((R, policy.n_params))
        steps = np.empty(R)
        seconds = np.empty(R)
        for r in range(R):
            grad, info = one(N, derive_seed(cell.seed, "estimate", N, r), info=True)
            grads[r] = _finite(
                grad, f"estimator {cell.method.display!r}: estimate {r} at batch size {N}"
            )
            steps[r], seconds[r] = info["env_steps"], info["seconds"]
        metrics = gradient_metrics(grads, g)
        metrics["env_steps"] = float(steps.mean())
        metrics["seconds"] = float(seconds.mean())
        rows.extend(MetricRow(X_NAME, int(N), m, metrics[m]) for m in METRICS)
    return CellOutput(
        rows=rows, columns={"reference": reference, "unbiased": is_unbiased(name, params)}
    )
