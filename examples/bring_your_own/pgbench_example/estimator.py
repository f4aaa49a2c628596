"""``reinforce-fixed``: REINFORCE with a baseline the user chooses, a fixed number b.

With G_e = sum_t gamma^t r_t the discounted return of episode e and S_e = sum_t
grad log pi(a_t | s_t) its score sum (P,), the estimate of grad J is

    g = (1 / E) sum_e (G_e - b) S_e                       (Williams 1992, eq. 11)

Any b that does not depend on the episode's actions keeps it unbiased (E[S_e] = 0), and a
fixed number does not; a b near the typical return lowers the variance. b = 0 is the plain
estimator, bit for bit the same numbers as pgbench's ``reinforce`` (same streams, same
arithmetic). Built only on pgbench's public pieces: the sampler's per-episode sums
(``sampler.episode_sums``: ``returns`` (E,), ``score_sums`` (E, P)), :class:`HyperParams`
and the estimator registry.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from pgbench.estimators.base import Estimator
from pgbench.params import HyperParams
from pgbench.registry import ESTIMATORS


class FixedBaselineParams(HyperParams):
    """Hyperparameters of ``reinforce-fixed``."""

    baseline: float = Field(
        0.0, description="b, subtracted from every episode's return (any b: unbiased)"
    )


def reinforce_fixed(
    sampler, theta: np.ndarray, episodes: int, seed: int, params: FixedBaselineParams
) -> np.ndarray:
    """REINFORCE with a fixed baseline b: (1 / E) sum_e (G_e - b) S_e, (P,)."""
    sums = sampler.episode_sums(theta, episodes, seed)  # streamed: no episode is stored
    return (sums.returns - params.baseline) @ sums.score_sums / episodes


ESTIMATORS.add(
    Estimator(
        name="reinforce-fixed",
        fn=reinforce_fixed,
        params=FixedBaselineParams,
        unbiased=True,
        citation="Williams (1992), Machine Learning 8:229-256, eq. 11 (a constant "
        "reinforcement baseline)",
    )
)
