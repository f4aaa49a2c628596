"""``lqr``: closed forms against finite differences, Lyapunov limits and an independent
Monte Carlo simulation; the numpy lanes against a step-by-step reference; the exact hook
of :mod:`pgbench.exact`; and the unbiased estimators against the exact gradient."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.linalg import solve_discrete_are

import pgbench
from pgbench.envs import lqr_exact
from pgbench.envs.lqr import NOISE_BLOCK, PROBLEMS, LqrLanes, lqr_problem, psd_factor
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.experiments.gradient_quality.reference import reference_gradient
from pgbench.kernels.keyed import episode_keys, reset_seeds


def custom_problem(seed: int = 0, n: int = 3, m: int = 2) -> lqr_exact.LqrProblem:
    """A random problem with correlated noise, a non-zero start mean and full-rank costs."""
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(n, n))
    return lqr_problem(
        A=(0.9 * np.eye(n) + 0.2 * rng.normal(size=(n, n))).tolist(),
        B=rng.normal(size=(n, m)).tolist(),
        Q=(L @ L.T / n + 0.1 * np.eye(n)).tolist(),
        R=(0.2 * np.eye(m) + 0.05).tolist(),
        W=(0.02 * (L.T @ L)).tolist(),
        Sigma0=(0.3 * np.eye(n) + 0.1).tolist(),
        x0_mean=rng.normal(size=n).tolist(),
    )


PROBLEM_CASES = {
    "double-integrator": lqr_problem("double-integrator"),
    "two-masses": lqr_problem("two-masses"),
    "custom-3x2": custom_problem(),
    "fixed-start": lqr_problem(x0_mean=[1.0, -0.5], x0_std=0.0, noise_std=0.0),
}


def random_theta(p: lqr_exact.LqrProblem, seed: int, scale: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=lqr_exact.n_params(p.n, p.m))


def central_differences(f, theta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        fd[i] = (f(theta + e) - f(theta - e)) / (2 * eps)
    return fd


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("name", PROBLEM_CASES)
def test_gradient_matches_central_differences(name):
    p = PROBLEM_CASES[name]
    for seed, (gamma, H) in enumerate([(0.95, 20), (1.0, 7)]):
        theta = random_theta(p, seed)
        g = lqr_exact.gradient(p, theta, gamma, H)
        fd = central_differences(lambda th, g=gamma, H=H: lqr_exact.objective(p, th, g, H), theta)
        assert g.shape == theta.shape
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())


@pytest.mark.parametrize("name", PROBLEM_CASES)
def test_objective_backward_equals_forward_moments(name):
    """J by the value recursion = -sum_t gamma^t E[c_t] from the forward second moments."""
    p = PROBLEM_CASES[name]
    theta = random_theta(p, 3)
    gamma, H = 0.9, 15
    K, b, log_std = lqr_exact.split_theta(theta, p.n, p.m)
    Z = lqr_exact.state_moments(p, theta, H)
    G = np.concatenate([K, b[:, None]], axis=1)
    C = G.T @ p.R @ G
    C[: p.n, : p.n] += p.Q
    costs = [np.sum(C * Z[t]) + np.sum(np.diag(p.R) * np.exp(2 * log_std)) for t in range(H)]
    forward = -sum(gamma**t * c for t, c in enumerate(costs))
    assert lqr_exact.objective(p, theta, gamma, H) == pytest.approx(forward, rel=1e-12)


def optimal_gain(p: lqr_exact.LqrProblem, gamma: float) -> np.ndarray:
    """K* (m, n) of the discounted infinite-horizon LQR by scipy's Riccati solver: with
    P = DARE(sqrt(gamma) A, sqrt(gamma) B, Q, R), K* = -gamma (R + gamma B^T P B)^-1 B^T P A."""
    root = np.sqrt(gamma)
    P = solve_discrete_are(root * p.A, root * p.B, p.Q, p.R)
    return -gamma * np.linalg.solve(p.R + gamma * p.B.T @ P @ p.B, p.B.T @ P @ p.A)


def stable_theta(p: lqr_exact.LqrProblem, gamma: float = 0.9) -> np.ndarray:
    """0.8 K* (stabilizing for these problems), b and log sigma nonzero."""
    K = 0.8 * optimal_gain(p, gamma)
    return np.concatenate([K.ravel(), 0.1 * np.ones(p.m), -0.5 * np.ones(p.m)])


@pytest.mark.parametrize("name", ["double-integrator", "two-masses", "custom-3x2"])
def test_finite_horizon_converges_to_the_lyapunov_value(name):
    p = PROBLEM_CASES[name]
    theta, gamma = stable_theta(p), 0.9
    J_inf = lqr_exact.infinite_horizon_objective(p, theta, gamma)
    gaps = [abs(lqr_exact.objective(p, theta, gamma, H) - J_inf) for H in (10, 40, 160, 400)]
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False)) or gaps[-1] == 0.0
    assert gaps[-1] <= 1e-10 * abs(J_inf)
    g_inf = lqr_exact.infinite_horizon_gradient(p, theta, gamma)
    np.testing.assert_allclose(lqr_exact.gradient(p, theta, gamma, 400), g_inf, rtol=1e-9)
    fd = central_differences(lambda th: lqr_exact.infinite_horizon_objective(p, th, gamma), theta)
    np.testing.assert_allclose(g_inf, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())


@pytest.mark.parametrize("name", ["double-integrator", "two-masses", "custom-3x2"])
def test_gradient_vanishes_at_the_riccati_gain(name):
    """grad_K and grad_b of J_inf are 0 at K* (b = 0, zero start mean), whatever sigma
    (certainty equivalence; Fazel et al. 2018: E_K* = 0); grad log sigma is not."""
    p = PROBLEM_CASES[name]._replace(x0_mean=np.zeros(PROBLEM_CASES[name].n))
    gamma = 0.9
    theta = np.concatenate([optimal_gain(p, gamma).ravel(), np.zeros(p.m), 0.3 * np.ones(p.m)])
    g = lqr_exact.infinite_horizon_gradient(p, theta, gamma)
    scale = np.abs(lqr_exact.infinite_horizon_gradient(p, stable_theta(p), gamma)).max()
    np.testing.assert_allclose(g[: -p.m], 0.0, atol=1e-9 * scale)
    assert np.all(g[-p.m :] < 0)  # less exploration noise costs less


def test_infinite_horizon_refuses_gamma_one_and_unstable_loops():
    p = PROBLEM_CASES["double-integrator"]
    with pytest.raises(InvalidSpecError, match=r"^the infinite-horizon value needs gamma < 1"):
        lqr_exact.infinite_horizon_objective(p, stable_theta(p), 1.0)
    unstable = np.array([1.0, 1.0, 0.0, 0.0])  # K = [1, 1] pushes away from 0
    with pytest.raises(InvalidSpecError, match=r"^the infinite-horizon value diverges"):
        lqr_exact.infinite_horizon_gradient(p, unstable, 0.99)


def monte_carlo_returns(p, theta, gamma, H, episodes, seed) -> np.ndarray:
    """Discounted returns of ``episodes`` episodes, simulated here in plain numpy."""
    rng = np.random.default_rng(seed)
    K, b, log_std = lqr_exact.split_theta(theta, p.n, p.m)
    x = rng.multivariate_normal(p.x0_mean, p.Sigma0, size=episodes)
    ret = np.zeros(episodes)
    for t in range(H):
        u = x @ K.T + b + np.exp(log_std) * rng.standard_normal((episodes, p.m))
        cost = np.sum((x @ p.Q) * x, axis=1) + np.sum((u @ p.R) * u, axis=1)
        ret -= gamma**t * cost
        w = rng.multivariate_normal(np.zeros(p.n), p.W, size=episodes)
        x = x @ p.A.T + u @ p.B.T + w
    return ret


@pytest.mark.parametrize("name", PROBLEM_CASES)
def test_objective_matches_monte_carlo(name):
    p = PROBLEM_CASES[name]
    theta, gamma, H = random_theta(p, 5, scale=0.2), 0.95, 25
    ret = monte_carlo_returns(p, theta, gamma, H, 40_000, seed=11)
    se = ret.std(ddof=1) / np.sqrt(ret.size)
    assert abs(ret.mean() - lqr_exact.objective(p, theta, gamma, H)) < 4 * se


def test_split_theta_layout_and_shape_error():
    theta = np.arange(10.0)  # n = 3, m = 2: K (2, 3), b (2), log sigma (2)
    K, b, log_std = lqr_exact.split_theta(theta, 3, 2)
    np.testing.assert_array_equal(K, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b, [6, 7])
    np.testing.assert_array_equal(log_std, [8, 9])
    with pytest.raises(InvalidSpecError, match=r"length m\*n \+ 2\*m = 10 for n=3, m=2"):
        lqr_exact.split_theta(np.zeros(9), 3, 2)


# ---------------------------------------------------------------- parameters


def test_named_problems_and_overrides():
    env = pgbench.make_env("lqr")
    assert (env.obs_dim, env.action_dim, env.n_actions) == (2, 1, 0)
    assert env.continuous and not env.native and env.exact is not None
    assert env.describe() == "lqr(problem=double-integrator,n=2,m=1,gamma=0.95,horizon=50)"
    assert np.isneginf(env.action_low) and np.isposinf(env.action_high)  # never clipped
    big = pgbench.make_env("lqr", problem="two-masses", gamma=0.99, horizon=30)
    assert (big.obs_dim, big.action_dim, big.horizon) == (4, 2, 30)
    np.testing.assert_array_equal(big.exact.problem.A, PROBLEMS["two-masses"][0])
    scalar = pgbench.make_env("lqr", A=[[0.9]], B=[[1.0]], Q=[[1.0]], R=[[0.1]], noise_std=0.5)
    assert (scalar.obs_dim, scalar.action_dim) == (1, 1)
    np.testing.assert_array_equal(scalar.exact.problem.W, [[0.25]])
    np.testing.assert_array_equal(scalar.exact.problem.Sigma0, [[1.0]])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"A": [[1.0, 0.0]]}, "lqr A must be a square matrix (n, n), got shape (1, 2)"),
        ({"A": [1.0, 2.0]}, "lqr A must be a matrix (nested lists), got shape (2,)"),
        ({"A": [["a", 1.0], [0.0, 1.0]]}, "lqr A must be numeric (nested lists of numbers)"),
        ({"B": [[1.0], [0.0], [0.0]]}, "lqr B must have shape (n, m) = (2, m), m >= 1"),
        ({"Q": [[1.0]]}, "lqr Q must have shape (n, n) = (2, 2), got (1, 1)"),
        ({"Q": [[1.0, 0.5], [0.0, 1.0]]}, "lqr Q must be symmetric, max |Q - Q^T| = 0.5"),
        ({"R": [[-1.0]]}, "lqr R must be positive semi-definite, smallest eigenvalue -1"),
        ({"R": [[1.0, 0.0], [0.0, 1.0]]}, "lqr R must have shape (m, m) = (1, 1), got (2, 2)"),
        ({"W": [[1.0, 0.0], [0.0, 1.0]], "noise_std": 0.2}, "lqr: give W or noise_std, not both"),
        ({"Sigma0": [[1.0, 0.0], [0.0, 1.0]], "x0_std": 0.0}, "lqr: give Sigma0 or x0_std"),
        ({"x0_std": -1.0}, "lqr x0_std must be a finite number in [0.0, inf], got -1.0"),
        ({"x0_mean": [1.0, 2.0, 3.0]}, "lqr x0_mean must have shape (n,) = (2,), got (3,)"),
        ({"problem": "pendulum"}, "environment 'lqr': problem: Input should be"),
        ({"horizon": 0}, "horizon must be a positive integer, got 0"),
    ],
)
def test_invalid_parameters_are_one_line_errors(params, message):
    with pytest.raises(InvalidSpecError) as info:
        pgbench.make_env("lqr", **params)
    text = str(info.value)
    assert "\n" not in text and text.startswith(message), text


def test_psd_factor():
    for M in (np.diag([4.0, 0.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), np.ones((2, 2))):
        L = psd_factor(M)
        np.testing.assert_allclose(L @ L.T, M, atol=1e-14)


# ---------------------------------------------------------------- lanes


def reference_episode(p, seed, actions) -> tuple[np.ndarray, np.ndarray]:
    """States (T+1, n) and rewards (T,) of one lane, drawing per step as documented."""
    rng = np.random.default_rng(seed)
    L0, Lw = psd_factor(p.Sigma0), psd_factor(p.W)
    x = p.x0_mean + L0 @ rng.standard_normal(p.n)
    xs, rs = [x], []
    for u in actions:
        rs.append(-(x @ p.Q @ x + u @ p.R @ u))
        x = p.A @ x + p.B @ u + Lw @ rng.standard_normal(p.n)
        xs.append(x)
    return np.array(xs), np.array(rs)


def test_lanes_follow_the_documented_draws_whatever_the_lane():
    p = PROBLEM_CASES["custom-3x2"]
    T, seeds = NOISE_BLOCK + 10, [5, 17, 5]  # past a refill; lane 2 repeats lane 0's seed
    actions = np.random.default_rng(0).normal(size=(T, 3, p.m))
    lanes = LqrLanes(p, 3)
    obs = [lanes.reset(np.arange(3), np.array(seeds))]
    rewards = []
    for t in range(T):
        o, r, term, trunc = lanes.step(actions[t])
        assert not term.any() and not trunc.any()
        obs.append(o)
        rewards.append(r)
    obs, rewards = np.array(obs), np.array(rewards)  # (T+1, 3, n), (T, 3)
    for j, seed in enumerate(seeds):
        xs, rs = reference_episode(p, seed, actions[:, j])
        np.testing.assert_allclose(obs[:, j], xs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rewards[:, j], rs, rtol=1e-12)
    lanes.close()


def test_lanes_reset_one_lane_alone():
    p = PROBLEM_CASES["double-integrator"]
    lanes = LqrLanes(p, 2)
    lanes.reset(np.array([0, 1]), np.array([1, 2]))
    u = np.zeros((2, 1))
    for _ in range(3):
        lanes.step(u)
    x0 = lanes.reset(np.array([1]), np.array([9]))
    xs, _ = reference_episode(p, 9, np.zeros((2, 1)))
    np.testing.assert_allclose(x0[0], xs[0])
    lanes.step(u)
    o, *_ = lanes.step(u)
    np.testing.assert_allclose(o[1], xs[2], rtol=1e-12)


# ---------------------------------------------------------------- the exact hook


def test_api_exact_uses_the_closed_form():
    env = pgbench.make_env("lqr", gamma=0.9, horizon=20)
    policy = pgbench.make_policy("gaussian", env, log_std_init=-0.5)
    theta = policy.init(0) + np.array([-1.0, -1.5, 0.2, 0.0])
    p = env.exact.problem
    assert pgbench.exact_objective(env, policy, theta) == lqr_exact.objective(p, theta, 0.9, 20)
    np.testing.assert_array_equal(
        pgbench.exact_gradient(env, policy, theta), lqr_exact.gradient(p, theta, 0.9, 20)
    )
    ref = reference_gradient(env, policy, theta, seed=0, episodes=100, backend="cpu")
    assert ref.label == "exact" and ref.noise == 0.0


def custom_env(**params):
    """:func:`custom_problem` (n = 3, m = 2) as an env."""
    p = custom_problem()
    fields = dict(A=p.A, B=p.B, Q=p.Q, R=p.R, W=p.W, Sigma0=p.Sigma0, x0_mean=p.x0_mean)
    return pgbench.make_env("lqr", **{k: v.tolist() for k, v in fields.items()}, **params)


def test_k_dimensional_gaussian_has_the_closed_form():
    env = custom_env(gamma=0.9, horizon=15)
    policy = pgbench.make_policy("gaussian", env)  # theta = [K (2, 3), b (2), log sigma (2)]
    theta = random_theta(env.exact.problem, 4)
    np.testing.assert_array_equal(
        pgbench.exact_gradient(env, policy, theta),
        lqr_exact.gradient(env.exact.problem, theta, 0.9, 15),
    )
    # as many parameters (1 (3 + 1) + 2 (1 + 1) + 2 = 10) but a tanh layer: no closed form
    hidden = pgbench.make_policy("gaussian", env, hidden=[1])
    assert hidden.n_params == policy.n_params
    with pytest.raises(NoExactFormError, match=r"its mean is not K x \+ b"):
        pgbench.exact_objective(env, hidden, theta)
    state_std = pgbench.make_policy("gaussian", env, state_dependent_std=True)
    with pytest.raises(NoExactFormError, match=r"only 'gaussian' with hidden \[\]"):
        pgbench.exact_gradient(env, state_std, state_std.init(0))


def test_no_exact_form_for_other_policies():
    env = pgbench.make_env("lqr")
    mlp = pgbench.make_policy("gaussian", env, hidden=[4])
    with pytest.raises(NoExactFormError, match=r"only 'gaussian' with hidden \[\]"):
        pgbench.exact_gradient(env, mlp, mlp.init(0))
    # the right name and size, but a mean that is not K x + b
    fake = SimpleNamespace(
        name="gaussian", action_dim=1, obs_dim=2, n_params=4, theta_shape=(4,),
        probs_ref=lambda theta, obs: np.tanh(obs @ theta[:2] + theta[2])[:, None],
    )  # fmt: skip
    with pytest.raises(NoExactFormError, match=r"its mean is not K x \+ b"):
        pgbench.exact_objective(env, fake, np.array([1.0, 1.0, 0.5, 0.0]))
    with pytest.raises(NoExactFormError, match="not tabular"):
        pgbench.exact_natural_gradient(env, mlp, mlp.init(0))


# ---------------------------------------------------------------- estimators vs exact

UNBIASED = [
    (name, baseline)
    for name in ("reinforce", "reward-to-go")
    for baseline in ("none", "constant", "time", "optimal", "value")
]


@pytest.fixture(scope="module")
def lqr_point():
    env = pgbench.make_env("lqr", gamma=0.95, horizon=20)
    policy = pgbench.make_policy("gaussian", env, log_std_init=-0.5)
    theta = policy.init(0) + np.array([-1.0, -1.5, 0.2, 0.0])
    return env, policy, theta, pgbench.exact_gradient(env, policy, theta)


@pytest.mark.parametrize("name, baseline", UNBIASED, ids=[f"{n}-{b}" for n, b in UNBIASED])
def test_unbiased_estimators_match_the_exact_gradient(lqr_point, name, baseline):
    """The mean of 50 independent estimates (64 episodes each) is within 4 standard errors
    of the exact gradient in every component."""
    env, policy, theta, exact = lqr_point
    assert pgbench.api.ESTIMATORS.get(name).is_unbiased(
        pgbench.estimator_params(name, baseline=baseline)
    )
    estimates = np.array(
        [
            pgbench.estimate(name, env, policy, theta, 64, seed, baseline=baseline)
            for seed in range(50)
        ]
    )
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    z = (estimates.mean(axis=0) - exact) / se
    assert np.all(np.abs(z) < 4), z


def test_rollouts_are_the_lanes_episodes(lqr_point):
    """A stored episode is the lanes' episode of its reset seed (the documented draws,
    rewards -(x Q x + u R u)), whatever lane ran it."""
    env, policy, theta, _ = lqr_point
    p = env.exact.problem
    E, T = 40, env.horizon
    batch = pgbench.rollout(env, policy, theta, E, seed=3)
    assert batch.rewards.shape == (E, T) and np.all(batch.mask == 1.0)
    actions = batch.actions.reshape(E, T, p.m)
    seeds = reset_seeds(episode_keys(3, np.arange(E, dtype=np.int64)))
    for e in (0, 17, 39):
        xs, rs = reference_episode(p, int(seeds[e]), actions[e])
        np.testing.assert_allclose(batch.obs[e], xs[:T], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.rewards[e], rs, rtol=1e-12)
    again = pgbench.rollout(env, policy, theta, 5, seed=3)  # fewer lanes, same episodes
    np.testing.assert_array_equal(again.obs, batch.obs[:5])


@pytest.mark.parametrize("name, baseline", [("reinforce", "none"), ("reward-to-go", "time")])
def test_unbiased_estimators_with_a_two_component_action(name, baseline):
    env = pgbench.make_env("lqr", problem="two-masses", gamma=0.95, horizon=15)
    policy = pgbench.make_policy("gaussian", env, log_std_init=-1.0)
    theta = policy.init(1) + 0.1 * np.random.default_rng(2).normal(size=policy.n_params)
    exact = pgbench.exact_gradient(env, policy, theta)
    estimates = np.array(
        [
            pgbench.estimate(name, env, policy, theta, 64, seed, baseline=baseline)
            for seed in range(50)
        ]
    )
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    z = (estimates.mean(axis=0) - exact) / se
    assert np.all(np.abs(z) < 4), z
