"""``lqr``: a linear-quadratic regulator with its exact objective and gradient.

x_{t+1} = A x_t + B u_t + w_t with w_t ~ N(0, W), x_0 ~ N(x0_mean, Sigma0); the reward of
step t is -(x_t^T Q x_t + u_t^T R u_t); an episode takes ``horizon`` actions (no terminal
cost, no termination) and the objective is J = E[sum_{t<H} gamma^t r_t]. The
observation is x (n floats), the action u (m floats, unbounded: not clipped).

Under ``gaussian`` with ``hidden: []`` (u ~ N(K x + b, diag(sigma^2)), theta = [K (m, n)
row-major, b (m), log sigma (m)]), J and grad J have closed forms
(:mod:`pgbench.envs.lqr_exact`), exposed as ``env.exact``, so every estimator can be
judged against the exact gradient on a continuous-action problem as on the tabular MDPs.

Choosing a problem: ``problem`` names the defaults of A, B, Q and R (:data:`PROBLEMS`):
``double-integrator`` (n = 2, m = 1, the default) or ``two-masses`` (n = 4, m = 2); any of
A, B, Q, R given as nested lists replaces the named one, e.g. a scalar system
``{A: [[0.9]], B: [[1.0]], Q: [[1.0]], R: [[0.1]]}``. The noise is W = noise_std^2 I and
Sigma0 = x0_std^2 I unless W or Sigma0 is given; a fixed start is ``x0_mean: [...]`` with
``x0_std: 0``.

Randomness: lane j reset with seed s draws from ``numpy.random.default_rng(s)``: first
z_0 = standard_normal(n), x_0 = x0_mean + L_0 z_0, then per step w_t = L_W
standard_normal(n) (drawn :data:`NOISE_BLOCK` steps at a time: the same numbers), with
L L^T the covariance (:func:`psd_factor`).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import numpy as np
from pydantic import Field

import pgbench.envs.lqr_exact as lqr_exact
from pgbench.envs.base import Env
from pgbench.envs.checks import Gamma, Horizon, check_float, check_gamma, check_horizon
from pgbench.envs.external import external_env
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

DT = 0.1  # time step of the named problems, s
SPRING = 1.0  # spring constant between the two unit masses of ``two-masses``
# The named problems: (A, B, Q, R) as nested lists.
PROBLEMS: dict[str, tuple[list, list, list, list]] = {
    # a unit mass on a line, state (position, velocity), force u; exact zero-order hold
    "double-integrator": (
        [[1.0, DT], [0.0, 1.0]],
        [[DT * DT / 2], [DT]],
        [[1.0, 0.0], [0.0, 1.0]],
        [[0.1]],
    ),
    # two unit masses joined by a spring, state (p1, v1, p2, v2), a force on each;
    # explicit Euler: x' = x + DT * (dynamics)
    "two-masses": (
        [
            [1.0, DT, 0.0, 0.0],
            [-SPRING * DT, 1.0, SPRING * DT, 0.0],
            [0.0, 0.0, 1.0, DT],
            [SPRING * DT, 0.0, -SPRING * DT, 1.0],
        ],
        [[0.0, 0.0], [DT, 0.0], [0.0, 0.0], [0.0, DT]],
        np.eye(4).tolist(),
        (0.1 * np.eye(2)).tolist(),
    ),
}
DEFAULT_NOISE_STD = 0.1
DEFAULT_X0_STD = 1.0
SYMMETRY_RTOL = 1e-10  # |M - M^T| <= SYMMETRY_RTOL * max(1, max |M|)
PSD_RTOL = 1e-10  # smallest eigenvalue >= -PSD_RTOL * max(1, largest)
NOISE_BLOCK = 64  # steps of process noise drawn at once per lane


def _array(name: str, value, ndim: int) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(
            f"lqr {name} must be numeric (nested lists of numbers): {exc}"
        ) from None
    if arr.ndim != ndim:
        what = "a matrix (nested lists)" if ndim == 2 else "a vector (a list)"
        raise InvalidSpecError(f"lqr {name} must be {what}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidSpecError(f"lqr {name} has non-finite entries")
    return arr


def _shaped(name: str, value, shape: tuple[int, int], dims: str) -> np.ndarray:
    arr = _array(name, value, 2)
    if arr.shape != shape:
        raise InvalidSpecError(f"lqr {name} must have shape {dims} = {shape}, got {arr.shape}")
    return arr


def _psd(name: str, M: np.ndarray) -> np.ndarray:
    """``M`` symmetrized after checking it is symmetric positive semi-definite."""
    scale = max(1.0, float(np.max(np.abs(M))))
    asym = float(np.max(np.abs(M - M.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise InvalidSpecError(
            f"lqr {name} must be symmetric, max |{name} - {name}^T| = {asym:.3g}"
        )
    M = 0.5 * (M + M.T)
    eig = np.linalg.eigvalsh(M)
    if eig[0] < -PSD_RTOL * max(1.0, float(eig[-1])):
        raise InvalidSpecError(
            f"lqr {name} must be positive semi-definite, smallest eigenvalue {eig[0]:.3g}"
        )
    return M


def _covariance(name: str, given, std_name: str, std, default_std: float, n: int) -> np.ndarray:
    if given is not None and std is not None:
        raise InvalidSpecError(f"lqr: give {name} or {std_name}, not both")
    if given is not None:
        return _psd(name, _shaped(name, given, (n, n), "(n, n)"))
    s = default_std if std is None else check_float(f"lqr {std_name}", std, 0.0)
    return s * s * np.eye(n)


def lqr_problem(
    problem: str = "double-integrator",
    A=None,
    B=None,
    Q=None,
    R=None,
    W=None,
    Sigma0=None,
    x0_mean=None,
    noise_std: float | None = None,
    x0_std: float | None = None,
) -> lqr_exact.LqrProblem:
    """The validated float64 matrices (one-line InvalidSpecError otherwise); arguments as
    :class:`LqrParams`. n comes from A, m from B."""
    if problem not in PROBLEMS:
        raise InvalidSpecError(f"lqr problem must be one of {sorted(PROBLEMS)}, got {problem!r}")
    named = PROBLEMS[problem]
    A = _array("A", named[0] if A is None else A, 2)
    if A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise InvalidSpecError(f"lqr A must be a square matrix (n, n), got shape {A.shape}")
    n = A.shape[0]
    B = _array("B", named[1] if B is None else B, 2)
    if B.shape[0] != n or B.shape[1] < 1:
        raise InvalidSpecError(
            f"lqr B must have shape (n, m) = ({n}, m), m >= 1 (n from A), got {B.shape}"
        )
    m = B.shape[1]
    Q = _psd("Q", _shaped("Q", named[2] if Q is None else Q, (n, n), "(n, n)"))
    R = _psd("R", _shaped("R", named[3] if R is None else R, (m, m), "(m, m)"))
    W = _covariance("W", W, "noise_std", noise_std, DEFAULT_NOISE_STD, n)
    Sigma0 = _covariance("Sigma0", Sigma0, "x0_std", x0_std, DEFAULT_X0_STD, n)
    mean = np.zeros(n) if x0_mean is None else _array("x0_mean", x0_mean, 1)
    if mean.shape != (n,):
        raise InvalidSpecError(f"lqr x0_mean must have shape (n,) = ({n},), got {mean.shape}")
    return lqr_exact.LqrProblem(A, B, Q, R, W, Sigma0, mean)


def psd_factor(M: np.ndarray) -> np.ndarray:
    """L (n, n) with L L^T = M for a symmetric PSD ``M``: sqrt of the diagonal where M is
    diagonal, else Cholesky, else (singular M) from the eigendecomposition."""
    if np.count_nonzero(M - np.diag(np.diag(M))) == 0:
        return np.diag(np.sqrt(np.maximum(np.diag(M), 0.0)))
    try:
        return np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        eig, V = np.linalg.eigh(M)
        return V * np.sqrt(np.maximum(eig, 0.0))


class LqrLanes:
    """``n_lanes`` copies of the LQR, stepped together in numpy (the
    :class:`pgbench.envs.external.VectorLanes` protocol). Observations are x (L, n);
    actions u (L, m) float64. A lane never terminates or truncates itself (the drivers
    truncate at the horizon); one never reset steps from NaN with no noise (its results
    are unused)."""

    def __init__(self, problem: lqr_exact.LqrProblem, n_lanes: int):
        self.problem = problem
        self.n_lanes = int(n_lanes)
        n = problem.n
        self._start = psd_factor(problem.Sigma0)
        self._noise = psd_factor(problem.W)
        self._x = np.full((self.n_lanes, n), np.nan)
        self._rngs: list[np.random.Generator | None] = [None] * self.n_lanes
        self._z = np.zeros((self.n_lanes, NOISE_BLOCK, n))  # standard normals to come
        self._k = np.zeros(self.n_lanes, dtype=np.int64)  # next row of _z per lane

    def reset(self, lanes: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Start lanes ``lanes`` (M,) with seeds ``seeds`` (M,); returns x_0 (M, n)."""
        lanes = np.asarray(lanes, dtype=np.int64)
        p = self.problem
        for j, seed in zip(lanes.tolist(), np.asarray(seeds).tolist(), strict=True):
            rng = np.random.default_rng(int(seed))
            self._rngs[j] = rng
            self._x[j] = p.x0_mean + self._start @ rng.standard_normal(p.n)
            self._refill(j)
        return self._x[lanes].copy()

    def _refill(self, j: int) -> None:
        rng = self._rngs[j]
        if rng is not None:
            self._z[j] = rng.standard_normal((NOISE_BLOCK, self.problem.n))
        self._k[j] = 0

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One step of every lane with u = ``actions`` (L, m); returns (x' (L, n), rewards
        (L,), terminated (L,) and truncated (L,), all False)."""
        p = self.problem
        u = np.asarray(actions, dtype=np.float64).reshape(self.n_lanes, p.m)
        x = self._x
        cost = np.einsum("li,ij,lj->l", x, p.Q, x) + np.einsum("li,ij,lj->l", u, p.R, u)
        for j in np.flatnonzero(self._k >= NOISE_BLOCK).tolist():
            self._refill(j)
        z = self._z[np.arange(self.n_lanes), self._k]
        self._k += 1
        self._x = x @ p.A.T + u @ p.B.T + z @ self._noise.T
        never = np.zeros(self.n_lanes, dtype=bool)
        return self._x.copy(), -cost, never, never.copy()

    def close(self) -> None:
        self._rngs = [None] * self.n_lanes


class LqrExact:
    """``env.exact`` of ``lqr``: J and grad J of a linear ``gaussian`` policy in closed form
    (:mod:`pgbench.envs.lqr_exact`); NoExactFormError for any other policy."""

    def __init__(self, problem: lqr_exact.LqrProblem, gamma: float, horizon: int):
        self.problem = problem
        self.gamma = gamma
        self.horizon = horizon

    def check(self, policy, theta) -> np.ndarray:
        """theta (P,) float64 if ``policy`` is ``gaussian`` with a linear mean of x and
        the layout [K (m, n), b (m), log sigma (m)]; else NoExactFormError.

        The policy is read by its name, sizes and mean: its ``probs_ref`` means at x = 0
        and the unit vectors must be b and b + K's columns (another mean network with as
        many parameters would not match)."""
        p = self.problem
        n, m = p.n, p.m
        what = f"policy {getattr(policy, 'name', policy)!r} on lqr(n={n}, m={m})"
        P = lqr_exact.n_params(n, m)
        if (
            getattr(policy, "name", None) != "gaussian"
            or getattr(policy, "action_dim", None) != m
            or getattr(policy, "obs_dim", None) != n
            or getattr(policy, "n_params", None) != P
        ):
            raise NoExactFormError(
                f"no exact form for {what}: only 'gaussian' with hidden [] (linear mean, "
                f"{P} parameters) is supported"
            )
        theta = np.asarray(theta, dtype=np.float64)
        K, b, _ = lqr_exact.split_theta(theta, n, m)
        X = np.vstack([np.zeros(n), np.eye(n)])
        try:
            means = np.asarray(policy.probs_ref(theta, X), dtype=np.float64)[:, :m]
        except (TypeError, ValueError, IndexError):
            means = None
        expected = X @ K.T + b
        if means is None or means.shape != expected.shape or not np.allclose(means, expected):
            raise NoExactFormError(f"no exact form for {what}: its mean is not K x + b")
        return theta

    def objective(self, policy, theta) -> float:
        """J(theta) (reward units)."""
        theta = self.check(policy, theta)
        return lqr_exact.objective(self.problem, theta, self.gamma, self.horizon)

    def gradient(self, policy, theta) -> np.ndarray:
        """grad_theta J, (P,) in theta's layout."""
        theta = self.check(policy, theta)
        return lqr_exact.gradient(self.problem, theta, self.gamma, self.horizon)

    def infinite_horizon_objective(self, policy, theta) -> float:
        """E[sum_{t>=0} gamma^t r_t] (discrete Lyapunov equations; gamma < 1 and a
        closed loop with sqrt(gamma) rho(A + B K) < 1, else InvalidSpecError)."""
        theta = self.check(policy, theta)
        return lqr_exact.infinite_horizon_objective(self.problem, theta, self.gamma)


