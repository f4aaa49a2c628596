"""Baselines of REINFORCE and reward-to-go against exact gradients on tabular MDPs.

Estimates come from independent calls (distinct seeds) of the public API, so their
spread gives honest standard errors even though the leave-one-out and cross-fitted
baselines couple the episodes inside one call. The serial backend gives the same
numbers as the parallel one and avoids thread start-up on many small batches.
"""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError
from pgbench.sampling import Sampler
from tests.conftest import WOBBLY_THETA

BASELINES = ["none", "constant", "time", "optimal", "value"]
ESTIMATORS = ["reinforce", "reward-to-go"]


def estimates(name, env, pol, theta, episodes, calls, seed0, **params) -> np.ndarray:
    """(calls, P): one estimate per seed seed0, seed0 + 1, ..."""
    return np.array(
        [
            pgbench.estimate(name, env, pol, theta, episodes, seed0 + k, backend="serial", **params)
            for k in range(calls)
        ]
    )


@pytest.mark.parametrize("env_name", ["chain", "garnet"])
@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("baseline", BASELINES)
def test_unbiased_within_four_standard_errors(env_name, name, baseline, request):
    """100 estimates of 600 episodes: per-coordinate |mean - exact| < 4 standard errors."""
    env, pol = request.getfixturevalue(env_name)
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    g = estimates(name, env, pol, theta, 600, 100, 10_000, baseline=baseline)
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    z = (g.mean(axis=0) - exact) / np.where(se > 0, se, 1.0)
    assert np.all(np.abs(z) < 4), np.round(z, 2)
    np.testing.assert_allclose(g.mean(axis=0)[se == 0], exact[se == 0], atol=1e-12)


def test_variance_optimal_below_constant_below_none(chain):
    """trace Cov: optimal < constant < none for REINFORCE on the chain.

    The chain pays (almost) only at its right end, which few episodes reach from
    state 0. The parameters of the right-hand states have a nonzero score sum
    only in the episodes that get there, and those are the episodes with large
    returns: E[S_k^2 G] / E[S_k^2] is then far above the mean return, so
    Greensmith's per-parameter constant beats the one batch mean, which itself
    still beats no baseline (returns are nonnegative, their mean is a fair
    control variate). At E = 200 the leave-one-out estimates of b_k are accurate
    enough that the asymptotic ordering shows: over ten seed offsets the ratios
    measured none/constant 1.56-1.67 and constant/optimal 1.22-1.36 (600 calls).
    """
    env, pol = chain
    theta = pol.init(1)
    trace = {
        b: estimates("reinforce", env, pol, theta, 200, 600, 0, baseline=b).var(axis=0).sum()
        for b in ("none", "constant", "optimal")
    }
    assert trace["optimal"] < 0.9 * trace["constant"] < 0.9 * 0.8 * trace["none"], trace


def test_variance_falls_as_one_over_n(chain):
    """MSE of REINFORCE with the constant baseline at N = 16, 64, 256: log-log slope -1.

    The leave-one-out mean adds an O(1 / N^2) term; the fitted slope is -1.00 +- 0.05.
    """
    env, pol = chain
    theta = pol.init(2)
    exact = pgbench.exact_gradient(env, pol, theta)
    sizes = np.array([16, 64, 256])
    mse = [
        np.mean(
            np.sum(
                (
                    estimates("reinforce", env, pol, theta, n, 1500, 7919 * n, baseline="constant")
                    - exact
                )
                ** 2,
                axis=1,
            )
        )
        for n in sizes
    ]
    slope = np.polyfit(np.log(sizes), np.log(mse), 1)[0]
    assert -1.12 < slope < -0.88, (slope, mse)


