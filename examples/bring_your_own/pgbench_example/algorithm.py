"""``normalized-ascent``: gradient ascent with steps of fixed length.

Update k draws ``episodes`` fresh episodes (seed ``derive_seed(seed, "update", k)``, as
pgbench's own ascent algorithms do), estimates g = grad J with ``reinforce-fixed``
(:mod:`pgbench_example.estimator`) and moves theta by ``lr`` along the estimate's direction,

    theta <- theta + lr g / ||g||                (no step where g = 0),

so a step's length does not depend on the scale of the returns (normalized gradient
ascent: Hazan, Levy & Shalev-Shwartz 2015). The algorithm sees the environment only
through ``run`` (:class:`pgbench.algorithms.trainer.TrainRun`: the sampler, the budget, the
learning-curve log), which is all an algorithm needs.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.registry import ALGORITHMS
from pgbench.seeding import derive_seed
from pgbench_example.estimator import FixedBaselineParams, reinforce_fixed


class NormalizedAscentParams(AlgoParams):
    """Hyperparameters of ``normalized-ascent``."""

    episodes: int = Field(16, ge=1, description="episodes per update")
    baseline: float = Field(0.0, description="the estimator's fixed baseline b")
    lr: float = Field(0.1, gt=0, description="length of every step in parameter space")

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one update: ``episodes`` episodes of 1 to T steps
        (the suite checks a budget against it)."""
        return self.episodes, self.episodes * env.horizon


def normalized_ascent(run, hp: NormalizedAscentParams) -> np.ndarray:
    """theta += lr g / ||g|| with g the ``reinforce-fixed`` estimate, until the budget is
    spent; returns the final theta (P,)."""
    estimator = FixedBaselineParams(baseline=hp.baseline)
    theta = run.theta0.copy()
    run.log(theta)
    k = 0
    while not run.done():
        seed = derive_seed(run.seed, "update", k)
        g = reinforce_fixed(run.sampler, theta, hp.episodes, seed, estimator)
        norm = float(np.linalg.norm(g))
        if norm > 0.0:
            theta = theta + hp.lr * g / norm
        k += 1
        run.log(theta, grad_norm=norm)
    run.finish(theta)
    return theta


ALGORITHMS.add(
    Algorithm(
        name="normalized-ascent",
        fn=normalized_ascent,
        params=NormalizedAscentParams,
        citation="Hazan, Levy & Shalev-Shwartz (2015), Beyond convexity: stochastic "
        "quasi-convex optimization, NeurIPS (normalized gradient descent)",
        summary="gradient ascent with steps of fixed length lr along the reinforce-fixed estimate",
    )
)
