"""Policy cores against their numpy references and against finite differences."""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

import pgbench
from pgbench.kernels.build import target_lib


@numba.njit
def _evaluate(sample, log_prob, score, theta, obs, u, A, P):
    """Columns of obs are observations; returns actions, probs (A, N), log-probs, scores (P, N)."""
    n = obs.shape[1]
    probs = np.zeros((A, n))
    g = np.zeros((P, n))
    actions = np.zeros(n, np.int64)
    logp = np.zeros(n)
    for j in range(n):
        actions[j] = sample(theta, obs, j, u[j], probs)
        score(theta, obs, j, actions[j], probs, g)
        logp[j] = log_prob(theta, obs, j, actions[j], probs)
    return actions, probs, logp, g


def _cores(pol):
    lib = target_lib("serial")
    return tuple(lib.jit(f) for f in pol.make_cores(lib))


@pytest.fixture(scope="module", params=["linear-3", "linear-2", "tabular"])
def case(request):
    rng = np.random.default_rng(0)
    if request.param == "tabular":
        env = pgbench.make_env("garnet", n_states=4, n_actions=3)
        pol = pgbench.make_policy("tabular-softmax", env, init_scale=1.5)
        obs = rng.integers(0, 4, size=(1, 400)).astype(float)
    else:
        env = pgbench.make_env("cartpole-v1")
        if request.param == "linear-3":  # the general softmax path: a 3-action stand-in
            env = dataclasses.replace(env, n_actions=3)
        pol = pgbench.make_policy("linear-softmax", env, init_scale=1.5)
        obs = rng.normal(size=(4, 400))
    return pol, pol.init(5), obs, rng.random(obs.shape[1])


def test_probs_scores_and_log_probs_match_numpy(case):
    pol, theta, obs, u = case
    sample, log_prob, score = _cores(pol)
    actions, probs, logp, g = _evaluate(
        sample, log_prob, score, theta, obs, u, pol.n_actions, pol.n_params
    )
    ref = pol.probs_ref(theta, obs.T)
    np.testing.assert_allclose(probs.T, ref, rtol=1e-13)
    np.testing.assert_allclose(
        logp, np.log(ref[np.arange(len(actions)), actions]), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(g.T, pol.score_ref(theta, obs.T, actions), rtol=1e-12, atol=1e-14)
    # inverse-CDF sampling: the action is the first whose cumulative probability exceeds u
    cdf = np.cumsum(ref, axis=1)
    np.testing.assert_array_equal(
        actions, np.minimum((u[:, None] >= cdf).sum(axis=1), pol.n_actions - 1)
    )


def test_score_is_the_gradient_of_log_prob(case):
    pol, theta, obs, u = case
    sample, log_prob, score = _cores(pol)
    obs, u = obs[:, :20], u[:20]
    actions, _, _, g = _evaluate(
        sample, log_prob, score, theta, obs, u, pol.n_actions, pol.n_params
    )
    h = 1e-6
    for p in range(pol.n_params):
        d = np.zeros(pol.n_params)
        d[p] = h
        fd = (_logp_of(pol, theta + d, obs, actions) - _logp_of(pol, theta - d, obs, actions)) / (
            2 * h
        )
        np.testing.assert_allclose(g[p], fd, rtol=1e-5, atol=1e-7)


def _logp_of(pol, theta, obs, actions):
    p = pol.probs_ref(theta, obs.T)
    return np.log(p[np.arange(len(actions)), actions])


def test_init_is_seeded_and_scaled():
    env = pgbench.make_env("cartpole-v1")
    pol = pgbench.make_policy("linear-softmax", env, init_scale=0.1)
    a, b, c = pol.init(0), pol.init(0), pol.init(1)
    assert a.dtype == np.float64 and a.shape == (10,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and 0 < np.abs(a).max() < 1
    assert np.all(pgbench.make_policy("linear-softmax", env).init(0) == 0)
