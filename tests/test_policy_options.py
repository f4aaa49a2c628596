"""Network options of mlp-softmax, gaussian and the MLP critics: any depth, tanh or ReLU,
orthogonal or normal init; lane cores and batched passes against numpy references and
finite differences; Categorical.sample and scores on every softmax policy."""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

import pgbench
from pgbench.algorithms.segments import CriticParams
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import target_lib
from pgbench.policies import mlp
from pgbench.seeding import POLICY_INIT, keyed_rng
from pgbench.values import make_value

N = 30
DEEP = (4, 3, 5)


@numba.njit
def _lane_eval(sample, log_prob, score, theta, obs, u, W, P, actions):
    """Lane cores on each column of obs: actions into ``actions``, scratch (W, n), log-probs,
    scores (P, n)."""
    n = obs.shape[1]
    scratch = np.zeros((W, n))
    g = np.zeros((P, n))
    logp = np.zeros(n)
    for j in range(n):
        actions[j] = sample(theta, obs, j, u[j], scratch)
        score(theta, obs, j, actions[j], scratch, g)
        logp[j] = log_prob(theta, obs, j, actions[j], scratch)
    return scratch, logp, g


def lane_eval(pol, theta, obs, u):
    """Lane cores of ``pol`` (serial CPU) on obs (N, d): (actions, scratch (W, N),
    log-probs (N,), scores (N, P))."""
    lib = target_lib("serial")
    cores = tuple(lib.jit(f) for f in pol.make_cores(lib))
    W = max(pol.n_actions, pol.scratch_rows, 1)
    actions = np.zeros(len(obs), np.float64 if pol.continuous else np.int64)
    s, logp, g = _lane_eval(*cores, theta, np.ascontiguousarray(obs.T), u, W, pol.n_params, actions)
    return actions, s, logp, g.T


def fd_gradient(f, theta, h=1e-6):
    """Central differences of the scalar f at theta."""
    out = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        out[k] = (f(theta + e) - f(theta - e)) / (2 * h)
    return out


@pytest.fixture(scope="module")
def cart3():
    return dataclasses.replace(pgbench.make_env("cartpole-v1"), n_actions=3)


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", ["mlp-softmax", "gaussian", "value"])
def test_more_than_eight_layers_is_a_one_line_error(name):
    env = pgbench.make_env("pendulum-v1" if name == "gaussian" else "cartpole-v1")
    make = (
        (lambda **p: make_value("mlp", env, **p))
        if name == "value"
        else (lambda **p: pgbench.make_policy(name, env, **p))
    )
    assert make(hidden=[2] * 8) is not None
    for bad in ({"hidden": [2] * 9}, {"activation": "sigmoid"}, {"init": "xavier"}):
        with pytest.raises(InvalidSpecError) as info:
            make(**bad)
        message = str(info.value)
        assert "\n" not in message and next(iter(bad)) in message


def test_critic_params_take_an_activation():
    assert CriticParams().activation == "tanh"
    assert CriticParams(activation="relu").activation == "relu"
    with pytest.raises(ValueError):
        CriticParams(activation="sigmoid")


def test_init_options(cart3):
    ortho = pgbench.make_policy("mlp-softmax", cart3, hidden=[8])
    normal = pgbench.make_policy("mlp-softmax", cart3, hidden=[8], init="normal", init_scale=0.3)
    np.testing.assert_array_equal(
        normal.init(5), 0.3 * keyed_rng(5, POLICY_INIT).standard_normal(normal.n_params)
    )
    (W1, b1), _ = mlp.unpack(ortho.init(5), 4, (8,), 3)
    np.testing.assert_allclose(W1.T @ W1, 2.0 * np.eye(4), atol=1e-12)  # default unchanged
    assert not b1.any()
    g = pgbench.make_policy(
        "gaussian", pgbench.make_env("pendulum-v1"), hidden=[6], init="normal", log_std_init=-1.0
    )
    theta = g.init(2)
    assert theta[-1] == -1.0 and np.std(theta[:-1]) == pytest.approx(0.1, rel=0.3)
    value = make_value("mlp", cart3, hidden=(6,), init="normal", init_scale=0.2)
    np.testing.assert_array_equal(
        value.init(1), 0.2 * np.random.default_rng(1).standard_normal(value.n_params)
    )


