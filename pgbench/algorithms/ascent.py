"""Stochastic gradient ascent with a registered gradient estimator.

Each update draws ``episodes`` fresh episodes (seed ``derive_seed(seed,
"update", k)`` for update k) and steps along the estimate of grad J:

* ``reinforce``: the likelihood-ratio estimate (Williams 1992, eq. 11), or its
  reward-to-go form (Sutton et al. 2000) with ``reward_to_go: true``, with any
  baseline of :mod:`pgbench.estimators.likelihood_ratio`;
* ``fd-ascent``: per-coordinate finite differences (forward or central);
* ``fd-regression-ascent``: the linear-regression estimate pinv(dTheta) dJ
  (Kochenderfer et al. 2022, sec. 11.2; Peters & Schaal 2008), random perturbations.

These are the black-box and REINFORCE baselines that the actor-critic and
trust-region methods are measured against. The objective is the env's
discounted J.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm, register
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.estimators.finite_difference import (
    DifferenceParams,
    RegressionParams,
    fd_central,
    fd_forward,
    fd_regression,
)
from pgbench.estimators.likelihood_ratio import BaselineParams, reinforce, reward_to_go
from pgbench.sweep import derive_seed


class ReinforceParams(AlgoParams):
    episodes: int = Field(16, ge=1, description="episodes per update")
    reward_to_go: bool = Field(True, description="reward-to-go form instead of whole returns")
    baseline: Literal["none", "constant", "time", "optimal", "value"] = Field(
        "constant", description="baseline of the estimator (leave-one-out, unbiased)"
    )
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=0.01), description="ascent step"
    )


class FDAscentParams(AlgoParams):
    episodes: int = Field(64, ge=2, description="episodes per update, over all evaluations")
    scheme: Literal["forward", "central"] = Field("central", description="difference scheme")
    delta: float = Field(0.05, gt=0, description="coordinate step")
    common_random_numbers: bool = Field(True, description="same episode seed at every point")
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=0.01), description="ascent step"
    )


class FDRegressionAscentParams(AlgoParams):
    episodes: int = Field(64, ge=2, description="episodes per update, over all evaluations")
    perturbations: int | None = Field(None, ge=1, description="perturbations (None: 2P)")
    scale: float = Field(0.05, gt=0, description="perturbation scale")
    distribution: Literal["gaussian", "rademacher"] = Field("gaussian", description="entries")
    common_random_numbers: bool = Field(True, description="same episode seed at every point")
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=0.01), description="ascent step"
    )


def _ascend(run, estimate, episodes: int, optimizer: OptimizerParams) -> np.ndarray:
    """theta_{k+1} = theta_k + step(estimate(theta_k)) until the budget is spent."""
    theta = run.theta0.copy()
    opt = Optimizer(optimizer, theta.shape[0])
    run.log(theta)
    k = 0
    while not run.done():
        g = estimate(run.sampler, theta, episodes, derive_seed(run.seed, "update", k))
        theta = opt.step(theta, np.asarray(g, dtype=np.float64), run.progress)
        k += 1
        run.log(theta, grad_norm=float(np.linalg.norm(g)))
    run.finish(theta)
    return theta


def reinforce_ascent(run, hp: ReinforceParams) -> np.ndarray:
    """REINFORCE (Williams 1992): theta += step(mean_e sum_t s_t (G_t - b_t))."""
    est = reward_to_go if hp.reward_to_go else reinforce
    base = BaselineParams(baseline=hp.baseline)
    return _ascend(run, lambda *a: est(*a, base), hp.episodes, hp.optimizer)


def fd_ascent(run, hp: FDAscentParams) -> np.ndarray:
    """Gradient ascent on per-coordinate finite differences of J (Kochenderfer 2022, 11.1)."""
    est = fd_central if hp.scheme == "central" else fd_forward
    p = DifferenceParams(delta=hp.delta, common_random_numbers=hp.common_random_numbers)
    return _ascend(run, lambda *a: est(*a, p), hp.episodes, hp.optimizer)


def fd_regression_ascent(run, hp: FDRegressionAscentParams) -> np.ndarray:
    """Gradient ascent on the regression estimate pinv(dTheta) dJ (Kochenderfer 2022, 11.2)."""
    p = RegressionParams(
        perturbations=hp.perturbations,
        scale=hp.scale,
        distribution=hp.distribution,
        common_random_numbers=hp.common_random_numbers,
    )
    return _ascend(run, lambda *a: fd_regression(*a, p), hp.episodes, hp.optimizer)


register(
    Algorithm(
        name="reinforce",
        fn=reinforce_ascent,
        params=ReinforceParams,
        citation="Williams 1992, Machine Learning 8:229-256; Sutton et al. 2000 (reward-to-go)",
        summary="gradient ascent on REINFORCE / reward-to-go estimates with a baseline",
    )
)
register(
    Algorithm(
        name="fd-ascent",
        fn=fd_ascent,
        params=FDAscentParams,
        citation="Kochenderfer et al. 2022, Algorithms for Decision Making, sec. 11.1",
        summary="gradient ascent on per-coordinate finite differences of J",
    )
)
register(
    Algorithm(
        name="fd-regression-ascent",
        fn=fd_regression_ascent,
        params=FDRegressionAscentParams,
        citation="Kochenderfer et al. 2022, Algorithms for Decision Making, sec. 11.2",
        summary="gradient ascent on the linear-regression finite-difference estimate",
    )
)
