"""gaussian: inverse-CDF sampling (AS 241), lane cores against numpy and finite differences,
env checks, and rollouts identical across CPU backends and the CUDA simulator.

Until ``pendulum-v1`` exists the continuous-action environment is a 1-D point
mass defined here (``pendulum-v1`` checks run when it is registered).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import special, stats

import pgbench
from pgbench.envs.base import Env, EnvCores
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import target_lib
from pgbench.policies import gaussian

DT = 0.1
FORCE_LIMIT = 2.0


def point_mass_cores(lib) -> EnvCores:
    """x'' = clip(a, -2, 2) with step DT; reward -(x^2 + 0.01 a^2); start x, v ~ U[-1, 1)."""
    uniform = lib.uniform

    def reset(ep, key, state, j):
        state[0, j] = 2.0 * uniform(key, np.uint64(0)) - 1.0
        state[1, j] = 2.0 * uniform(key, np.uint64(1)) - 1.0

    def step(ep, key, t, state, j, a):
        f = min(max(a, -FORCE_LIMIT), FORCE_LIMIT)
        x = state[0, j]
        v = state[1, j] + DT * f
        state[0, j] = x + DT * v
        state[1, j] = v
        return -(x * x + 0.01 * a * a), False

    def observe(ep, state, j, obs):
        obs[0, j] = state[0, j]
        obs[1, j] = state[1, j]

    return EnvCores(reset, step, observe)


def point_mass_env(horizon: int = 30) -> Env:
    return Env(
        name="point-mass",
        n_actions=0,
        state_dim=2,
        obs_dim=2,
        n_states=None,
        horizon=horizon,
        gamma=0.99,
        params=np.zeros(1),
        make_cores=point_mass_cores,
        action_dim=1,
        action_low=-FORCE_LIMIT,
        action_high=FORCE_LIMIT,
    )


@numba.njit
def _lane_eval(sample, log_prob, score, theta, obs, u, W, P):
    n = obs.shape[1]
    scratch = np.zeros((W, n))
    g = np.zeros((P, n))
    actions = np.zeros(n)
    logp = np.zeros(n)
    for j in range(n):
        actions[j] = sample(theta, obs, j, u[j], scratch)
        score(theta, obs, j, actions[j], scratch, g)
        logp[j] = log_prob(theta, obs, j, actions[j], scratch)
    return actions, scratch, logp, g


def lane_eval(pol, theta, obs, u):
    """Lane cores (serial CPU) on obs (N, d): (actions, means (N,), log-probs, scores (N, P))."""
    lib = target_lib("serial")
    cores = tuple(lib.jit(f) for f in pol.make_cores(lib))
    W = max(pol.n_actions, pol.scratch_rows, 1)
    a, s, logp, g = _lane_eval(*cores, theta, np.ascontiguousarray(obs.T), u, W, pol.n_params)
    return a, s[0].copy(), logp, g.T


@pytest.fixture(scope="module")
def env():
    return point_mass_env()


@pytest.fixture(scope="module", params=[(), (5, 3)], ids=["linear", "mlp"])
def case(request, env):
    pol = pgbench.make_policy("gaussian", env, hidden=list(request.param), log_std_init=-0.3)
    rng = np.random.default_rng(1)
    theta = pol.init(0) + 0.5 * rng.normal(size=pol.n_params)
    obs = rng.normal(size=(50, 2))
    u = rng.random(50)
    u[:3] = [0.0, 0.5, 1.0 - 2.0**-52]  # the ends of the uniform's range, and the median
    return pol, theta, obs, u, lane_eval(pol, theta, obs, u)


def test_inverse_normal_cdf_is_accurate():
    p = np.concatenate(
        [
            np.linspace(1e-6, 1 - 1e-6, 2001),
            np.logspace(-300, -1, 300),
            1 - np.logspace(-16, -1, 50),
        ]
    )
    q = np.array([gaussian.ppnd16(x) for x in p])
    np.testing.assert_allclose(q, special.ndtri(p), rtol=1e-14, atol=1e-15)
    assert gaussian.ppnd16(0.5) == 0.0


def test_layout_and_init(env):
    pol = pgbench.make_policy("gaussian", env, log_std_init=-0.5)
    assert (pol.n_params, pol.n_actions, pol.action_dim, pol.continuous) == (4, 0, 1, True)
    theta = pol.init(2)
    assert theta[-1] == -0.5 and theta[2] == 0.0  # log-std last; zero bias before it
    np.testing.assert_allclose(np.linalg.norm(theta[:2]), 0.01)  # one row, gain 0.01
    mlp_pol = pgbench.make_policy("gaussian", env, hidden=[64, 64])
    assert mlp_pol.n_params == (64 * 2 + 64) + (64 * 64 + 64) + (64 + 1) + 1
    np.testing.assert_array_equal(mlp_pol.init(7), mlp_pol.init(7))


def test_lane_cores_match_numpy(case):
    pol, theta, obs, u, (actions, means, logp, g) = case
    mu = pol.probs_ref(theta, obs)[:, 0]
    np.testing.assert_allclose(means, mu, rtol=1e-12, atol=1e-14)
    std = math.exp(theta[-1])
    nudged = np.clip(u, 2.0**-53, 1 - 2.0**-53)
    np.testing.assert_allclose(actions, mu + std * special.ndtri(nudged), rtol=1e-12, atol=1e-12)
    assert actions[1] == means[1]  # u = 1/2 gives the mean exactly
    assert np.all(np.isfinite(actions))
    np.testing.assert_allclose(
        logp, stats.norm.logpdf(actions, loc=mu, scale=std), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(g, pol.score_ref(theta, obs, actions), rtol=1e-10, atol=1e-12)


def test_lane_score_is_the_gradient_of_log_prob(case):
    pol, theta, obs, _, (actions, _, _, g) = case

    def logp(th):
        mu = pol.probs_ref(th, obs)[:, 0]
        return stats.norm.logpdf(actions, loc=mu, scale=math.exp(th[-1]))

    h = 1e-6
    fd = np.empty_like(g)
    for k in range(pol.n_params):
        e = np.zeros(pol.n_params)
        e[k] = h
        fd[:, k] = (logp(theta + e) - logp(theta - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_samples_are_normal(env):
    """Lane samples at one observation pass a Kolmogorov-Smirnov test against N(mu, sigma^2)."""
    pol = pgbench.make_policy("gaussian", env, log_std_init=0.4)
    theta = np.array([0.5, -1.0, 0.2, 0.4])
    obs = np.tile([[0.3, 0.1]], (4000, 1))
    u = np.random.default_rng(3).random(4000)
    actions, means, _, _ = lane_eval(pol, theta, obs, u)
    result = stats.kstest(actions, "norm", args=(means[0], math.exp(0.4)))
    assert result.pvalue > 1e-3


@pytest.mark.parametrize("name", ["gaussian", "mlp-softmax", "linear-softmax", "tabular-softmax"])
def test_policies_check_the_action_space(env, name):
    """gaussian rejects discrete actions; the softmax policies reject a continuous action."""
    target = pgbench.make_env("cartpole-v1") if name == "gaussian" else env
    with pytest.raises(InvalidSpecError) as info:
        pgbench.make_policy(name, target)
    message = str(info.value)
    assert "\n" not in message and ("continuous" in message or "discrete" in message)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden": [1] * 9},
        {"hidden": [0]},
        {"hidden": "x"},
        {"log_std_init": math.inf},
        {"log_std_init": "big"},
    ],
)
def test_bad_params_are_one_line_errors(env, params):
    with pytest.raises(InvalidSpecError) as info:
        pgbench.make_policy("gaussian", env, **params)
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def mlp_point_mass(env):
    pol = pgbench.make_policy("gaussian", env, hidden=[8])
    theta = pol.init(1) + 0.2 * np.random.default_rng(4).normal(size=pol.n_params)
    return env, pol, theta


def _same(a, b):
    for field in ("obs", "actions", "rewards", "mask", "score", "init_states", "lengths"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_rollouts_identical_serial_and_parallel(mlp_point_mass):
    env, pol, theta = mlp_point_mass
    a = pgbench.rollout(env, pol, theta, 21, seed=8, backend="serial")
    b = pgbench.rollout(env, pol, theta, 21, seed=8, backend="parallel")
    _same(a, b)
    assert a.actions.dtype == np.float64
    np.testing.assert_allclose(
        a.score[0], pol.score_ref(theta, a.obs[0], a.actions[0]), rtol=1e-10, atol=1e-12
    )
    dist = pol.distributions(theta, a.obs.reshape(-1, 2))
    np.testing.assert_allclose(
        dist.log_prob(a.actions.reshape(-1)),
        gaussian.log_prob_ref(theta, a.obs.reshape(-1, 2), a.actions.reshape(-1), 2, (8,)),
        rtol=1e-12,
        atol=1e-12,
    )


def test_greedy_evaluation_takes_the_mean(mlp_point_mass):
    from pgbench.policies.base import greedy

    env, pol, theta = mlp_point_mass
    b = pgbench.rollout(env, greedy(pol), theta, 3, seed=0, backend="serial")
    mu = pol.probs_ref(theta, b.obs.reshape(-1, 2))[:, 0]
    np.testing.assert_allclose(b.actions.reshape(-1), mu, rtol=1e-12, atol=1e-14)


def test_pendulum_rollouts_identical_serial_and_parallel():
    env = pgbench.make_env("pendulum-v1")
    pol = pgbench.make_policy("gaussian", env, hidden=[8])
    theta = pol.init(0)
    a = pgbench.rollout(env, pol, theta, 5, seed=1, backend="serial")
    _same(a, pgbench.rollout(env, pol, theta, 5, seed=1, backend="parallel"))
    dist = pol.distributions(theta, a.obs.reshape(-1, env.obs_dim))
    np.testing.assert_allclose(
        dist.log_prob(a.actions.reshape(-1)),
        gaussian.log_prob_ref(
            theta, a.obs.reshape(-1, env.obs_dim), a.actions.reshape(-1), env.obs_dim, (8,)
        ),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.cudasim
def test_cuda_simulator_rollout_equals_cpu(mlp_point_mass):
    env, pol, theta = mlp_point_mass
    _same(
        pgbench.rollout(env, pol, theta, 5, seed=2, backend="cuda"),
        pgbench.rollout(env, pol, theta, 5, seed=2, backend="serial"),
    )


@pytest.mark.cudasim
def test_cuda_simulator_pendulum_rollout_equals_cpu():
    env = pgbench.make_env("pendulum-v1")
    pol = pgbench.make_policy("gaussian", env, hidden=[8])
    theta = pol.init(3)
    _same(
        pgbench.rollout(env, pol, theta, 3, seed=4, horizon=40, backend="cuda"),
        pgbench.rollout(env, pol, theta, 3, seed=4, horizon=40, backend="serial"),
    )
