"""REINFORCE and reward-to-go against exact gradients on tabular MDPs."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.sampling import Sampler

EPISODES = 40_000


def _per_episode_terms(env, pol, theta, seed=123):
    """(reinforce terms, reward-to-go terms), each (E, P): their means are the estimates."""
    sums = Sampler(env, pol, "cpu").episode_sums(theta, EPISODES, seed)
    return sums.returns[:, None] * sums.score_sums, sums.rtg_sums


@pytest.mark.parametrize("name", ["chain", "garnet"])
def test_unbiased_within_four_standard_errors(name, request):
    env, pol = request.getfixturevalue(name)
    theta = pol.init(7)
    exact = pgbench.exact_gradient(env, pol, theta)
    for terms in _per_episode_terms(env, pol, theta):
        mean = terms.mean(axis=0)
        se = terms.std(axis=0, ddof=1) / np.sqrt(len(terms))
        z = (mean - exact) / np.maximum(se, 1e-300)
        assert np.all(np.abs(z[se > 0]) < 4), z
        np.testing.assert_allclose(mean[se == 0], exact[se == 0], atol=1e-12)


@pytest.mark.parametrize("name", ["chain", "garnet"])
def test_reward_to_go_has_lower_variance(name, request):
    env, pol = request.getfixturevalue(name)
    reinforce, rtg = _per_episode_terms(env, pol, pol.init(7))
    assert rtg.var(axis=0).sum() < 0.9 * reinforce.var(axis=0).sum()


def test_estimate_is_the_mean_of_episode_terms(garnet):
    env, pol = garnet
    theta = pol.init(1)
    sums = Sampler(env, pol, "cpu").episode_sums(theta, 300, 9)
    g, info = pgbench.estimate("reinforce", env, pol, theta, 300, seed=9, info=True)
    np.testing.assert_allclose(g, (sums.returns[:, None] * sums.score_sums).mean(axis=0))
    np.testing.assert_allclose(
        pgbench.estimate("reward-to-go", env, pol, theta, 300, seed=9), sums.rtg_sums.mean(axis=0)
    )
    assert info["env_steps"] == 300 * env.horizon and info["episodes"] == 300
    assert info["unbiased"] is True and info["seconds"] >= 0


def test_variance_falls_as_one_over_n(chain):
    """Means of n independent episode terms: the MSE at n = 16 is 4x the MSE at n = 64."""
    env, pol = chain
    theta = pol.init(2)
    exact = pgbench.exact_gradient(env, pol, theta)
    terms = Sampler(env, pol, "cpu").episode_sums(theta, 64 * 3000, 77).rtg_sums

    def mse(n):
        means = terms[: (len(terms) // n) * n].reshape(-1, n, terms.shape[1]).mean(axis=1)
        return np.mean(np.sum((means - exact) ** 2, axis=1))

    ratio = mse(16) / mse(64)
    assert 3.4 < ratio < 4.7, ratio


def test_cartpole_reinforce_uses_streaming_and_is_deterministic(cartpole):
    env, pol = cartpole
    theta = pol.init(0)
    a = pgbench.estimate("reinforce", env, pol, theta, 64, seed=3)
    b = pgbench.estimate("reinforce", env, pol, theta, 64, seed=3)
    c = pgbench.estimate("reinforce", env, pol, theta, 64, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (pol.n_params,)


UNBIASED_ON_IPD = [
    ("reinforce", {}),
    ("reinforce", {"baseline": "constant"}),
    ("reinforce", {"baseline": "optimal"}),
    ("reinforce", {"baseline": "value"}),
    ("reward-to-go", {}),
    ("reward-to-go", {"baseline": "constant"}),
    ("reward-to-go", {"baseline": "time"}),
    ("reward-to-go", {"baseline": "optimal"}),
    ("reward-to-go", {"baseline": "value"}),
    ("q-critic", {"critic": "exact"}),
    ("advantage-critic", {"critic": "exact"}),
    ("td-critic", {"critic": "exact"}),
]


@pytest.fixture(scope="module")
def ipd():
    env = pgbench.make_env("ipd", opponent="tit-for-tat", horizon=15)
    return env, pgbench.make_policy("tabular-softmax", env, init_scale=1.0)


@pytest.mark.parametrize(("name", "params"), UNBIASED_ON_IPD)
def test_unbiased_estimators_on_the_iterated_prisoners_dilemma(ipd, name, params):
    """Mean of 60 independent estimates within 4 standard errors of the exact gradient."""
    env, pol = ipd
    theta = pol.init(3)
    exact = pgbench.exact_gradient(env, pol, theta)
    draws = np.array(
        [
            pgbench.estimate(
                name, env, pol, theta, 300, seed=10_000 + r, backend="serial", **params
            )
            for r in range(60)
        ]
    )
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    live = se > 1e-12
    assert np.all(np.abs(mean - exact)[live] < 4 * se[live]), (mean - exact) / np.maximum(
        se, 1e-300
    )
    np.testing.assert_allclose(mean[~live], exact[~live], atol=1e-9)