class LqrParams(HyperParams):
    """Parameters of ``lqr`` (matrices as nested lists; see :mod:`pgbench.envs.lqr`)."""

    problem: Literal["double-integrator", "two-masses"] = Field(
        "double-integrator",
        description="named defaults of A, B, Q, R: double-integrator (n=2, m=1), two-masses "
        "(n=4, m=2)",
    )
    A: Any = Field(None, description="dynamics (n, n); default the problem's")
    B: Any = Field(None, description="control input (n, m); default the problem's")
    Q: Any = Field(None, description="state cost (n, n), symmetric PSD; default the problem's")
    R: Any = Field(None, description="control cost (m, m), symmetric PSD; default the problem's")
    W: Any = Field(None, description="process-noise covariance (n, n); default noise_std^2 I")
    Sigma0: Any = Field(None, description="start covariance (n, n); default x0_std^2 I")
    x0_mean: Any = Field(None, description="start mean (n,); default 0")
    noise_std: float | None = Field(
        None, description=f"process-noise std per component (default {DEFAULT_NOISE_STD})"
    )
    x0_std: float | None = Field(
        None, description=f"start std per component (default {DEFAULT_X0_STD}; 0: fixed start)"
    )
    gamma: Gamma = Field(0.95, description="discount in (0, 1]")
    horizon: Horizon = Field(50, description="actions per episode (finite)")


