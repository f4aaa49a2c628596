"""Finite-difference gradient estimators of the roll-out utility (black-box, no score).

The roll-out utility U_n(theta) is the mean discounted return sum_t gamma^t r_t of n
episodes of pi_theta (Kochenderfer, Wheeler & Wray, "Algorithms for Decision
Making", MIT Press 2022, ch. "Policy Gradient Estimation", Secs. 11.1-11.2; Peters &
Schaal 2008, "Reinforcement learning of motor skills with policy gradients", Neural
Networks 21(4), finite-difference methods).
E[U_n(theta)] = J(theta), so each estimate below is unbiased for a *difference
quotient* of J, which differs from grad J by the truncation error of the
difference: these estimators are biased (``unbiased=False``).

Budget: ``episodes`` is split evenly over the utility evaluations (P + 1 forward,
2P central, m + 1 regression), n = episodes // evaluations each; the remainder
is not spent. Fewer episodes than evaluations is a one-line InvalidSpecError.

Common random numbers (``common_random_numbers=True``, the default): every
evaluation uses the same seed, so episode e at theta and at theta + delta e_j
draw the same uniforms and differ only where a perturbed action probability moves
past a uniform. Then Var[U(theta + d) - U(theta)] = O(|d| / n) instead of
O(1 / n) with a fresh seed per evaluation (``False``): the variance of the
quotient falls from O(1 / (delta^2 n)) to O(1 / (delta n)) (Glasserman & Yao
1992, "Some guidelines and guarantees for common random numbers", Management
Science 38(6)). With discrete actions U_n is piecewise constant in theta, so
even with common random numbers the variance grows as delta shrinks at fixed n:
on the tabular chain at 10^4 episodes per point the error was smallest near
delta = 0.25-0.5 (forward) and 0.5-1 (central), larger than the default 1e-2.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt

from pgbench.errors import InvalidSpecError
from pgbench.estimators.base import Estimator
from pgbench.params import HyperParams
from pgbench.registry import ESTIMATORS
from pgbench.seeding import derive_seed


class DifferenceParams(HyperParams):
    """Hyperparameters of the per-coordinate finite differences."""

    delta: PositiveFloat = Field(1e-2, description="step added to each coordinate of theta")
    common_random_numbers: bool = Field(
        True, description="same episode seed at every evaluation point (False: a fresh one each)"
    )


class RegressionParams(HyperParams):
    """Hyperparameters of the linear-regression gradient estimate."""

    perturbations: PositiveInt | None = Field(
        None, description="number m of random perturbations (None: 2P, twice the parameters)"
    )
    scale: PositiveFloat = Field(1e-2, description="scale of each perturbation entry")
    distribution: Literal["gaussian", "rademacher"] = Field(
        "gaussian", description="perturbation entries N(0, scale^2) or +-scale with prob. 1/2"
    )
    common_random_numbers: bool = Field(
        True, description="same episode seed at every evaluation point (False: a fresh one each)"
    )


# ------------------------------------------------------------------ building blocks


def evaluation_seeds(seed: int, count: int, common: bool) -> list[int]:
    """``count`` episode seeds: all ``seed`` (common random numbers) or independent ones."""
    return [seed] * count if common else [derive_seed(seed, k) for k in range(count)]


def episodes_per_evaluation(episodes: int, evaluations: int, name: str) -> int:
    """n = episodes // evaluations, or a one-line error when that is 0."""
    if episodes < evaluations:
        raise InvalidSpecError(
            f"estimator {name!r} needs at least {evaluations} episodes (one per utility "
            f"evaluation), got {episodes}"
        )
    return episodes // evaluations


def utility(sampler, theta: np.ndarray, n: int, seed: int) -> float:
    """U_n(theta): mean discounted return of n episodes (streaming kernel), units of J."""
    return float(sampler.episode_sums(theta, n, seed).returns.mean())


# ------------------------------------------------------------------ estimators


def fd_forward(sampler, theta, episodes: int, seed: int, params: DifferenceParams) -> np.ndarray:
    """Forward differences: g_j = (U(theta + delta e_j) - U(theta)) / delta, j < P.

    P + 1 evaluations of n = episodes // (P + 1) episodes each. E[g_j] is the forward
    quotient of J, which is grad_j J + (delta / 2) d^2 J / d theta_j^2 + O(delta^2):
    bias O(delta). Returns the (P,) estimate, units of J per unit theta.
    """
    P = theta.size
    n = episodes_per_evaluation(episodes, P + 1, "fd-forward")
    seeds = evaluation_seeds(seed, P + 1, params.common_random_numbers)
    u0 = utility(sampler, theta, n, seeds[P])
    step = params.delta * np.eye(P)
    return np.array(
        [(utility(sampler, theta + step[j], n, seeds[j]) - u0) / params.delta for j in range(P)]
    )


