"""gaussian with K action components, state-dependent log-std, any depth and activation:
layout, batched passes (forward, grad with entropy and KL terms, fvp, scores) against closed
forms and finite differences, sample() against the lane cores bit for bit (K = 1)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

import pgbench
from pgbench.errors import InvalidSpecError
from pgbench.kernels import mathcore
from pgbench.kernels.build import target_lib
from pgbench.policies import gaussian, mlp
from tests.test_policy_options import fd_gradient, lane_eval

N = 24
DEEP = (4, 3, 5)
# (hidden, activation, K, state-dependent std)
CASES = [
    ((), "tanh", 3, False),
    ((), "tanh", 3, True),
    ((), "tanh", 1, True),
    ((5,), "relu", 1, False),
    ((5,), "tanh", 3, True),
    (DEEP, "relu", 3, False),
    (DEEP, "tanh", 1, True),
    (DEEP, "relu", 3, True),
]


def env_k(K: int):
    """pendulum-v1 (3 observations) with a K-component action (only its shapes are used)."""
    return dataclasses.replace(pgbench.make_env("pendulum-v1"), action_dim=K)


def _id(c):
    hidden, act, K, sd = c
    return f"L{len(hidden)}-{act}-K{K}" + ("-sd" if sd else "")


@pytest.fixture(scope="module", params=CASES, ids=_id)
def case(request):
    hidden, activation, K, sd = request.param
    pol = pgbench.make_policy(
        "gaussian", env_k(K), hidden=list(hidden), activation=activation,
        state_dependent_std=sd, log_std_init=-0.3,
    )  # fmt: skip
    rng = np.random.default_rng(CASES.index(request.param))
    theta = pol.init(0) + 0.4 * rng.normal(size=pol.n_params)
    theta_old = theta + 0.2 * rng.normal(size=pol.n_params)
    obs = rng.normal(size=(N, 3))
    dist = pol.distributions(theta, obs)
    actions = dist.sample(rng.random((N, K)) if K > 1 else rng.random(N))
    return pol, (hidden, activation, K, sd), theta, theta_old, obs, actions


def _heads(theta, obs, hidden, activation, K, sd):
    """(mu (N, K), log sigma (N, K)) from the documented layout, by hand."""
    n_net = mlp.n_params(3, hidden, K)
    acts, mu = mlp.activations_ref(theta[:n_net], obs, 3, hidden, K, activation)
    if sd:
        h = acts[-1].shape[1]
        W, b = theta[n_net : n_net + K * h].reshape(K, h), theta[n_net + K * h :]
        assert b.shape == (K,)
        return mu, acts[-1] @ W.T + b
    assert theta.size == n_net + K
    return mu, np.broadcast_to(theta[n_net:], mu.shape)


def test_linear_layout_for_k_components():
    """hidden = []: theta = [W (K, d) row-major, b (K), log_std (K)]."""
    pol = pgbench.make_policy("gaussian", env_k(3), log_std_init=-0.5)
    assert (pol.n_params, pol.action_dim, pol.theta_shape) == (3 * 3 + 3 + 3, 3, (15,))
    theta = pol.init(1)
    W, b, log_std = theta[:9].reshape(3, 3), theta[9:12], theta[12:]
    np.testing.assert_allclose(W @ W.T, 1e-4 * np.eye(3), atol=1e-16)  # gain 0.01
    assert not b.any() and np.all(log_std == -0.5)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=15)
    obs = rng.normal(size=(5, 3))
    W, b, log_std = theta[:9].reshape(3, 3), theta[9:12], theta[12:]
    np.testing.assert_allclose(pol.probs_ref(theta, obs), obs @ W.T + b, rtol=1e-13)
    dist = pol.distributions(theta, obs)
    np.testing.assert_allclose(dist.mu, obs @ W.T + b, rtol=1e-12)
    np.testing.assert_array_equal(dist.log_std, log_std)
    a = rng.normal(size=(5, 3))
    ref = stats.norm.logpdf(a, loc=obs @ W.T + b, scale=np.exp(log_std)).sum(axis=1)
    np.testing.assert_allclose(dist.log_prob(a), ref, rtol=1e-12)
    # K = 1 is exactly the scalar layout: one log-std entry, last
    one = pgbench.make_policy("gaussian", env_k(1))
    assert one.n_params == 3 + 1 + 1 and one.action_dim == 1


def test_state_dependent_layout_and_init():
    pol = pgbench.make_policy(
        "gaussian", env_k(2), hidden=[5], state_dependent_std=True, log_std_init=0.7
    )
    n_net = (5 * 3 + 5) + (2 * 5 + 2)
    assert pol.n_params == n_net + 2 * 5 + 2
    theta = pol.init(3)
    W_s, b_s = theta[n_net : n_net + 10].reshape(2, 5), theta[n_net + 10 :]
    np.testing.assert_allclose(W_s @ W_s.T, 1e-4 * np.eye(2), atol=1e-16)
    assert np.all(b_s == 0.7)
    np.testing.assert_array_equal(theta[:n_net], pgbench.make_policy(
        "gaussian", env_k(2), hidden=[5]).init(3)[:n_net])  # fmt: skip


def test_forward_entropy_kl_mode_match_closed_forms(case):
    pol, (hidden, act, K, sd), theta, theta_old, obs, actions = case
    dist, old = pol.distributions(theta, obs), pol.distributions(theta_old, obs)
    mu, ls = _heads(theta, obs, hidden, act, K, sd)
    mu_o, ls_o = _heads(theta_old, obs, hidden, act, K, sd)
    squeeze = (lambda x: x[:, 0]) if K == 1 else (lambda x: x)
    np.testing.assert_allclose(dist.mu, squeeze(mu), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pol.probs_ref(theta, obs), mu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.mode(), squeeze(mu), rtol=1e-12, atol=1e-14)
    if sd:
        np.testing.assert_allclose(dist.log_std, squeeze(ls), rtol=1e-12, atol=1e-14)
    a = np.reshape(actions, (N, K))
    lp = stats.norm.logpdf(a, loc=mu, scale=np.exp(ls)).sum(axis=1)
    np.testing.assert_allclose(dist.log_prob(actions), lp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        gaussian.log_prob_ref(theta, obs, actions, 3, hidden, K, act, sd), lp, rtol=1e-12
    )
    ent = stats.norm(scale=np.exp(ls)).entropy().sum(axis=1)
    np.testing.assert_allclose(dist.entropy(), ent, rtol=1e-12)
    s1, s2 = np.exp(ls), np.exp(ls_o)
    kl = (np.log(s2 / s1) + (s1**2 + (mu - mu_o) ** 2) / (2 * s2**2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(dist.kl(old), kl, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dist.kl(dist), 0.0, atol=1e-14)


def test_scores_match_the_reference_and_finite_differences(case):
    pol, (hidden, act, K, sd), theta, _, obs, actions = case
    rows = pol.distributions(theta, obs).scores(actions)
    ref = pol.score_ref(theta, obs, actions)
    assert rows.shape == ref.shape == (N, pol.n_params)
    np.testing.assert_allclose(rows, ref, rtol=1e-10, atol=1e-12)
    for n in (0, N - 1):

        def logp(th, n=n):
            return gaussian.log_prob_ref(
                th, obs[n : n + 1], actions[n : n + 1], 3, hidden, K, act, sd
            )[0]

        np.testing.assert_allclose(ref[n], fd_gradient(logp, theta), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("w_ent", "w_kl"), [(0.0, 0.0), (0.3, -0.7)], ids=str)
def test_grad_is_the_gradient_of_the_objective(case, w_ent, w_kl):
    pol, _, theta, theta_old, obs, actions = case
    w = np.random.default_rng(2).normal(size=N)
    old = pol.distributions(theta_old, obs)

    def objective(th):
        d = pol.distributions(th, obs)
        return w @ d.log_prob(actions) + w_ent * d.entropy().sum() + w_kl * old.kl(d).sum()

    g = pol.distributions(theta, obs).grad(actions, w, w_ent=w_ent, old=old, w_kl=w_kl)
    np.testing.assert_allclose(g, fd_gradient(objective, theta), rtol=1e-6, atol=1e-6)


def test_fvp_is_the_hessian_of_the_mean_kl_and_the_fisher(case):
    pol, (hidden, act, K, sd), theta, _, obs, actions = case
    dist = pol.distributions(theta, obs)

    def kl_grad(th):
        return pol.distributions(th, obs).grad(actions, np.zeros(N), old=dist, w_kl=1.0 / N)

    rng = np.random.default_rng(4)
    for _ in range(2):
        v = rng.normal(size=pol.n_params)
        fd = (kl_grad(theta + 1e-5 * v) - kl_grad(theta - 1e-5 * v)) / 2e-5
        np.testing.assert_allclose(dist.fvp(v), fd, rtol=1e-6, atol=1e-8)
    # E[score score^T] by tensor Gauss-Hermite quadrature: 3 nodes per component are exact
    # for the score's products (degree <= 4 in each z_k)
    mu, ls = _heads(theta, obs, hidden, act, K, sd)
    z, wq = np.polynomial.hermite_e.hermegauss(3)
    wq = wq / wq.sum()
    F = np.zeros((pol.n_params, pol.n_params))
    for idx in itertools.product(range(3), repeat=K):
        a = mu + np.exp(ls) * z[list(idx)]
        s = pol.score_ref(theta, obs, a if K > 1 else a[:, 0])
        F += np.prod(wq[list(idx)]) * s.T @ s
    v = rng.normal(size=pol.n_params)
    np.testing.assert_allclose(dist.fvp(v), F @ v / N, rtol=1e-8, atol=1e-10)


def test_sample_is_the_lane_draw_for_a_scalar_action():
    """The same u and observation give the same action bits as the lane cores."""
    rng = np.random.default_rng(8)
    obs = rng.normal(size=(N, 3))
    u = rng.random(N)
    u[:3] = [0.0, 0.5, 1.0 - 2.0**-52]
    # (the lane cores compile anew in every process: few cases; DEEP's layers of 3, 4 and 5
    # inputs take both the four-way unrolled loop of the lane cores and its remainder)
    for hidden, act, sd in [((), "tanh", False), ((5,), "relu", False), (DEEP, "relu", True)]:
        pol = pgbench.make_policy(
            "gaussian", env_k(1), hidden=list(hidden), activation=act, state_dependent_std=sd
        )
        theta = pol.init(0) + 0.3 * rng.normal(size=pol.n_params)
        lane_actions, s, logp, g = lane_eval(pol, theta, obs, u)
        dist = pol.distributions(theta, obs)
        np.testing.assert_array_equal(dist.sample(u), lane_actions)
        assert lane_actions[1] == s[0, 1]  # u = 1/2: the (lane) mean
        np.testing.assert_allclose(s[0], dist.mu, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(logp, dist.log_prob(lane_actions), rtol=1e-12, atol=1e-12)
        # scores amplify the means' rounding differences by 1 / sigma^2
        scale = max(1.0, np.abs(g).max())
        np.testing.assert_allclose(g, dist.scores(lane_actions), rtol=1e-9, atol=1e-11 * scale)


def test_sample_k_components_by_inversion(case):
    pol, (hidden, act, K, sd), theta, _, obs, _ = case
    dist = pol.distributions(theta, obs)
    u = np.random.default_rng(9).random((N, K))
    mu, ls = _heads(theta, obs, hidden, act, K, sd)
    nudged = np.clip(u, mathcore.U_MIN, mathcore.U_MAX)
    want = mu + np.exp(ls) * special.ndtri(nudged)
    got = dist.sample(u if K > 1 else u[:, 0])
    np.testing.assert_allclose(np.reshape(got, (N, K)), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        dist.sample(np.zeros(N + 1))


def test_native_kernels_take_a_scalar_action_only():
    pol = pgbench.make_policy("gaussian", env_k(3), hidden=[4])
    with pytest.raises(InvalidSpecError, match="native kernels take a scalar action"):
        pol.make_cores(target_lib("serial"))


def test_ppnd16_lives_in_mathcore():
    assert gaussian.ppnd16 is mathcore.ppnd16
    assert mathcore.ppnd16(0.5) == 0.0
    assert mathcore.ppnd16(0.975) == pytest.approx(special.ndtri(0.975), rel=1e-15)


def test_state_dependent_rollout_scores_and_cuda_free_path():
    """A state-dependent K = 1 policy runs in the native kernels; its stored scores are
    the reference's."""
    env = pgbench.make_env("pendulum-v1")
    pol = pgbench.make_policy("gaussian", env, hidden=[6, 5, 4], activation="relu",
                              state_dependent_std=True, log_std_init=-0.5)  # fmt: skip
    theta = pol.init(0) + 0.2 * np.random.default_rng(3).normal(size=pol.n_params)
    a = pgbench.rollout(env, pol, theta, 3, seed=1, backend="serial")
    b = pgbench.rollout(env, pol, theta, 3, seed=1, backend="parallel")
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.actions, b.actions)
    n = int(a.lengths[0])
    np.testing.assert_allclose(
        a.score[0, :n], pol.score_ref(theta, a.obs[0, :n], a.actions[0, :n]), atol=1e-11
    )
    assert math.isfinite(float(a.rewards.sum()))


@pytest.mark.cudasim
def test_cuda_simulator_state_dependent_rollout_equals_cpu():
    env = pgbench.make_env("pendulum-v1")
    pol = pgbench.make_policy("gaussian", env, hidden=[5, 4, 3], activation="relu",
                              state_dependent_std=True)  # fmt: skip
    theta = pol.init(0) + 0.2 * np.random.default_rng(3).normal(size=pol.n_params)
    a = pgbench.rollout(env, pol, theta, 2, seed=1, backend="cuda")
    b = pgbench.rollout(env, pol, theta, 2, seed=1, backend="serial")
    for field in ("obs", "actions", "rewards", "score", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