# numpy lanes cost little each: a batch of episodes steps up to this many at once
LANES = 1024


def make_lqr(
    problem: str = "double-integrator",
    A=None,
    B=None,
    Q=None,
    R=None,
    W=None,
    Sigma0=None,
    x0_mean=None,
    noise_std: float | None = None,
    x0_std: float | None = None,
    gamma: float = 0.95,
    horizon: int = 50,
) -> Env:
    """A linear-quadratic regulator with exact J and grad J (see :mod:`pgbench.envs.lqr`)."""
    p = lqr_problem(problem, A, B, Q, R, W, Sigma0, x0_mean, noise_std, x0_std)
    horizon, gamma = check_horizon(horizon), check_gamma(gamma)
    n, m = p.n, p.m
    return external_env(
        "lqr",
        functools.partial(LqrLanes, p),
        obs_dim=n,
        n_actions=0,
        action_dim=m,
        action_low=np.full(m, -np.inf),
        action_high=np.full(m, np.inf),
        horizon=horizon,
        gamma=gamma,
        spec={"problem": problem, "n": n, "m": m, "gamma": gamma, "horizon": horizon},
        exact=LqrExact(p, gamma, horizon),
        max_lanes=LANES,
    )


ENVS.add(
    Component(
        name="lqr",
        fn=make_lqr,
        params=LqrParams,
        summary="linear-quadratic regulator, continuous actions, exact J and grad J",
        citation="Fazel, Ge, Kakade & Mesbahi (2018), ICML, Global convergence of policy "
        "gradient methods for the LQR",
    )
)
