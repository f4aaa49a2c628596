"""Keyed draws for drivers written in Python (environments stepped from Python).

The lane cores draw each episode's randomness inside the compiled drivers; an
environment stepped from Python (:mod:`pgbench.envs.external`) runs its time
loop in Python instead and takes the same draws from here, for all its lanes
at once: the stream keys of episodes and the uniforms of their actions
(:mod:`.rng`: component 0 of the action at step t is ``uniform(key,
step_counter(t, 0))``, as in the lane cores; components k >= 1 come from the
episode's action stream).
"""

from __future__ import annotations

import functools

import numpy as np

import pgbench.kernels.cpu as cpu
from pgbench.kernels.build import target_lib

RESET_SEED_BITS = 63  # reset seeds are non-negative int64


@functools.cache
def _kernels():
    lib = target_lib("serial")
    episode_key, uniform = lib.episode_key, lib.uniform
    step_counter, action_key, action_counter = lib.step_counter, lib.action_key, lib.action_counter

    def episode_keys(seed, episodes, out):
        for i in range(episodes.shape[0]):
            out[i] = episode_key(seed, episodes[i])

    def action_uniforms(keys, steps, out):
        L, K = out.shape
        for j in range(L):
            out[j, 0] = uniform(keys[j], step_counter(steps[j], 0))
            if K > 1:
                akey = action_key(keys[j])
                for k in range(1, K):
                    out[j, k] = uniform(akey, action_counter(steps[j], k, K))

    return cpu.driver_jit(episode_keys), cpu.driver_jit(action_uniforms)


def episode_keys(seed: int, episodes: np.ndarray) -> np.ndarray:
    """(M,) uint64 stream keys of the episodes ``episodes`` ((M,) int64) under ``seed``."""
    out = np.zeros(len(episodes), np.uint64)
    _kernels()[0](np.uint64(seed), np.ascontiguousarray(episodes, dtype=np.int64), out)
    return out


def reset_seeds(keys: np.ndarray) -> np.ndarray:
    """(M,) int64 seeds >= 0 for resetting a foreign environment, one per stream key."""
    return (np.asarray(keys, dtype=np.uint64) >> np.uint64(64 - RESET_SEED_BITS)).astype(np.int64)


def action_uniforms(keys: np.ndarray, steps: np.ndarray, n_components: int) -> np.ndarray:
    """(L, K) uniforms in [0, 1) of the actions at step ``steps[j]`` ((L,) int64) of the
    episodes with stream keys ``keys`` ((L,) uint64), K = ``n_components`` >= 1."""
    out = np.zeros((len(keys), max(1, int(n_components))))
    _kernels()[1](keys, np.ascontiguousarray(steps, dtype=np.int64), out)
    return out
