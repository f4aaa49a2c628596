"""Likelihood-ratio (score-function) estimators: REINFORCE and reward-to-go.

Both estimate grad J(theta) for J = E[sum_{t<T} gamma^t r_t] from E episodes
drawn with the policy's keyed streams; both are unbiased at every batch size.
"""

from __future__ import annotations

import numpy as np

from pgbench.estimators.base import Estimator, NoParams
from pgbench.registry import ESTIMATORS


def reinforce(sampler, theta, episodes: int, seed: int, params: NoParams) -> np.ndarray:
    """REINFORCE (Williams 1992, eq. 11): mean over episodes of R(tau) * sum_t score_t.

    R(tau) = sum_t gamma^t r_t. Uses the streaming kernel: no trajectory is
    stored. Returns the (P,) estimate; needs ``episodes >= 1``.
    """
    sums = sampler.episode_sums(theta, episodes, seed)
    return sums.returns @ sums.score_sums / episodes


def reward_to_go(sampler, theta, episodes: int, seed: int, params: NoParams) -> np.ndarray:
    """Reward-to-go ("causality") form: mean of sum_t score_t * sum_{t' >= t} gamma^t' r_t'.

    Rewards before step t do not depend on a_t, so dropping them keeps the
    estimate unbiased and lowers its variance (Williams 1992; Sutton et al.
    2000, eq. 2 with the discount kept as gamma^t'). Streaming kernel, (P,).
    """
    sums = sampler.episode_sums(theta, episodes, seed)
    return sums.rtg_sums.sum(axis=0) / episodes


ESTIMATORS.register("reinforce")(
    Estimator(
        name="reinforce",
        fn=reinforce,
        params=NoParams,
        unbiased=True,
        citation="Williams (1992), Machine Learning 8:229-256, eq. 11",
    )
)
ESTIMATORS.register("reward-to-go")(
    Estimator(
        name="reward-to-go",
        fn=reward_to_go,
        params=NoParams,
        unbiased=True,
        citation="Williams (1992); Sutton et al. (2000), NeurIPS, Theorem 1",
    )
)