def test_default_is_the_plain_streaming_estimator(garnet):
    env, pol = garnet
    theta = pol.init(1)
    sums = Sampler(env, pol, "cpu").episode_sums(theta, 300, 9)
    for name, plain in (
        ("reinforce", sums.returns @ sums.score_sums / 300),
        ("reward-to-go", sums.rtg_sums.sum(axis=0) / 300),
    ):
        default = pgbench.estimate(name, env, pol, theta, 300, seed=9)
        explicit = pgbench.estimate(name, env, pol, theta, 300, seed=9, baseline="none")
        np.testing.assert_array_equal(default, plain)
        np.testing.assert_array_equal(explicit, plain)


def test_constant_baseline_is_leave_one_out(chain):
    """REINFORCE, constant: mean_e (G_e - mean_{e' != e} G_e') S_e, from the same episodes."""
    env, pol = chain
    theta = pol.init(3)
    sums = Sampler(env, pol, "cpu").episode_sums(theta, 50, 4)
    G, S = sums.returns, sums.score_sums
    loo = (G.sum() - G) / 49
    g = pgbench.estimate("reinforce", env, pol, theta, 50, seed=4, baseline="constant")
    np.testing.assert_allclose(g, ((G - loo)[:, None] * S).mean(axis=0), rtol=1e-12, atol=1e-15)


def test_time_baseline_of_reinforce_is_constant_for_fixed_length_episodes(garnet):
    """Every episode is alive at every step, so E[G | alive at t] is the batch mean."""
    env, pol = garnet
    theta = pol.init(5)
    a = pgbench.estimate("reinforce", env, pol, theta, 64, seed=2, baseline="time")
    b = pgbench.estimate("reinforce", env, pol, theta, 64, seed=2, baseline="constant")
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_value_baseline_cuts_reward_to_go_variance(garnet):
    """On garnet the one-hot (t, s) features represent V_t(s) exactly; the cross-fitted
    value baseline removes the state-dependent part of the reward-to-go (measured:
    trace Cov 1.1e-2 without, 1.0e-4 with, at 2000 episodes)."""
    env, pol = garnet
    theta = pol.init(7)
    none = estimates("reward-to-go", env, pol, theta, 500, 30, 0).var(axis=0).sum()
    value = estimates("reward-to-go", env, pol, theta, 500, 30, 0, baseline="value")
    assert value.var(axis=0).sum() < none / 20


@pytest.mark.parametrize("name", ESTIMATORS)
def test_every_baseline_runs_on_cartpole(name, cartpole):
    env, pol = cartpole
    for baseline in BASELINES:
        g, info = pgbench.estimate(
            name, env, pol, WOBBLY_THETA, 16, seed=5, info=True, baseline=baseline
        )
        again = pgbench.estimate(name, env, pol, WOBBLY_THETA, 16, seed=5, baseline=baseline)
        assert g.shape == (pol.n_params,) and np.all(np.isfinite(g)), baseline
        np.testing.assert_array_equal(g, again)
        assert info["unbiased"] is True and info["episodes"] == 16


def test_time_baseline_follows_survivors_on_cartpole(cartpole):
    """With terminations the time baseline differs from the constant one."""
    env, pol = cartpole
    a = pgbench.estimate("reinforce", env, pol, WOBBLY_THETA, 32, seed=6, baseline="time")
    b = pgbench.estimate("reinforce", env, pol, WOBBLY_THETA, 32, seed=6, baseline="constant")
    assert not np.allclose(a, b)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("baseline", BASELINES[1:])
def test_one_episode_is_a_one_line_error(name, baseline, chain):
    env, pol = chain
    with pytest.raises(InvalidSpecError, match="at least 2 episodes") as err:
        pgbench.estimate(name, env, pol, pol.init(0), 1, seed=0, baseline=baseline)
    assert "\n" not in str(err.value)


def test_unknown_baseline_is_a_one_line_error(chain):
    env, pol = chain
    with pytest.raises(InvalidSpecError, match="baseline") as err:
        pgbench.estimate("reinforce", env, pol, pol.init(0), 8, seed=0, baseline="mean")
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidSpecError, match="(?i)extra inputs"):
        pgbench.estimate("reward-to-go", env, pol, pol.init(0), 8, seed=0, baselin="time")
