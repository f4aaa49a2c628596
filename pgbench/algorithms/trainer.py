"""A training run: the budget, the experience it hands out, and the learning curve.

Algorithms draw experience through a :class:`TrainRun` only, so env steps are
counted the same way for all of them, and they report after each update with
:meth:`TrainRun.log`. Every ``log_every`` env steps the run records one point
of the learning curve (the tidy rows of :mod:`pgbench.results`):

==================  =============================================================
metric              meaning
==================  =============================================================
``train_return``    mean undiscounted return of the training episodes that
                    ended since the previous point (NaN if none ended)
``eval_return``     mean undiscounted return of ``eval_episodes`` evaluation
                    episodes of the greedy / mean-action policy (own streams)
``exact_value``     J(theta) in closed form, where the env has one (tabular)
``optimal_value``   max over policies of J by value iteration (tabular; constant)
``seconds``         wall time of training so far, evaluation excluded
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

from pgbench.kernels import Lanes, Segment, build, build_returns
from pgbench.sampling import Sampler, kernel_target
from pgbench.sweep import derive_seed

CURVE_METRICS = (
    "train_return",
    "eval_return",
    "exact_value",
    "optimal_value",
    "seconds",
    "grad_norm",
    "kl",
    "entropy",
)
# Metrics logged only where they exist: exact values on tabular envs, evaluation
# returns when evaluation episodes are asked for, KL and entropy for algorithms
# that compute them. A missing training return (no episode ended yet) stays NaN.
_WHERE_DEFINED = frozenset(CURVE_METRICS) - {"train_return", "seconds"}


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
        self.rows: list[tuple[int, str, float]] = []
        self.updates = 0
        self._segment_steps = 0
        self._pending_returns: list[np.ndarray] = []
        self._next_log = 0
        self._n_logged = 0
        self._eval_seconds = 0.0
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

    def lanes(self, n_lanes: int, stream: int = 0) -> Lanes:
        """``n_lanes`` persistent environments on their own streams (``stream`` k)."""
        seed = derive_seed(self.seed, "train", stream)
        return self.kernels.start_lanes(self.env.params, seed, n_lanes)

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
        self.updates += 1
        if self.due():
            self._record(theta, metrics)

    def finish(self, theta: np.ndarray) -> None:
        """Record the final point unless the last update already did."""
        if not self.rows or self.rows[-1][0] != self.env_steps:
            self._record(theta, {})

    def _record(self, theta: np.ndarray, metrics: dict) -> None:
        seconds = time.perf_counter() - self._start - self._eval_seconds
        returns = self._drain_returns()
        t0 = time.perf_counter()
        values = {
            "train_return": float(returns.mean()) if returns.size else math.nan,
            "eval_return": self.evaluate(theta),
            "exact_value": self._exact_value(theta),
            "optimal_value": self._optimal_value(),
            "seconds": seconds,
        }
        self._eval_seconds += time.perf_counter() - t0
        for name in ("grad_norm", "kl", "entropy"):
            values[name] = float(metrics.get(name, math.nan))
        x = self.env_steps
        self.rows.extend(
            (x, name, values[name])
            for name in CURVE_METRICS
            if not (name in _WHERE_DEFINED and math.isnan(values[name]))
        )
        self._n_logged += 1
        while self._next_log <= x:
            self._next_log += self.log_every

    def _drain_returns(self) -> np.ndarray:
        parts = self._pending_returns + self.sampler.episode_returns
        self._pending_returns = []
        self.sampler.episode_returns = []
        return np.concatenate(parts) if parts else np.zeros(0)

    def evaluate(self, theta: np.ndarray) -> float:
        if self.eval_episodes <= 0:
            return math.nan
        from pgbench.algorithms.evaluation import evaluate_returns

        seed = derive_seed(self.seed, "eval", self._n_logged)
        return float(
            evaluate_returns(self.env, self.policy, theta, self.eval_episodes, seed).mean()
        )

    def _optimal_value(self) -> float:
        if self.env.tabular is None:
            return math.nan
        if not hasattr(self, "_optimum"):
            from pgbench import exact

            self._optimum = exact.optimal_value(self.env)
        return self._optimum

    def _exact_value(self, theta: np.ndarray) -> float:
        if self.env.tabular is None or self.policy.name != "tabular-softmax":
            return math.nan
        from pgbench import exact

        return float(exact.exact_objective(self.env, self.policy, theta))
