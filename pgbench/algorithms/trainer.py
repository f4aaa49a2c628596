"""A training run: the budget, the experience it hands out, and the learning curve.

Algorithms draw experience through a :class:`TrainRun` only, so env steps are
counted the same way for all of them, and they report after each update with
:meth:`TrainRun.log`. The learning curve (the tidy rows of :mod:`pgbench.results`)
has its points on the grid x = 0, ``log_every``, 2 ``log_every``, ... (below the
budget) and x = the budget: the point at x holds the state after the first update
that brought the env-step count to x or beyond (its ``env_steps`` metric says how
far beyond). Every seed of a run therefore logs at the same x; an update that
crosses several grid points gives a point at the largest of them only.

==================  =============================================================
metric              meaning
==================  =============================================================
``train_return``    mean undiscounted return of the training episodes that
                    ended since the previous point (NaN if none ended)
``eval_return``     mean undiscounted return of ``eval_episodes`` evaluation
                    episodes of the greedy / mean-action policy (own streams)
``exact_value``     J(theta) in closed form, where the env has one (tabular, LQR)
``optimal_value``   max over policies of J by value iteration (tabular; constant)
``seconds``         wall time of training so far, evaluation and Numba
                    compilation (or cache loading) excluded
``env_steps``       env steps actually spent when the point was recorded (>= x)
``grad_norm``       L2 norm of the last update's policy gradient estimate
``kl``              mean KL(pi_old || pi_new) of the last update on its batch
``entropy``         mean policy entropy (nats) on the last batch
==================  =============================================================

Random streams: training lanes of stream ``k`` use the seed
``derive_seed(seed, "train", k)``; evaluation point ``i`` uses
``derive_seed(seed, "eval", i)``; ``rng`` (minibatch order, perturbations) is
seeded with ``derive_seed(seed, "rng")``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from pgbench import exact
from pgbench.algorithms.evaluation import evaluate_returns
from pgbench.algorithms.normalize import Normalizer
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.kernels import Lanes, Segment, build, build_returns, timing
from pgbench.metrics import WHERE_DEFINED
from pgbench.sampling import Sampler, kernel_target
from pgbench.seeding import derive_seed

CURVE_METRICS = (
    "train_return",
    "eval_return",
    "exact_value",
    "optimal_value",
    "seconds",
    "env_steps",
    "grad_norm",
    "kl",
    "entropy",
)
# Metrics in pgbench.metrics.WHERE_DEFINED are logged only where they exist: exact values
# on tabular envs, evaluation returns when evaluation episodes are asked for, KL and
# entropy for algorithms that compute them. A missing training return stays NaN.


class TrainRun:
    """Budget, experience and logging of one (algorithm, env, policy, seed) run.

    Args:
        env, policy: what to train.
        theta0: (P,) initial parameters.
        env_steps: budget of environment steps (the run is done once spent).
        seed: master seed of the run.
        backend: kernel backend of the rollouts (``cpu``, ``serial``, ``cuda``).
        log_every: env steps between learning-curve points.
        eval_episodes: episodes per evaluation (0: no evaluation).
    """

    def __init__(
        self,
        env,
        policy,
        theta0: np.ndarray,
        env_steps: int,
        seed: int,
        backend: str = "cpu",
        log_every: int = 10_000,
        eval_episodes: int = 10,
    ):
        self.env = env
        self.policy = policy
        self.theta0 = np.array(theta0, dtype=np.float64)
        self.budget = int(env_steps)
        self.seed = int(seed)
        self.log_every = int(log_every)
        self.eval_episodes = int(eval_episodes)
        self.backend = backend
        self.kernels = build(env, policy, kernel_target(backend))
        # segments are small (lanes x steps): the serial scan beats a thread-pool launch
        target = kernel_target(backend)
        self.returns = build_returns("serial" if target == "parallel" else target)
        self.sampler = Sampler(env, policy, backend)
        self.rng = np.random.default_rng(derive_seed(self.seed, "rng"))
        self.normalizer: Normalizer | None = None  # set by lanes(normalize=...)
        self.rows: list[tuple[int, str, float]] = []
        self._segment_steps = 0
        self._pending_returns: list[np.ndarray] = []
        self._next_log = 0
        self._n_logged = 0
        self._point = 0  # index in rows of the last point's first row
        self._point_steps = -1  # env steps at the last point
        # the clock: wall time since here, less evaluation and Numba compilation
        self._eval_seconds = 0.0
        self._eval_compile = 0.0  # compile seconds inside evaluation (counted there)
        self._compile_start = timing.compile_seconds()
        self._start = time.perf_counter()

    # ------------------------------------------------------------ experience

    @property
    def env_steps(self) -> int:
        """Env steps spent so far (segments and episode batches)."""
        return self._segment_steps + self.sampler.env_steps

    @property
    def progress(self) -> float:
        """Fraction of the budget spent, in [0, 1]."""
        return min(1.0, self.env_steps / self.budget) if self.budget else 1.0

    def done(self) -> bool:
        return self.env_steps >= self.budget

    def lanes(
        self, n_lanes: int, stream: int = 0, normalize=None, gamma: float | None = None
    ) -> Lanes:
        """``n_lanes`` persistent environments on their own streams (``stream`` k); with
        ``normalize`` (:class:`~pgbench.algorithms.normalize.NormalizeParams`) their
        observations and rewards are normalised (statistics shared by all the run's
        lanes; rewards scaled by the return of discount ``gamma``, default the env's)."""
        seed = derive_seed(self.seed, "train", stream)
        if normalize is None or not normalize.any:
            return self.kernels.start_lanes(self.env.params, seed, n_lanes)
        if self.env.native:
            raise InvalidSpecError(
                f"normalize needs an environment stepped from Python (gymnasium); "
                f"{self.env.describe()} runs in native kernels"
            )
        if self.normalizer is None:
            g = self.env.gamma if gamma is None else gamma
            self.normalizer = Normalizer(normalize, self.env.obs_dim, g)
        return self.kernels.start_lanes(
            self.env.params, seed, n_lanes, normalizer=self.normalizer
        )

    def segment(self, theta: np.ndarray, lanes: Lanes, n_steps: int) -> Segment:
        """``n_steps`` steps of every lane of ``lanes`` under ``theta``."""
        seg = self.kernels.segment(self.env.params, theta, lanes, n_steps, self.env.horizon)
        self.record_segment(seg, lanes)
        return seg

    def record_segment(self, seg: Segment, lanes: Lanes) -> None:
        """Count a segment run outside :meth:`segment` (actor threads) and keep the
        returns of the episodes that ended in it."""
        self._segment_steps += lanes.n_lanes * seg.actions.shape[1]
        ended = seg.episode_lengths > 0
        if ended.any():
            self._pending_returns.append(seg.episode_returns[ended])

    # ------------------------------------------------------------ logging

    def due(self) -> bool:
        """True when the next :meth:`log` records a curve point (so an algorithm
        computes its update statistics only then)."""
        return self.env_steps >= self._next_log

    def log(self, theta: np.ndarray, **metrics: float) -> None:
        """Report after an update; records a curve point each ``log_every`` env steps.

        ``metrics``: ``grad_norm``, ``kl``, ``entropy`` of the update (others
        are ignored unless listed in :data:`CURVE_METRICS`).
        """
        if self.due():
            self._record(theta, metrics)

    def finish(self, theta: np.ndarray) -> None:
        """Record the final point unless the last update already did."""
        if self._point_steps != self.env_steps:
            self._record(theta, {})

    @property
    def compile_seconds(self) -> float:
        """Seconds of Numba compilation (or cache loading) since the run started."""
        return timing.compile_seconds() - self._compile_start

    def training_seconds(self) -> float:
        """Wall seconds since the run started, less evaluation and Numba compilation."""
        compiled = self.compile_seconds - self._eval_compile  # evaluation's is in _eval_seconds
        return time.perf_counter() - self._start - self._eval_seconds - compiled

    def grid_point(self, steps: int) -> int:
        """The curve's x of a point recorded after ``steps`` env steps: the budget once it
        is spent, else the largest multiple of ``log_every`` at or below ``steps``."""
        if steps >= self.budget:
            return self.budget
        return steps // self.log_every * self.log_every

    def _record(self, theta: np.ndarray, metrics: dict) -> None:
        seconds = self.training_seconds()
        returns = self._drain_returns()
        t0, c0 = time.perf_counter(), timing.compile_seconds()
        values = {
            "train_return": float(returns.mean()) if returns.size else math.nan,
            "eval_return": self.evaluate(theta),
            "exact_value": self._exact_value(theta),
            "optimal_value": self._optimal_value(),
            "seconds": seconds,
            "env_steps": float(self.env_steps),
        }
        self._eval_seconds += time.perf_counter() - t0
        self._eval_compile += timing.compile_seconds() - c0
        for name in ("grad_norm", "kl", "entropy"):
            values[name] = float(metrics.get(name, math.nan))
        steps = self.env_steps
        x = self.grid_point(steps)
        if self.rows and self.rows[-1][0] == x:
            # a later state at the same grid point (threads that finished their segment
            # after the budget was spent): it replaces the earlier one
            del self.rows[self._point :]
        self._point = len(self.rows)
        self._point_steps = steps
        self.rows.extend(
            (x, name, values[name])
            for name in CURVE_METRICS
            if not (name in WHERE_DEFINED and math.isnan(values[name]))
        )
        self._n_logged += 1
        while self._next_log <= steps:
            self._next_log += self.log_every

    def _drain_returns(self) -> np.ndarray:
        parts = self._pending_returns + self.sampler.episode_returns
        self._pending_returns = []
        self.sampler.episode_returns = []
        return np.concatenate(parts) if parts else np.zeros(0)

    def evaluate(self, theta: np.ndarray) -> float:
        if self.eval_episodes <= 0:
            return math.nan
        seed = derive_seed(self.seed, "eval", self._n_logged)
        frozen = None if self.normalizer is None else self.normalizer.frozen()
        return float(
            evaluate_returns(
                self.env, self.policy, theta, self.eval_episodes, seed, frozen
            ).mean()
        )

    def _optimal_value(self) -> float:
        if self.env.tabular is None:
            return math.nan
        if not hasattr(self, "_optimum"):
            self._optimum = exact.optimal_value(self.env)
        return self._optimum

    def _exact_value(self, theta: np.ndarray) -> float:
        if self.env.exact is not None:  # a closed form of its own (LQR), where it has one
            try:
                return float(exact.exact_objective(self.env, self.policy, theta))
            except NoExactFormError:
                return math.nan
        if self.env.tabular is None or not self.policy.exact_form:
            return math.nan
        return float(exact.exact_objective(self.env, self.policy, theta))
