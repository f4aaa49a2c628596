"""Finite-difference estimators against exact objectives and gradients on the chain.

What theory says and these tests check:

* E[U_n(theta)] = J(theta), so the mean of a finite-difference estimate is the
  exact difference quotient of J, whose distance to grad J is O(delta) (forward)
  or O(delta^2) (central): the bias is the truncation error and nothing else.
* Actions are drawn by inverse CDF from keyed uniforms, so with common random
  numbers U_n(theta + d) - U_n(theta) is nonzero only in episodes where a
  perturbed probability moves past a uniform: its variance is O(delta / n)
  against O(1 / n) with a fresh seed, and the variance of the quotient grows as
  1 / delta instead of 1 / delta^2. At a fixed batch the error therefore falls as
  delta shrinks only while the truncation error dominates (delta >~ 0.25 on the
  chain at 10^5 episodes); below that it grows again, slowly with common random
  numbers and fast without.
"""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError
from tests.conftest import WOBBLY_THETA

FD = ["fd-forward", "fd-central"]


def quotient(env, pol, theta, name, delta) -> np.ndarray:
    """The exact forward or central difference quotient of J, (P,)."""
    J = lambda th: pgbench.exact_objective(env, pol, th)  # noqa: E731
    step = delta * np.eye(theta.size)
    if name == "fd-forward":
        return np.array([(J(theta + s) - J(theta)) / delta for s in step])
    return np.array([(J(theta + s) - J(theta - s)) / (2 * delta) for s in step])


def evaluations(name, P):
    return P + 1 if name == "fd-forward" else 2 * P


def estimates(name, env, pol, theta, episodes, calls, seed0, **params):
    return np.array(
        [
            pgbench.estimate(name, env, pol, theta, episodes, seed0 + k, **params)
            for k in range(calls)
        ]
    )


@pytest.mark.parametrize(("name", "delta"), [("fd-forward", 0.5), ("fd-central", 1.5)])
def test_mean_is_the_exact_difference_quotient(name, delta, chain):
    """16 estimates of 8000 episodes per evaluation: the mean is within 4 standard errors
    of the exact quotient, and (at these large steps) more than 5 from grad J: the bias
    is the truncation error of the difference (|quotient - grad J| = 0.0094 forward, 0.0085
    central; max |z| from grad J measured 7.5-10.6 forward, 11-18 central)."""
    env, pol = chain
    theta = pol.init(7)
    P = theta.size
    g = estimates(name, env, pol, theta, evaluations(name, P) * 8000, 16, 100, delta=delta)
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    z_quotient = (g.mean(axis=0) - quotient(env, pol, theta, name, delta)) / se
    z_gradient = (g.mean(axis=0) - pgbench.exact_gradient(env, pol, theta)) / se
    assert np.all(np.abs(z_quotient) < 4), np.round(z_quotient, 2)
    assert np.abs(z_gradient).max() > 5, np.round(z_gradient, 2)


def test_truncation_error_is_first_order_forward_second_order_central(chain):
    """|quotient - grad J| at delta = 1e-1, 1e-2, 1e-3: falls 10x per decade (forward) and
    100x (central), so E[estimate] -> grad J as delta -> 0 (each estimator's mean is the
    quotient, test above)."""
    env, pol = chain
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    for name, order in (("fd-forward", 1), ("fd-central", 2)):
        err = [np.linalg.norm(quotient(env, pol, theta, name, d) - exact) for d in (1e-1, 1e-2)]
        np.testing.assert_allclose(err[0] / err[1], 10.0**order, rtol=0.1)


def test_with_common_random_numbers_the_error_falls_as_delta_shrinks(chain):
    """fd-forward with common random numbers, 160 000 episodes per evaluation: while the
    O(delta) truncation error dominates the error at a fixed batch falls with delta
    (measured 0.019, 0.010, 0.005 at delta = 1, 0.5, 0.25)."""
    env, pol = chain
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    E = evaluations("fd-forward", theta.size) * 160_000
    err = [
        np.linalg.norm(pgbench.estimate("fd-forward", env, pol, theta, E, 3, delta=d) - exact)
        for d in (1.0, 0.5, 0.25)
    ]
    assert err[0] > 1.3 * err[1] > 1.3 * 1.3 * err[2], err


def test_common_random_numbers_cut_the_variance_by_a_factor_of_order_one_over_delta(chain):
    """fd-central, 12 estimates of 5000 episodes per evaluation, delta = 1e-2 and 1e-3.

    Fresh seeds: trace Var grows 100x per decade of delta (1 / delta^2). Common random
    numbers: it grows about 10x (1 / delta; measured 6-18x, the estimate being noisy as the
    quotient is driven by rare action flips), and it is 150-350x smaller at 1e-2 and
    1100-6000x smaller at 1e-3 (measured over five seed offsets): what common random
    numbers buy.
    """
    env, pol = chain
    theta = pol.init(7)
    E = evaluations("fd-central", theta.size) * 5000
    var = {
        (crn, d): estimates(
            "fd-central", env, pol, theta, E, 12, 0, delta=d, common_random_numbers=crn
        )
        .var(axis=0, ddof=1)
        .sum()
        for crn in (True, False)
        for d in (1e-2, 1e-3)
    }
    assert 50 < var[False, 1e-3] / var[False, 1e-2] < 200, var
    assert var[True, 1e-3] / var[True, 1e-2] < 30, var
    assert var[False, 1e-2] > 50 * var[True, 1e-2], var
    assert var[False, 1e-3] > 500 * var[True, 1e-3], var