# --------------------------------------------------------------------------- mlp-softmax

SOFTMAX = [((5,), "relu"), (DEEP, "tanh"), (DEEP, "relu")]


def _softmax_case(env, hidden, activation):
    pol = pgbench.make_policy("mlp-softmax", env, hidden=list(hidden), activation=activation)
    rng = np.random.default_rng(len(hidden))
    theta = pol.init(0) + 0.8 * rng.normal(size=pol.n_params)
    obs = rng.normal(size=(N, 4))
    return pol, theta, theta + 0.3 * rng.normal(size=pol.n_params), obs, rng.random(N)


@pytest.fixture(scope="module", params=SOFTMAX, ids=lambda c: f"{len(c[0])}-{c[1]}")
def softmax_case(request, cart3):
    return _softmax_case(cart3, *request.param)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_softmax_lane_cores_match_numpy(cart3, activation):
    """Three hidden layers (the lane cores compile anew in every process: few cases)."""
    pol, theta, _, obs, u = _softmax_case(cart3, DEEP, activation)
    actions, s, logp, g = lane_eval(pol, theta, obs, u)
    ref = pol.probs_ref(theta, obs)
    np.testing.assert_allclose(s[:3].T, ref, rtol=1e-12)
    np.testing.assert_allclose(logp, np.log(ref[np.arange(N), actions]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, pol.score_ref(theta, obs, actions), rtol=1e-10, atol=1e-13)

    def logp_of(th):
        return np.log(pol.probs_ref(th, obs[:1])[0, actions[0]])

    np.testing.assert_allclose(g[0], fd_gradient(logp_of, theta), rtol=1e-6, atol=1e-8)


def test_softmax_batched_passes(softmax_case):
    pol, theta, theta_old, obs, _ = softmax_case
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 3, size=N)
    w = rng.normal(size=N)
    dist = pol.distributions(theta, obs)
    old = pol.distributions(theta_old, obs)
    np.testing.assert_allclose(dist.probs, pol.probs_ref(theta, obs), rtol=1e-12)
    np.testing.assert_allclose(dist.scores(actions), pol.score_ref(theta, obs, actions), atol=1e-12)

    def objective(th):
        d = pol.distributions(th, obs)
        return w @ d.log_prob(actions) + 0.3 * d.entropy().sum() - 0.7 * old.kl(d).sum()

    g = dist.grad(actions, w, w_ent=0.3, old=old, w_kl=-0.7)
    np.testing.assert_allclose(g, fd_gradient(objective, theta), rtol=1e-6, atol=1e-6)

    def kl_grad(th):
        return pol.distributions(th, obs).grad(actions, np.zeros(N), old=dist, w_kl=1.0 / N)

    v = rng.normal(size=pol.n_params)
    fd = (kl_grad(theta + 1e-5 * v) - kl_grad(theta - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(dist.fvp(v), fd, rtol=1e-6, atol=1e-8)


def test_categorical_sample_is_the_lane_draw(softmax_case):
    """Categorical.sample applies lib.categorical to the batched probabilities, bit for bit."""
    pol, theta, _, obs, _ = softmax_case
    dist = pol.distributions(theta, obs)
    categorical = target_lib("serial").categorical

    @numba.njit
    def draws(probs_t, u):
        out = np.empty(u.shape[0], np.int64)
        for j in range(u.shape[0]):
            out[j] = categorical(probs_t, j, probs_t.shape[0], u[j])
        return out

    grid = np.concatenate([[0.0, 1.0 - 2.0**-53], (np.arange(N - 2) + 0.5) / (N - 2)])
    for u in (grid, np.random.default_rng(3).random(N)):
        a = dist.sample(u)
        assert a.dtype == np.int64
        np.testing.assert_array_equal(a, draws(np.ascontiguousarray(dist.probs.T), u))
    np.testing.assert_array_equal(dist.sample(np.zeros(N)), 0)


@pytest.mark.parametrize("name", ["tabular-softmax", "linear-softmax"])
def test_scores_and_sample_of_the_other_softmax_policies(name, cart3):
    env = pgbench.make_env("garnet", n_states=5, n_actions=3, seed=1) if name[0] == "t" else cart3
    pol = pgbench.make_policy(name, env, init_scale=1.0)
    rng = np.random.default_rng(4)
    theta = pol.init(0)
    obs = (
        rng.integers(0, 5, size=(N, 1)).astype(float) if name[0] == "t" else rng.normal(size=(N, 4))
    )
    actions = rng.integers(0, 3, size=N)
    dist = pol.distributions(theta, obs)
    np.testing.assert_allclose(dist.scores(actions), pol.score_ref(theta, obs, actions), atol=1e-12)
    u = rng.random(N)
    cdf = np.cumsum(dist.probs, axis=1)
    np.testing.assert_array_equal(dist.sample(u), np.minimum((u[:, None] >= cdf).sum(axis=1), 2))


def test_deep_relu_rollouts_identical_serial_and_parallel():
    env = pgbench.make_env("cartpole-v1")
    pol = pgbench.make_policy("mlp-softmax", env, hidden=[8, 6, 4], activation="relu")
    theta = pol.init(0) + 0.3 * np.random.default_rng(5).normal(size=pol.n_params)
    a = pgbench.rollout(env, pol, theta, 12, seed=3, backend="serial")
    b = pgbench.rollout(env, pol, theta, 12, seed=3, backend="parallel")
    for field in ("obs", "actions", "rewards", "mask", "score", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    e = int(np.argmax(a.lengths))
    n = a.lengths[e]
    np.testing.assert_allclose(
        a.score[e, :n], pol.score_ref(theta, a.obs[e, :n], a.actions[e, :n]), atol=1e-12
    )


@pytest.mark.cudasim
def test_cuda_simulator_deep_relu_rollout_equals_cpu():
    env = pgbench.make_env("cartpole-v1")
    pol = pgbench.make_policy("mlp-softmax", env, hidden=[6, 5, 4], activation="relu")
    theta = pol.init(0) + 0.3 * np.random.default_rng(5).normal(size=pol.n_params)
    a = pgbench.rollout(env, pol, theta, 4, seed=2, backend="cuda")
    b = pgbench.rollout(env, pol, theta, 4, seed=2, backend="serial")
    for field in ("obs", "actions", "rewards", "mask", "score", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# --------------------------------------------------------------------------- critics


@pytest.mark.parametrize("action_value", [False, True])
def test_deep_relu_critic_against_numpy(cart3, action_value):
    model = make_value("mlp", cart3, action_value=action_value, hidden=DEEP, activation="relu")
    assert model.activation == "relu"
    rng = np.random.default_rng(6)
    phi = model.init(0) + 0.5 * rng.normal(size=model.n_params)
    obs = rng.normal(size=(N, 4))
    out = model.forward(phi, obs)
    K = 3 if action_value else 1
    ref = mlp.forward_ref(phi, obs, 4, DEEP, K, "relu")
    np.testing.assert_allclose(out.values, ref if action_value else ref[:, 0], rtol=1e-12)
    d = rng.normal(size=out.values.shape)
    rows = mlp.vjp_rows_ref(phi, obs, d.reshape(N, K), 4, DEEP, K, "relu")
    np.testing.assert_allclose(out.grad(d), rows.sum(axis=0), rtol=1e-10, atol=1e-12)
    f = lambda p: float(np.sum(d * model.forward(p, obs).values))  # noqa: E731
    np.testing.assert_allclose(out.grad(d), fd_gradient(f, phi), rtol=1e-6, atol=1e-7)
