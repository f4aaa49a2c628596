"""Native classic-control cores compiled inside small test loops, for the Gymnasium tests.

:func:`harness` compiles an environment's cores with the target's own decorator
(``target_lib(target).jit``, callable from Python on the CPU and in the CUDA
simulator) around loops over columns, so a test can step arbitrary states, replay
action sequences and record every state visited (a rollout stores observations,
not states). Shapes: state (SD, N) column per lane, as the cores expect.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from pgbench.kernels.build import target_lib


@functools.cache
def harness(make_cores, target: str) -> SimpleNamespace:
    """The cores of ``make_cores`` compiled for ``target`` inside column loops."""
    lib = target_lib(target)
    reset, step, observe = (lib.jit(f) for f in make_cores(lib))

    def reset_each(ep, keys, state, obs):
        """Reset column j of state (SD, N) from stream keys[j]; observe it into obs (OD, N)."""
        for j in range(keys.shape[0]):
            reset(ep, keys[j], state, j)
            observe(ep, state, j, obs)

    def step_each(ep, keys, ts, state, actions, rewards, terminated, obs):
        """One step (episode step ts[j], stream keys[j]) of every column of state (SD, N)
        with actions (N,), in place; the observation after it into obs (OD, N)."""
        for j in range(state.shape[1]):
            r, term = step(ep, keys[j], ts[j], state, j, actions[j])
            rewards[j] = r
            terminated[j] = 1.0 if term else 0.0
            observe(ep, state, j, obs)

    def trajectory(ep, keys, state, actions, states_o, obs_o, rewards_o, terminated_o):
        """actions (N, T) from the states in the columns of state (SD, N), steps 0..T-1 of
        stream keys[j], not stopping at termination: states_o (N, T + 1, SD) every state
        visited, obs_o (N, T + 1, OD) their observations, rewards_o, terminated_o (N, T)."""
        obs = np.zeros((obs_o.shape[2], state.shape[1]))
        for j in range(actions.shape[0]):
            for t in range(actions.shape[1] + 1):
                observe(ep, state, j, obs)
                for k in range(states_o.shape[2]):
                    states_o[j, t, k] = state[k, j]
                for k in range(obs_o.shape[2]):
                    obs_o[j, t, k] = obs[k, j]
                if t < actions.shape[1]:
                    r, term = step(ep, keys[j], t, state, j, actions[j, t])
                    rewards_o[j, t] = r
                    terminated_o[j, t] = 1.0 if term else 0.0

    return SimpleNamespace(
        lib=lib,
        reset_each=lib.jit(reset_each),
        step_each=lib.jit(step_each),
        trajectory=lib.jit(trajectory),
    )


def step_each(make_cores, target, ep, states, actions, ts=None, keys=None, obs_dim=None):
    """One step of every row: (next states (N, SD), rewards (N,), terminated (N,) 0/1,
    next observations (N, OD)). ``ts`` (N,) the episode steps (default 0), ``keys`` (N,)
    the streams (default 0), ``obs_dim`` OD (default SD)."""
    state = np.ascontiguousarray(states.T, dtype=np.float64)
    n = state.shape[1]
    ts = np.zeros(n, np.int64) if ts is None else np.ascontiguousarray(ts, np.int64)
    keys = np.zeros(n, np.uint64) if keys is None else np.ascontiguousarray(keys, np.uint64)
    rewards, terminated = np.zeros(n), np.zeros(n)
    obs = np.zeros((state.shape[0] if obs_dim is None else obs_dim, n))
    harness(make_cores, target).step_each(
        ep, keys, ts, state, np.ascontiguousarray(actions), rewards, terminated, obs
    )
    return state.T.copy(), rewards, terminated, obs.T.copy()


def trajectory(make_cores, target, ep, init_states, actions, obs_dim, keys=None):
    """(states (N, T + 1, SD), obs (N, T + 1, OD), rewards (N, T), terminated (N, T)) of
    the action sequences ``actions`` (N, T) from ``init_states`` (N, SD)."""
    n, T = actions.shape
    sd = init_states.shape[1]
    keys = np.zeros(n, np.uint64) if keys is None else np.ascontiguousarray(keys, np.uint64)
    states, obs = np.zeros((n, T + 1, sd)), np.zeros((n, T + 1, obs_dim))
    rewards, terminated = np.zeros((n, T)), np.zeros((n, T))
    state = np.ascontiguousarray(init_states.T, dtype=np.float64)
    harness(make_cores, target).trajectory(
        ep, keys, state, np.ascontiguousarray(actions), states, obs, rewards, terminated
    )
    return states, obs, rewards, terminated


def reset_each(make_cores, target, ep, keys, state_dim, obs_dim):
    """(start states (N, SD), their observations (N, OD)) of the streams ``keys`` (N,)."""
    keys = np.ascontiguousarray(keys, np.uint64)
    state, obs = np.zeros((state_dim, len(keys))), np.zeros((obs_dim, len(keys)))
    harness(make_cores, target).reset_each(ep, keys, state, obs)
    return state.T.copy(), obs.T.copy()


def episode_keys(seed: int, n: int) -> np.ndarray:
    """(n,) uint64: the stream keys of episodes 0..n-1 under ``seed``."""
    lib = target_lib("serial")
    return np.array([lib.episode_key(np.uint64(seed), e) for e in range(n)], dtype=np.uint64)
