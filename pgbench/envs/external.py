"""Environments stepped from Python: the lane protocol and the drivers that walk it.

Native environments are Numba cores (:mod:`pgbench.envs.base`); an environment
that is not (a Gymnasium env, a user's batched numpy simulator, LQR's linear
dynamics with matrix-valued actions) is handed to pgbench as a factory of
:class:`VectorLanes`: L copies stepped together, each reset with a seed of its
own. :func:`external_env` turns such a factory into an :class:`Env` whose
``make_drivers`` gives the kernels' interface (``stream``, ``rollout``,
``start_lanes``, ``segment``: :class:`pgbench.kernels.build.Kernels`), so every
estimator, algorithm and experiment runs on it unchanged.

Seeds stay keyed: episode ``e`` under the seed ``s`` of a call resets with
``reset_seed(s, e)``, and its action draws are the keyed uniforms of its stream
(:func:`pgbench.kernels.external.action_uniforms`), so an episode's result depends
on (s, e) alone: not on the lane it ran in, the number of lanes or the executor.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pgbench.envs.base import Env
from pgbench.envs.checks import check_gamma, check_horizon
from pgbench.envs.python_drivers import ExternalDrivers
from pgbench.errors import InvalidSpecError


class VectorLanes(Protocol):
    """L copies of an environment stepped together (a Gymnasium vector env with its
    autoreset disabled, or a batched simulator).

    ``reset(lanes, seeds)``: reset the lanes ``lanes`` ((M,) int64 indices) with the
    integer seeds ``seeds`` ((M,) int64 >= 0; the same seed gives the same start and the
    same later randomness of that lane); returns their observations (M, OD) float64.

    ``step(actions)``: one step of every lane; ``actions`` (L,) int64 for a discrete
    action, (L, K) float64 for a continuous one (already clipped to the bounds by the
    driver where :func:`external_env` was asked to). Returns ``(obs (L, OD), rewards
    (L,), terminated (L,) bool, truncated (L,) bool)``: the observation each step led to
    (a lane that ended is not reset by ``step``; the driver calls ``reset`` for it before
    its next step).

    ``close()``: release what the lanes hold (processes, files).
    """

    n_lanes: int

    def reset(self, lanes: np.ndarray, seeds: np.ndarray) -> np.ndarray: ...

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


DEFAULT_MAX_LANES = 16  # copies stepped together by one estimate's episodes


@dataclass(eq=False)
class LanePool:
    """Idle :class:`VectorLanes` of one environment, by lane count, for reuse across calls
    (every episode resets with its own seed, so reuse changes no result)."""

    make_lanes: Callable[[int], VectorLanes]
    idle: dict[int, list] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def borrow(self, n_lanes: int) -> VectorLanes:
        with self.lock:
            free = self.idle.get(n_lanes)
            if free:
                return free.pop()
        return self.make_lanes_checked(n_lanes)

    def make_lanes_checked(self, n_lanes: int) -> VectorLanes:
        """New lanes (not pooled): ``make_lanes(n_lanes)`` after checking its lane count."""
        lanes = self.make_lanes(n_lanes)
        if getattr(lanes, "n_lanes", None) != n_lanes:
            raise InvalidSpecError(
                f"the lanes factory was asked for {n_lanes} lanes and returned "
                f"{getattr(lanes, 'n_lanes', None)!r}"
            )
        return lanes

    def give_back(self, lanes: VectorLanes) -> None:
        with self.lock:
            self.idle.setdefault(lanes.n_lanes, []).append(lanes)

    def close(self) -> None:
        with self.lock:
            pools, self.idle = self.idle, {}
        for free in pools.values():
            for lanes in free:
                lanes.close()


@dataclass(frozen=True, eq=False)
class ExternalSpec:
    """What the drivers need to know of an environment stepped from Python."""

    pool: LanePool
    obs_dim: int
    n_actions: int
    action_dim: int
    action_low: np.ndarray  # (max(K, 1),)
    action_high: np.ndarray
    clip_actions: bool
    max_lanes: int

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """The actions handed to the lanes: clipped to the bounds where asked."""
        if self.action_dim and self.clip_actions:
            return np.clip(actions, self.action_low, self.action_high)
        return actions


def external_env(
    name: str,
    make_lanes: Callable[[int], VectorLanes],
    *,
    obs_dim: int,
    n_actions: int,
    action_dim: int = 0,
    action_low=-np.inf,
    action_high=np.inf,
    horizon: int,
    gamma: float,
    spec: dict | None = None,
    n_states: int | None = None,
    clip_actions: bool = False,
    exact=None,
    max_lanes: int = DEFAULT_MAX_LANES,
) -> Env:
    """An :class:`Env` stepped from Python through ``make_lanes(L) -> VectorLanes``.

    Args:
        name: the env's name in tables.
        make_lanes: factory of L lanes (:class:`VectorLanes`).
        obs_dim: floats in a (flattened) observation.
        n_actions: A for a discrete action (then ``action_dim`` is 0), else 0.
        action_dim: K >= 1 for a continuous action of K components.
        action_low, action_high: bounds of a continuous action (floats or (K,)).
        horizon: most actions per episode (the drivers truncate there).
        gamma: discount of the objective.
        spec: the user-facing parameters, for tables.
        n_states: S for a discrete observation (obs is the state index, as a float).
        clip_actions: clip continuous actions to the bounds before stepping (the
            sampled, unclipped action is what the policy's score and the tables see,
            as Stable-Baselines3 does for Gaussian policies).
        exact: closed forms (:attr:`Env.exact`), or None.
        max_lanes: most lanes stepped together by one batch of episodes.
    """
    K = int(action_dim)
    low = np.broadcast_to(np.asarray(action_low, dtype=np.float64), (max(K, 1),)).copy()
    high = np.broadcast_to(np.asarray(action_high, dtype=np.float64), (max(K, 1),)).copy()
    ext = ExternalSpec(
        pool=LanePool(make_lanes),
        obs_dim=int(obs_dim),
        n_actions=int(n_actions),
        action_dim=K,
        action_low=low,
        action_high=high,
        clip_actions=bool(clip_actions),
        max_lanes=max(1, int(max_lanes)),
    )
    weakref.finalize(ext, ext.pool.close)  # copies closed with the env (or at exit)
    scalar = K <= 1
    return Env(
        name=name,
        n_actions=int(n_actions),
        state_dim=int(obs_dim),
        obs_dim=int(obs_dim),
        n_states=n_states,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=np.zeros(0),
        make_cores=None,
        spec=dict(spec or {}),
        action_dim=K,
        action_low=float(low[0]) if scalar else low,
        action_high=float(high[0]) if scalar else high,
        make_drivers=functools.partial(ExternalDrivers, ext),
        exact=exact,
    )