def fd_central(sampler, theta, episodes: int, seed: int, params: DifferenceParams) -> np.ndarray:
    """Central differences: g_j = (U(theta + delta e_j) - U(theta - delta e_j)) / (2 delta).

    2P evaluations of n = episodes // (2P) episodes each. E[g_j] is the central
    quotient of J, grad_j J + (delta^2 / 6) d^3 J / d theta_j^3 + O(delta^4): bias
    O(delta^2). Returns the (P,) estimate, units of J per unit theta.
    """
    P = theta.size
    n = episodes_per_evaluation(episodes, 2 * P, "fd-central")
    seeds = evaluation_seeds(seed, 2 * P, params.common_random_numbers)
    step = params.delta * np.eye(P)
    return np.array(
        [
            (
                utility(sampler, theta + step[j], n, seeds[2 * j])
                - utility(sampler, theta - step[j], n, seeds[2 * j + 1])
            )
            / (2 * params.delta)
            for j in range(P)
        ]
    )


def fd_regression(sampler, theta, episodes: int, seed: int, params: RegressionParams):
    """Linear-regression gradient: grad U ~= pinv(D) dU (Kochenderfer et al. 2022, Sec. 11.2).

    D (m, P) holds m random perturbations as rows, entries N(0, scale^2) or
    Rademacher * scale, drawn from ``numpy.random.default_rng(seed)``; dU (m,) holds
    dU_i = U(theta + D_i) - U(theta). The least-squares solution (``lstsq``, equal
    to pinv(D) dU; the minimum-norm one when m < P, which only recovers the
    gradient's projection on the span of the rows) fits dU ~= D grad U. m + 1
    evaluations of n = episodes // (m + 1) episodes each; m defaults to 2P, so
    that D has full column rank and a moderate condition number (about 6 for
    Gaussian rows). Bias: the curvature term (1/2) D_i^T H D_i adds O(scale) noise
    but, the perturbations being symmetric, no O(scale) bias; third derivatives
    leave a bias O(scale^2). With common random numbers the m points share one
    sample utility U_n, so as m grows the fit tends to the gradient of U_n smoothed
    by the perturbation law (Stein's lemma), not to grad J: more perturbations help
    until n limits. Returns the (P,) estimate, units of J per unit theta.
    """
    P = theta.size
    m = 2 * P if params.perturbations is None else params.perturbations
    n = episodes_per_evaluation(episodes, m + 1, "fd-regression")
    seeds = evaluation_seeds(seed, m + 1, params.common_random_numbers)
    rng = np.random.default_rng(seed)
    if params.distribution == "gaussian":
        D = rng.normal(0.0, params.scale, size=(m, P))
    else:
        D = params.scale * rng.choice([-1.0, 1.0], size=(m, P))
    u0 = utility(sampler, theta, n, seeds[m])
    dU = np.array([utility(sampler, theta + D[i], n, seeds[i]) - u0 for i in range(m)])
    return np.linalg.lstsq(D, dU, rcond=None)[0]


ESTIMATORS.add(
    Estimator(
        name="fd-forward",
        fn=fd_forward,
        params=DifferenceParams,
        unbiased=False,
        citation="Kochenderfer, Wheeler & Wray (2022), Algorithms for Decision Making, Sec. 11.1",
        bias_note="O(delta): (delta / 2) times the second derivative along each coordinate",
    )
)
ESTIMATORS.add(
    Estimator(
        name="fd-central",
        fn=fd_central,
        params=DifferenceParams,
        unbiased=False,
        citation="Kochenderfer, Wheeler & Wray (2022), Algorithms for Decision Making, Sec. 11.1",
        bias_note="O(delta^2): (delta^2 / 6) times the third derivative along each coordinate",
    )
)
ESTIMATORS.add(
    Estimator(
        name="fd-regression",
        fn=fd_regression,
        params=RegressionParams,
        unbiased=False,
        citation=(
            "Kochenderfer, Wheeler & Wray (2022), Algorithms for Decision Making, Sec. 11.2; "
            "Peters & Schaal (2008), Neural Networks 21(4)"
        ),
        bias_note=(
            "depends on scale: O(scale^2) from third derivatives (symmetric perturbations "
            "cancel the O(scale) curvature term in expectation)"
        ),
    )
)
