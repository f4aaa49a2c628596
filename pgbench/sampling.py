"""Batches of episodes for estimators: the one door from Python to the kernels.

A :class:`Sampler` owns the compiled kernels of one (env, policy, backend) and
counts the environment steps it spends, so every estimator reports its cost
the same way. Seeds are explicit: the same ``seed`` gives the same episodes
(common random numbers), whatever the backend or thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgbench.envs.checks import human_bytes
from pgbench.errors import InvalidSpecError
from pgbench.kernels import EpisodeSums, build
from pgbench.kernels.build import require_target

BACKENDS = {"cpu": "parallel", "parallel": "parallel", "serial": "serial", "cuda": "cuda"}
MAX_ROLLOUT_BYTES = 32 * 1024**3  # stored episodes of one estimate or one update


def rollout_bytes(steps: int, env, policy) -> int:
    """Bytes of ``steps`` stored env steps (:class:`Batch`): observation (obs_dim), score
    (P), action, reward and mask, float64 each."""
    return 8 * steps * (env.obs_dim + policy.n_params + 3)


def rollout_problem(what: str, steps: int, env, policy) -> str | None:
    """Why ``what`` (storing up to ``steps`` env steps of ``env`` with ``policy``) does not
    fit in :data:`MAX_ROLLOUT_BYTES`, or None when it does."""
    need = rollout_bytes(steps, env, policy)
    if need <= MAX_ROLLOUT_BYTES:
        return None
    return (
        f"{what} stores up to {steps:,} steps x ({env.obs_dim} obs + {policy.n_params} score "
        f"+ 3) float64 = {need:.2g} bytes ({human_bytes(need)}); the bound is "
        f"{MAX_ROLLOUT_BYTES / 1024**3:g} GiB"
    )


@dataclass(frozen=True)
class Batch:
    """Stored episodes, padded to T steps, T the longest episode's length (at most the
    horizon asked for).

    obs (E, T, d) float64: ``obs[e, t]`` is where ``actions[e, t]`` was taken.
    actions (E, T) int64.  rewards (E, T) float64: reward of that action.
    mask (E, T) float64: 1 while the episode is alive, 0 after it ended.
    score (E, T, P) float64: grad_theta log pi(actions[e, t] | obs[e, t]).
    init_states (E, state_dim) float64: the exact internal start state.
    lengths (E,) int64: actions taken in each episode.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    score: np.ndarray
    init_states: np.ndarray
    lengths: np.ndarray

    @property
    def episodes(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def kernel_target(backend: str) -> str:
    try:
        return BACKENDS[backend]
    except KeyError:
        raise InvalidSpecError(
            f"unknown backend {backend!r}; use one of {sorted(BACKENDS)}"
        ) from None


def check_backend(backend: str) -> str:
    """The kernel target of ``backend`` after checking it can run here (CUDA: a GPU or
    the simulator); a one-line error otherwise."""
    target = kernel_target(backend)
    if target == "cuda":
        require_target(target)
    return target


def check_theta(policy, theta) -> np.ndarray:
    """theta as a contiguous float64 (P,) array, or a one-line error."""
    arr = np.ascontiguousarray(theta, dtype=np.float64)
    if arr.shape != (policy.n_params,):
        raise InvalidSpecError(
            f"theta must have shape ({policy.n_params},) for {policy.name} "
            f"(reshaped {policy.theta_shape}), got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidSpecError("theta has non-finite entries")
    return arr


def check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidSpecError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


class Sampler:
    """Episodes of ``policy`` in ``env`` on one backend, with a running step count."""

    def __init__(self, env, policy, backend: str = "cpu"):
        self.env = env
        self.policy = policy
        self.backend = backend
        self.kernels = build(env, policy, kernel_target(backend))
        self.env_steps = 0
        self.episodes = 0
        self.episode_returns: list[np.ndarray] = []  # undiscounted, per batch drawn

    def episode_sums(self, theta: np.ndarray, episodes: int, seed: int) -> EpisodeSums:
        """Per-episode sums (streaming kernel); see :class:`pgbench.kernels.EpisodeSums`."""
        out = self.kernels.stream(
            self.env.params, theta, seed, episodes, self.env.horizon, self.env.gamma
        )
        self._count(out.lengths, out.total_rewards)
        return out

    def batch(
        self,
        theta: np.ndarray,
        episodes: int,
        seed: int,
        horizon: int | None = None,
        scores: bool = True,
    ) -> Batch:
        """Stored episodes of at most ``horizon`` (default: the env's) steps, padded to the
        longest one (:class:`Batch`); with
        ``scores=False`` ``score`` has 0 columns (for policies with many parameters)."""
        T = self.env.horizon if horizon is None else check_count("horizon", horizon)
        problem = rollout_problem(
            f"a batch of {episodes:,} episodes", episodes * T, self.env, self.policy
        )
        if problem:
            raise InvalidSpecError(problem)
        tr = self.kernels.rollout(self.env.params, theta, seed, episodes, max(T, 1), scores)
        self._count(tr.lengths, tr.rewards.sum(axis=1))
        # Padded to the longest episode, not to the horizon: the estimators' array passes
        # then cost what the episodes hold (CartPole's early episodes last ~20 of 500 steps).
        L = max(1, int(tr.lengths.max(initial=0)))

        def trim(a: np.ndarray) -> np.ndarray:
            return a if a.shape[1] == L else np.ascontiguousarray(a[:, :L])

        return Batch(
            obs=trim(tr.obs),
            actions=trim(tr.actions),
            rewards=trim(tr.rewards),
            mask=trim(tr.mask),
            score=trim(tr.score),
            init_states=tr.init_states,
            lengths=tr.lengths,
        )

    def _count(self, lengths: np.ndarray, totals: np.ndarray) -> None:
        self.env_steps += int(lengths.sum())
        self.episodes += int(lengths.shape[0])
        self.episode_returns.append(np.asarray(totals, dtype=np.float64))
