"""mlp-softmax: layout, initialization, lane cores against numpy and finite differences,
rollouts identical across CPU backends and the CUDA simulator."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import target_lib
from pgbench.policies import mlp


@numba.njit
def _lane_eval(sample, log_prob, score, theta, obs, u, W, P):
    """Columns of obs are observations; lane cores on each: actions, probs (W, N),
    log-probs, scores (P, N)."""
    n = obs.shape[1]
    scratch = np.zeros((W, n))
    g = np.zeros((P, n))
    actions = np.zeros(n, np.int64)
    logp = np.zeros(n)
    for j in range(n):
        actions[j] = sample(theta, obs, j, u[j], scratch)
        score(theta, obs, j, actions[j], scratch, g)
        logp[j] = log_prob(theta, obs, j, actions[j], scratch)
    return actions, scratch, logp, g


def lane_eval(pol, theta, obs, u):
    """Lane cores of ``pol`` (serial CPU target) on obs (N, d): (actions, probs (N, A),
    log-probs (N,), scores (N, P))."""
    lib = target_lib("serial")
    cores = tuple(lib.jit(f) for f in pol.make_cores(lib))
    W = max(pol.n_actions, pol.scratch_rows, 1)
    a, s, logp, g = _lane_eval(*cores, theta, np.ascontiguousarray(obs.T), u, W, pol.n_params)
    return a, s[: pol.n_actions].T, logp, g.T


@pytest.fixture(scope="module")
def cartpole_env():
    return pgbench.make_env("cartpole-v1")


@pytest.fixture(scope="module", params=[(5, 3), (4,)], ids=["two-layers", "one-layer"])
def case(request, cartpole_env):
    """A small MLP on CartPole-shaped inputs (a 3-action stand-in for the general path)."""
    import dataclasses

    env = dataclasses.replace(cartpole_env, n_actions=3)
    pol = pgbench.make_policy("mlp-softmax", env, hidden=list(request.param))
    rng = np.random.default_rng(0)
    theta = rng.normal(size=pol.n_params)  # large weights: far from the near-uniform init
    obs = rng.normal(size=(60, 4))
    u = rng.random(60)
    return pol, theta, obs, u, lane_eval(pol, theta, obs, u)


def test_layout_sizes_and_reference_forward(cartpole_env):
    pol = pgbench.make_policy("mlp-softmax", cartpole_env)
    assert pol.n_params == (64 * 4 + 64) + (64 * 64 + 64) + (2 * 64 + 2) == 4610
    assert pol.theta_shape == (4610,) and pol.scratch_rows == 2 * 2 + 2 * 128
    theta = np.random.default_rng(1).normal(size=pol.n_params)
    W1, b1 = theta[:256].reshape(64, 4), theta[256:320]
    W2, b2 = theta[320:4416].reshape(64, 64), theta[4416:4480]
    W3, b3 = theta[4480:4608].reshape(2, 64), theta[4608:]
    x = np.random.default_rng(2).normal(size=(7, 4))
    z = np.tanh(np.tanh(x @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pol.probs_ref(theta, x), p, rtol=1e-12)


def test_orthogonal_init_as_stable_baselines3(cartpole_env):
    pol = pgbench.make_policy("mlp-softmax", cartpole_env)
    theta = pol.init(3)
    np.testing.assert_array_equal(theta, pol.init(3))
    assert not np.array_equal(theta, pol.init(4))
    (W1, b1), (W2, b2), (W3, b3) = mlp.unpack(theta, 4, (64, 64), 2)
    # orthonormal columns (64 x 4) / rows (2 x 64), times the gains sqrt 2 and 0.01
    np.testing.assert_allclose(W1.T @ W1, 2.0 * np.eye(4), atol=1e-12)
    np.testing.assert_allclose(W2 @ W2.T, 2.0 * np.eye(64), atol=1e-12)
    np.testing.assert_allclose(W3 @ W3.T, 1e-4 * np.eye(2), atol=1e-16)
    assert not b1.any() and not b2.any() and not b3.any()


def test_lane_cores_match_numpy(case):
    pol, theta, obs, u, (actions, probs, logp, g) = case
    ref = pol.probs_ref(theta, obs)
    np.testing.assert_allclose(probs, ref, rtol=1e-12)
    np.testing.assert_allclose(logp, np.log(ref[np.arange(len(obs)), actions]), rtol=1e-12)
    np.testing.assert_allclose(g, pol.score_ref(theta, obs, actions), rtol=1e-10, atol=1e-13)
    cdf = np.cumsum(ref, axis=1)
    np.testing.assert_array_equal(actions, np.minimum((u[:, None] >= cdf).sum(axis=1), 2))


def test_lane_score_is_the_gradient_of_log_prob(case):
    pol, theta, obs, _, (actions, _, _, g) = case
    obs, actions, g = obs[:8], actions[:8], g[:8]

    def logp(th):
        p = pol.probs_ref(th, obs)
        return np.log(p[np.arange(len(obs)), actions])

    h = 1e-6
    fd = np.empty_like(g)
    for k in range(pol.n_params):
        e = np.zeros(pol.n_params)
        e[k] = h
        fd[:, k] = (logp(theta + e) - logp(theta - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "hidden", [[], [0], [1] * 9, [4.5], "64", [True], None], ids=lambda h: repr(h)
)
def test_bad_hidden_is_a_one_line_error(cartpole_env, hidden):
    with pytest.raises(InvalidSpecError) as info:
        pgbench.make_policy("mlp-softmax", cartpole_env, hidden=hidden)
    assert "hidden" in str(info.value) and "\n" not in str(info.value)


def test_rejects_discrete_states():
    env = pgbench.make_env("chain", n=4)
    with pytest.raises(InvalidSpecError, match="tabular-softmax"):
        pgbench.make_policy("mlp-softmax", env)


@pytest.fixture(scope="module")
def small_cartpole(cartpole_env):
    """mlp-softmax [8] on CartPole with a weak, fixed theta (episodes of varied lengths)."""
    pol = pgbench.make_policy("mlp-softmax", cartpole_env, hidden=[8])
    theta = pol.init(0) + 0.3 * np.random.default_rng(5).normal(size=pol.n_params)
    return cartpole_env, pol, theta


def _same(a, b):
    for field in ("obs", "actions", "rewards", "mask", "score", "init_states", "lengths"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_rollouts_identical_serial_and_parallel(small_cartpole):
    env, pol, theta = small_cartpole
    a = pgbench.rollout(env, pol, theta, 37, seed=3, backend="serial")
    b = pgbench.rollout(env, pol, theta, 37, seed=3, backend="parallel")
    _same(a, b)
    assert a.lengths.min() < a.lengths.max()
    # stored scores are the policy's, at the stored observations and actions
    e, t = 5, 3
    np.testing.assert_allclose(
        a.score[e, : a.lengths[e]],
        pol.score_ref(theta, a.obs[e, : a.lengths[e]], a.actions[e, : a.lengths[e]]),
        rtol=1e-10,
        atol=1e-13,
    )
    assert t < a.lengths[e]


def test_batched_log_probs_match_rollout_scores(small_cartpole):
    """The batched distributions and the lane cores describe the same policy."""
    env, pol, theta = small_cartpole
    b = pgbench.rollout(env, pol, theta, 8, seed=1, backend="serial")
    alive = b.mask > 0
    obs, actions = b.obs[alive], b.actions[alive]
    dist = pol.distributions(theta, obs)
    ref = pol.probs_ref(theta, obs)
    np.testing.assert_allclose(
        dist.log_prob(actions), np.log(ref[np.arange(len(actions)), actions]), rtol=1e-12
    )
    w = np.random.default_rng(0).normal(size=len(actions))
    np.testing.assert_allclose(dist.grad(actions, w), w @ b.score[alive], rtol=1e-10, atol=1e-12)


@pytest.mark.cudasim
def test_cuda_simulator_rollout_equals_cpu(small_cartpole):
    env, pol, theta = small_cartpole
    _same(
        pgbench.rollout(env, pol, theta, 6, seed=2, backend="cuda"),
        pgbench.rollout(env, pol, theta, 6, seed=2, backend="serial"),
    )
