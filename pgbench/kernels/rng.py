"""Keyed, counter-based random streams: one stream per episode.

Every random number an episode uses is a pure function of
``(cell seed, episode index, counter)``: ``key = episode_key(seed, e)`` and
``u = uniform(key, counter)``. Nothing is carried between episodes or threads,
so results cannot depend on the thread count, the lane an episode runs in, the
executor or the target.

The mixer is SplitMix64's finalizer (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014) applied to a Weyl sequence
``key + counter * golden``; keys are themselves mixed from (seed, episode).
Counters: ``reset_counter(k)`` for the ``k``-th draw of a reset
(``k < RESET_DRAWS``), ``step_counter(t, k)`` for the ``k``-th draw of step
``t`` (``k < DRAWS_PER_STEP``; ``k = 0`` is the policy's action draw).
A K-dimensional action draws its component 0 there too and components
``k >= 1`` from the episode's action stream: ``uniform(action_key(key),
t * K + k)`` (:func:`action_counter`), so a K = 1 action is drawn exactly as in
the lane cores and K > 1 leaves the environment's counters untouched.
"""

from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
SHIFT30 = np.uint64(30)
SHIFT27 = np.uint64(27)
SHIFT31 = np.uint64(31)
RESET_DRAWS = 16
DRAWS_PER_STEP = 4
_RESET_DRAWS_U = np.uint64(RESET_DRAWS)
_DRAWS_PER_STEP_U = np.uint64(DRAWS_PER_STEP)
_SEED_SALT = np.uint64(0xD1B54A32D192ED03)
_ACTION_SALT = np.uint64(0x8BB84B93962EACC9)


def mix64(z):
    """SplitMix64 finalizer: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> SHIFT30)) * MIX1
    z = (z ^ (z >> SHIFT27)) * MIX2
    return z ^ (z >> SHIFT31)


def step_counter(t, k):
    """Counter of the ``k``-th draw at step ``t`` (uint64)."""
    return _RESET_DRAWS_U + np.uint64(t) * _DRAWS_PER_STEP_U + np.uint64(k)


def action_counter(t, k, n_components):
    """Counter of component ``k >= 1`` of the action at step ``t`` in the action stream."""
    return np.uint64(t) * np.uint64(n_components) + np.uint64(k)


def make_rng(mix64, unit_from_bits):
    """Build the stream cores around compiled ``mix64`` and the target's
    ``unit_from_bits(z) = (z >> 12) * 2**-52`` in [0, 1)."""

    def episode_key(seed, episode):
        """Stream key of ``episode`` (int64 >= 0) under ``seed`` (uint64)."""
        s = mix64(seed ^ _SEED_SALT)
        return mix64(s + (np.uint64(episode) + np.uint64(1)) * GOLDEN)

    def uniform(key, counter):
        """The ``counter``-th uniform in [0, 1) of stream ``key`` (52 random bits)."""
        return unit_from_bits(mix64(key + counter * GOLDEN))

    def action_key(key):
        """Key of the action stream of the episode with stream key ``key``."""
        return mix64(key ^ _ACTION_SALT)

    return {"episode_key": episode_key, "uniform": uniform, "action_key": action_key}
