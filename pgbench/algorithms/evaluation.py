"""Evaluation episodes of the greedy (discrete) or mean-action (continuous) policy."""

from __future__ import annotations

import numpy as np

from pgbench.kernels import build
from pgbench.policies.base import greedy


def evaluate_returns(
    env, policy, theta, episodes: int, seed: int, normalizer=None
) -> np.ndarray:
    """(episodes,) undiscounted returns of the deterministic version of ``policy``.

    ``normalizer``: the frozen observation statistics of a run that normalises them
    (:meth:`pgbench.algorithms.normalize.Normalizer.frozen`), or None.

    Episode ``e`` starts from the reset stream keyed by ``(seed, e)``; runs on the
    serial CPU kernel (one lane per episode, ``env.horizon`` steps, the first
    episode of each lane counted).
    """
    kernels = build(env, greedy(policy), "serial")
    if normalizer is None:
        lanes = kernels.start_lanes(env.params, seed, episodes)
    else:
        lanes = kernels.start_lanes(env.params, seed, episodes, normalizer=normalizer)
    seg = kernels.segment(env.params, theta, lanes, env.horizon, env.horizon)
    ended = seg.episode_lengths > 0
    first = ended.argmax(axis=1)  # every lane ends its first episode within the horizon
    return seg.episode_returns[np.arange(episodes), first]
