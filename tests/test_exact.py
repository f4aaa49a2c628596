"""Exact J, grad J, Q/V, visitation and Fisher against independent oracles.

Oracles: central finite differences of J, brute-force enumeration of all
trajectories, a plain numpy Monte Carlo loop, and hand-computed Fisher sums.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from pgbench import make_env
from pgbench.envs.tabular import tabular_env
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.exact import (
    exact_fisher,
    exact_gradient,
    exact_objective,
    exact_q_values,
    state_visitation,
)
from pgbench.policies.tabular_softmax import make_tabular_softmax, probs_table


def random_mdp(rng: np.random.Generator, S: int, A: int):
    """Dense random (P, R, mu0) with rewards of both signs."""
    P = rng.random((S, A, S)) + 0.05
    P /= P.sum(axis=2, keepdims=True)
    R = rng.normal(size=(S, A))
    mu0 = rng.random(S) + 0.1
    return P, R, mu0 / mu0.sum()


def user_env(seed: int = 7, S: int = 3, A: int = 2, gamma: float = 0.9, horizon: int = 6):
    return tabular_env("tabular", *random_mdp(np.random.default_rng(seed), S, A), gamma, horizon)


def all_envs():
    return [
        make_env("chain"),
        make_env("chain", n=4, slip=0.3, gamma=1.0, horizon=7),
        make_env("garnet", n_states=6, n_actions=3, branching=2, seed=3, horizon=8),
        user_env(),
    ]


def central_differences(env, policy, theta, eps=1e-5):
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        fd[i] = exact_objective(env, policy, theta + e) - exact_objective(env, policy, theta - e)
        fd[i] /= 2 * eps
    return fd


@pytest.mark.parametrize("env", all_envs(), ids=lambda e: e.describe())
def test_gradient_matches_finite_differences(env):
    policy = make_tabular_softmax(env)
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.normal(scale=1.5, size=policy.n_params)
        g = exact_gradient(env, policy, theta)
        fd = central_differences(env, policy, theta)
        assert g.shape == (policy.n_params,)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(fd).max()))


def brute_force_objective(P, R, mu0, pi, gamma, H):
    """Sum over every (s_0, a_0, ..., s_{H-1}, a_{H-1}) of probability times return."""
    S, A = R.shape
    total = 0.0
    for states in itertools.product(range(S), repeat=H):
        for actions in itertools.product(range(A), repeat=H):
            prob = mu0[states[0]]
            ret = 0.0
            for t in range(H):
                s, a = states[t], actions[t]
                prob *= pi[s, a]
                if t + 1 < H:
                    prob *= P[s, a, states[t + 1]]
                ret += gamma**t * R[s, a]
            total += prob * ret
    return total


def test_objective_matches_trajectory_enumeration():
    rng = np.random.default_rng(1)
    P, R, mu0 = random_mdp(rng, 2, 2)
    env = tabular_env("tabular", P, R, mu0, gamma=0.8, horizon=3)
    policy = make_tabular_softmax(env)
    for _ in range(3):
        theta = rng.normal(size=4)
        pi = probs_table(theta, 2, 2)
        expected = brute_force_objective(P, R, mu0, pi, 0.8, 3)
        assert abs(exact_objective(env, policy, theta) - expected) < 1e-12


def monte_carlo_returns(P, R, mu0, pi, gamma, H, n, rng):
    """Discounted returns of n episodes simulated with plain numpy (no pgbench kernels)."""
    S, A = R.shape
    s = rng.choice(S, size=n, p=mu0)
    returns = np.zeros(n)
    pi_cdf = np.cumsum(pi, axis=1)
    P_cdf = np.cumsum(P, axis=2)
    for t in range(H):
        a = np.minimum((rng.random(n)[:, None] >= pi_cdf[s]).sum(axis=1), A - 1)
        returns += gamma**t * R[s, a]
        s = np.minimum((rng.random(n)[:, None] >= P_cdf[s, a]).sum(axis=1), S - 1)
    return returns


@pytest.mark.parametrize(
    "env",
    [make_env("garnet", n_states=5, n_actions=3, seed=11, horizon=10), make_env("chain")],
    ids=lambda e: e.name,
)
def test_objective_matches_monte_carlo(env):
    P, R, mu0 = env.tabular
    S, A = R.shape
    policy = make_tabular_softmax(env)
    rng = np.random.default_rng(2024)
    theta = rng.normal(size=S * A)
    pi = probs_table(theta, S, A)
    returns = monte_carlo_returns(P, R, mu0, pi, env.gamma, env.horizon, 20_000, rng)
    se = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(returns.mean() - exact_objective(env, policy, theta)) < 4 * se


def test_q_values_and_visitation_are_consistent():
    env = make_env("garnet", n_states=4, n_actions=2, seed=5, gamma=0.9, horizon=5)
    policy = make_tabular_softmax(env)
    theta = np.random.default_rng(3).normal(size=8)
    P, R, mu0 = env.tabular
    pi = probs_table(theta, 4, 2)
    Q, V = exact_q_values(env, policy, theta)
    d = state_visitation(env, policy, theta)
    assert Q.shape == (5, 4, 2) and V.shape == (6, 4) and d.shape == (5, 4)
    np.testing.assert_array_equal(V[5], 0.0)
    np.testing.assert_allclose(Q[4], R)  # last step: only the immediate reward
    np.testing.assert_allclose(V[:5], np.sum(pi * Q, axis=2))
    np.testing.assert_allclose(d.sum(axis=1), 1.0)
    np.testing.assert_allclose(d[0], mu0)
    # J two ways: mu0 . V_0 and sum_t gamma^t d_t . r_pi.
    J_forward = sum(0.9**t * d[t] @ np.sum(pi * R, axis=1) for t in range(5))
    assert exact_objective(env, policy, theta) == pytest.approx(J_forward, rel=1e-12)


def test_chain_values_at_a_near_deterministic_policy():
    """slip = 0, always right: reward 1 from step n-1 on, so J = sum_{t=n-1}^{H-1} gamma^t."""
    n, gamma, H = 4, 0.9, 10
    env = make_env("chain", n=n, slip=0.0, gamma=gamma, horizon=H)
    theta = np.tile([-40.0, 40.0], n)
    expected = sum(gamma**t for t in range(n - 1, H))
    assert exact_objective(env, make_tabular_softmax(env), theta) == pytest.approx(expected)


def hand_fisher(env, policy, theta):
    """sum_t gamma^t sum_s d_t(s) sum_a pi(a|s) score score^T, with scores from score_ref."""
    S, A = env.n_states, env.n_actions
    d = state_visitation(env, policy, theta)
    pi = probs_table(theta, S, A)
    F = np.zeros((S * A, S * A))
    for t in range(env.horizon):
        for s in range(S):
            for a in range(A):
                g = policy.score_ref(theta, np.array([[s]]), np.array([a]))[0]
                F += env.gamma**t * d[t, s] * pi[s, a] * np.outer(g, g)
    return F


def test_fisher_is_symmetric_psd_and_matches_hand_sum():
    env = user_env(seed=4, S=3, A=3, gamma=0.85, horizon=4)
    policy = make_tabular_softmax(env)
    theta = np.random.default_rng(5).normal(size=9)
    F = exact_fisher(env, policy, theta)
    assert F.shape == (9, 9)
    np.testing.assert_array_equal(F, F.T)
    assert np.linalg.eigvalsh(F).min() > -1e-12
    np.testing.assert_allclose(F, hand_fisher(env, policy, theta), rtol=1e-12, atol=1e-15)
    # Adding a constant to theta[s] leaves pi unchanged: one null direction per state.
    for s in range(3):
        v = np.zeros(9)
        v[3 * s : 3 * s + 3] = 1.0
        np.testing.assert_allclose(F @ v, 0.0, atol=1e-14)


def test_natural_gradient_is_weighted_advantage():
    """F w = grad J for w[s, a] = sum_t gamma^t d_t(s) (Q_t - V_t)(s, a) / rho(s)."""
    env = make_env("garnet", n_states=5, n_actions=3, seed=9, gamma=0.9, horizon=6)
    policy = make_tabular_softmax(env)
    theta = np.random.default_rng(6).normal(size=15)
    Q, V = exact_q_values(env, policy, theta)
    d = state_visitation(env, policy, theta)
    w_t = (0.9 ** np.arange(6))[:, None] * d
    abar = np.einsum("ts,tsa->sa", w_t, Q - V[:6, :, None]) / w_t.sum(axis=0)[:, None]
    F = exact_fisher(env, policy, theta)
    np.testing.assert_allclose(F @ abar.ravel(), exact_gradient(env, policy, theta), atol=1e-12)


def test_gradient_vanishes_when_rewards_are_constant():
    rng = np.random.default_rng(8)
    P, _, mu0 = random_mdp(rng, 3, 2)
    env = tabular_env("tabular", P, np.full((3, 2), 2.5), mu0, 0.9, 5)
    policy = make_tabular_softmax(env)
    theta = rng.normal(size=6)
    np.testing.assert_allclose(exact_gradient(env, policy, theta), 0.0, atol=1e-12)
    assert exact_objective(env, policy, theta) == pytest.approx(2.5 * sum(0.9**t for t in range(5)))


def test_no_exact_form_for_cartpole():
    env = make_env("cartpole-v1")
    stand_in = SimpleNamespace(name="tabular-softmax", n_params=8)
    for fn in (exact_objective, exact_gradient, exact_fisher, exact_q_values, state_visitation):
        with pytest.raises(NoExactFormError, match="cartpole-v1"):
            fn(env, stand_in, np.zeros(8))


def test_no_exact_form_for_other_policies():
    env = make_env("chain")
    other = SimpleNamespace(name="linear-softmax", n_params=10)
    with pytest.raises(NoExactFormError, match="linear-softmax"):
        exact_gradient(env, other, np.zeros(10))


@pytest.mark.parametrize(
    "theta", [np.zeros(9), np.zeros((5, 2)), np.zeros(11), np.array([np.nan] + [0.0] * 9)]
)
def test_bad_theta_is_rejected(theta):
    env = make_env("chain")
    with pytest.raises(InvalidSpecError, match="theta"):
        exact_objective(env, make_tabular_softmax(env), theta)


def test_policy_for_another_env_is_rejected():
    env = make_env("chain")
    policy = make_tabular_softmax(make_env("chain", n=3))
    with pytest.raises(InvalidSpecError, match="parameters"):
        exact_objective(env, policy, np.zeros(10))
