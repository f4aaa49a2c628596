"""Kernels: targets agree bit for bit, streams are keyed, sums match stored episodes."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from pgbench.kernels import build, build_returns
from pgbench.kernels.build import target_lib
from tests.conftest import WOBBLY_THETA


def _theta(env_pol, name):
    env, pol = env_pol
    return WOBBLY_THETA if name == "cartpole" else pol.init(4)


def _run(env_pol, theta, target, episodes=150, seed=17):
    env, pol = env_pol
    k = build(env, pol, target)
    sums = k.stream(env.params, theta, seed, episodes, env.horizon, env.gamma)
    traj = k.rollout(env.params, theta, seed, episodes, env.horizon)
    return sums, traj


@pytest.mark.parametrize("name", ["cartpole", "garnet"])
def test_serial_equals_parallel(name, request):
    env_pol = request.getfixturevalue(name)
    theta = _theta(env_pol, name)
    # 1100 episodes: two blocks, so the parallel target runs its prange drivers
    a = _run(env_pol, theta, "serial", episodes=1100)
    b = _run(env_pol, theta, "parallel", episodes=1100)
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_thread_count_does_not_change_results(cartpole):
    theta = WOBBLY_THETA
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(cartpole, theta, "parallel", episodes=1100)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = _run(cartpole, theta, "parallel", episodes=1100)
    finally:
        numba.set_num_threads(before)
    for x, y in zip(one[0] + one[1], two[0] + two[1], strict=True):
        np.testing.assert_array_equal(x, y)


def test_episode_streams_are_keyed_by_index(cartpole):
    """Episode e is the same whether 10 or 1000 episodes are drawn (lanes differ)."""
    env, pol = cartpole
    k = build(env, pol, "parallel")
    small = k.rollout(env.params, WOBBLY_THETA, 3, 10, env.horizon)
    large = k.rollout(env.params, WOBBLY_THETA, 3, 1000, env.horizon)
    for x, y in zip(small, large, strict=True):
        np.testing.assert_array_equal(x, y[:10])
    other = k.rollout(env.params, WOBBLY_THETA, 4, 10, env.horizon)
    assert not np.array_equal(small.init_states, other.init_states)


@pytest.mark.parametrize("name", ["cartpole", "garnet"])
def test_stream_sums_equal_sums_of_stored_episodes(name, request):
    env_pol = request.getfixturevalue(name)
    env, _ = env_pol
    sums, traj = _run(env_pol, _theta(env_pol, name), "serial")
    np.testing.assert_array_equal(sums.lengths, traj.lengths)
    disc = env.gamma ** np.arange(traj.rewards.shape[1])
    np.testing.assert_allclose(sums.returns, traj.rewards @ disc, rtol=1e-12)
    np.testing.assert_allclose(sums.total_rewards, traj.rewards.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(sums.score_sums, traj.score.sum(axis=1), rtol=1e-10, atol=1e-12)
    # sum_t score_t * sum_{t' >= t} gamma^t' r_t'
    tail = np.cumsum((traj.rewards * disc)[:, ::-1], axis=1)[:, ::-1]
    rtg = np.einsum("etp,et->ep", traj.score, tail)
    np.testing.assert_allclose(sums.rtg_sums, rtg, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["cartpole", "garnet"])
def test_stored_scores_match_numpy_reference(name, request):
    env_pol = request.getfixturevalue(name)
    env, pol = env_pol
    theta = _theta(env_pol, name)
    _, traj = _run(env_pol, theta, "serial", episodes=20)
    live = traj.mask.astype(bool)
    obs, acts, score = traj.obs[live], traj.actions[live], traj.score[live]
    np.testing.assert_allclose(score, pol.score_ref(theta, obs, acts), rtol=1e-12, atol=1e-13)


def test_returns_kernels_match_numpy():
    rng = np.random.default_rng(0)
    E, T, gamma, lam = 9, 13, 0.9, 0.7
    rewards = rng.normal(size=(E, T))
    lengths = rng.integers(1, T + 1, size=E)
    mask = (np.arange(T) < lengths[:, None]).astype(float)
    rewards *= mask
    values = rng.normal(size=(E, T + 1))
    ref_rtg = np.zeros((E, T))
    ref_gae = np.zeros((E, T))
    ref_td = np.zeros((E, T))
    for e in range(E):
        n = lengths[e]
        for t in range(n):
            ref_rtg[e, t] = sum(gamma ** (u - t) * rewards[e, u] for u in range(t, n))
            ref_td[e, t] = rewards[e, t] + gamma * values[e, t + 1] - values[e, t]
        for t in range(n):
            ref_gae[e, t] = sum((gamma * lam) ** (u - t) * ref_td[e, u] for u in range(t, n))
    for target in ("serial", "parallel"):
        ops = build_returns(target)
        np.testing.assert_allclose(ops.reward_to_go(rewards, mask, gamma), ref_rtg, rtol=1e-12)
        np.testing.assert_allclose(ops.discounted_return(rewards, mask, gamma), ref_rtg[:, 0])
        np.testing.assert_allclose(ops.td_errors(rewards, values, mask, gamma), ref_td)
        np.testing.assert_allclose(ops.gae(rewards, values, mask, gamma, lam), ref_gae, atol=1e-12)
    # lambda = 1 GAE with zero values is the reward-to-go
    zero = np.zeros((E, T + 1))
    np.testing.assert_allclose(ops.gae(rewards, zero, mask, gamma, 1.0), ref_rtg, atol=1e-12)


@numba.njit
def _draw(uniform, episode_key, seed, episodes, draws):
    out = np.empty((episodes, draws))
    for e in range(episodes):
        key = episode_key(seed, e)
        for c in range(draws):
            out[e, c] = uniform(key, np.uint64(c))
    return out


def test_uniform_streams_look_uniform_and_independent():
    lib = target_lib("serial")
    u = _draw(lib.uniform, lib.episode_key, np.uint64(12345), 2000, 50)
    assert u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / n)
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    chi2 = ((counts - n / 20) ** 2 / (n / 20)).sum()
    assert chi2 < 45  # 19 dof, p ~ 0.001
    # neighbouring episodes and neighbouring counters are uncorrelated
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.1
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 0.02
    v = _draw(lib.uniform, lib.episode_key, np.uint64(12346), 2000, 50)
    assert abs(np.corrcoef(u.ravel(), v.ravel())[0, 1]) < 0.02


@numba.njit
def _apply_exp(exp, x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = exp(x[i])
    return out


@numba.njit
def _apply_sincos(sincos, x):
    s = np.empty_like(x)
    c = np.empty_like(x)
    for i in range(x.size):
        s[i], c[i] = sincos(x[i])
    return s, c


def _ulps(a, b):
    return np.abs(a - b) / np.spacing(np.abs(b))


def test_exp_within_two_ulp_of_libm():
    lib = target_lib("serial")
    x = np.concatenate(
        [np.linspace(-700, 700, 20001), np.random.default_rng(1).normal(0, 5, 20000)]
    )
    assert _ulps(_apply_exp(lib.exp, x), np.exp(x)).max() <= 2
    assert _apply_exp(lib.exp, np.array([0.0]))[0] == 1.0
    assert _apply_exp(lib.exp, np.array([-800.0, -np.inf]))[0] == 0.0


def test_sincos_within_two_ulp_of_libm():
    lib = target_lib("serial")
    x = np.concatenate([np.linspace(-0.3, 0.3, 20001), np.linspace(-1e4, 1e4, 20001)])
    s, c = _apply_sincos(lib.sincos, x)
    # absolute error near zeros of sin / cos, relative elsewhere
    np.testing.assert_allclose(s, np.sin(x), rtol=3e-16, atol=1e-15)
    np.testing.assert_allclose(c, np.cos(x), rtol=3e-16, atol=1e-15)
    small = np.abs(x) < 0.3
    assert _ulps(s[small & (x != 0)], np.sin(x[small & (x != 0)])).max() <= 2