def test_regression_approaches_the_gradient_with_many_perturbations(chain):
    """fd-regression, common random numbers, Gaussian scale 0.1, 5000 episodes per point.

    As m grows the least-squares fit tends to the gradient of the Gaussian-smoothed
    sample utility (Stein's lemma), whose distance to grad J is set by n and the
    scale only. Measured mean errors 0.036-0.12 at m = P (a square Gaussian D is
    ill-conditioned), 0.013 at 4P, 0.006-0.011 at 16P, against |grad J| = 0.064.
    """
    env, pol = chain
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    P = theta.size

    def mean_error(m):
        g = estimates(
            "fd-regression", env, pol, theta, (m + 1) * 5000, 3, 20, perturbations=m, scale=0.1
        )
        return np.linalg.norm(g - exact, axis=1).mean()

    few, many = mean_error(P), mean_error(16 * P)
    assert many < few / 2 and many < 0.25 * np.linalg.norm(exact), (few, many)


def test_regression_without_common_random_numbers_is_far_noisier(chain):
    """Default scale 1e-2, m = 2P: fresh seeds per point make dU pure sampling noise."""
    env, pol = chain
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    E = (2 * theta.size + 1) * 5000
    err = {
        crn: np.linalg.norm(
            estimates("fd-regression", env, pol, theta, E, 3, 40, common_random_numbers=crn)
            - exact,
            axis=1,
        ).mean()
        for crn in (True, False)
    }
    assert err[False] > 3 * err[True], err


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fd-forward", {}),
        ("fd-forward", {"common_random_numbers": False, "delta": 0.1}),
        ("fd-central", {}),
        ("fd-central", {"common_random_numbers": False}),
        ("fd-regression", {}),
        ("fd-regression", {"distribution": "rademacher", "perturbations": 3, "scale": 0.1}),
        ("fd-regression", {"common_random_numbers": False}),
    ],
)
def test_every_option_runs_on_cartpole(name, params, cartpole):
    env, pol = cartpole
    g, info = pgbench.estimate(name, env, pol, WOBBLY_THETA, 64, seed=2, info=True, **params)
    again = pgbench.estimate(name, env, pol, WOBBLY_THETA, 64, seed=2, **params)
    assert g.shape == (pol.n_params,) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(g, again)
    assert info["unbiased"] is False
    m = params.get("perturbations", 2 * pol.n_params)
    per_point = {"fd-forward": pol.n_params + 1, "fd-central": 2 * pol.n_params}.get(name, m + 1)
    assert info["episodes"] == (64 // per_point) * per_point


def test_common_random_numbers_reuse_one_seed(garnet):
    """With CRN every evaluation point sees the episodes of ``seed`` (the same env steps at
    theta = theta + 0 * e_j): a zero step gives an exactly zero estimate; fresh seeds do not."""
    env, pol = garnet
    theta = pol.init(1)
    P = theta.size
    tiny = 1e-300  # theta + tiny == theta in float64
    g = pgbench.estimate("fd-forward", env, pol, theta, (P + 1) * 50, 0, delta=tiny)
    np.testing.assert_array_equal(g, 0.0)
    g = pgbench.estimate(
        "fd-forward", env, pol, theta, (P + 1) * 50, 0, delta=tiny, common_random_numbers=False
    )
    assert np.any(g != 0)


@pytest.mark.parametrize(
    ("name", "needed"), [("fd-forward", 9), ("fd-central", 16), ("fd-regression", 17)]
)
def test_too_small_a_budget_is_a_one_line_error(name, needed, chain):
    env, pol = chain
    with pytest.raises(InvalidSpecError, match=f"at least {needed} episodes") as err:
        pgbench.estimate(name, env, pol, pol.init(0), needed - 1, seed=0)
    assert "\n" not in str(err.value)
    pgbench.estimate(name, env, pol, pol.init(0), needed, seed=0)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fd-forward", {"delta": 0.0}),
        ("fd-central", {"delta": -1e-3}),
        ("fd-regression", {"perturbations": 0}),
        ("fd-regression", {"distribution": "uniform"}),
        ("fd-regression", {"scale": 0.0}),
        ("fd-central", {"scale": 0.1}),
    ],
)
def test_invalid_params_are_one_line_errors(name, params, chain):
    env, pol = chain
    with pytest.raises(InvalidSpecError) as err:
        pgbench.estimate(name, env, pol, pol.init(0), 100, seed=0, **params)
    assert "\n" not in str(err.value) and name in str(err.value)
