"""Value models: shapes, initialization, values against numpy references, grad against
finite differences, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError
from pgbench.policies import mlp
from pgbench.values import make_value
from tests.test_gaussian_policy import point_mass_env


@pytest.fixture(scope="module")
def cartpole():
    return pgbench.make_env("cartpole-v1")


@pytest.fixture(scope="module")
def garnet():
    return pgbench.make_env("garnet", n_states=5, n_actions=3, seed=2)


def _obs(env, n, rng):
    if env.discrete_obs:
        return rng.integers(0, env.n_states, size=(n, 1)).astype(float)
    return rng.normal(size=(n, env.obs_dim))


def _reference(kind, env, phi, obs, action_value, hidden):
    """numpy values (N,) or (N, A)."""
    K = env.n_actions if action_value else 1
    if env.discrete_obs:
        s = obs[:, 0].astype(int)
        x = np.eye(env.n_states)[s]
    else:
        x = obs
    if kind == "tabular":
        out = phi.reshape(env.n_states, K)[s]
    elif kind == "linear":
        out = np.concatenate([x, np.ones((len(x), 1))], axis=1) @ phi.reshape(K, -1).T
    else:
        out = mlp.forward_ref(phi, x, x.shape[1], hidden, K)
    return out if action_value else out[:, 0]


SPECS = [
    ("tabular", "garnet", False, None),
    ("tabular", "garnet", True, None),
    ("linear", "cartpole", False, None),
    ("linear", "cartpole", True, None),
    ("linear", "garnet", False, None),
    ("mlp", "cartpole", False, (5, 3)),
    ("mlp", "cartpole", True, (4,)),
    ("mlp", "garnet", False, (6,)),
]


@pytest.mark.parametrize(("kind", "env_name", "action_value", "hidden"), SPECS, ids=str)
def test_values_and_grad(kind, env_name, action_value, hidden, request):
    env = request.getfixturevalue(env_name)
    kwargs = {"hidden": hidden} if hidden else {}
    model = make_value(kind, env, action_value=action_value, **kwargs)
    rng = np.random.default_rng(0)
    phi = model.init(1) + 0.5 * rng.normal(size=model.n_params)
    obs = _obs(env, 30, rng)
    out = model.forward(phi, obs)
    shape = (30, env.n_actions) if action_value else (30,)
    assert out.values.shape == shape and model.n_outputs == (env.n_actions if action_value else 1)
    ref = _reference(kind, env, phi, obs, action_value, model.hidden)
    np.testing.assert_allclose(out.values, ref, rtol=1e-12, atol=1e-13)
    d = rng.normal(size=shape)
    g = out.grad(d)
    assert g.shape == (model.n_params,)
    h = 1e-6
    fd = np.empty_like(g)
    for k in range(model.n_params):
        e = np.zeros_like(g)
        e[k] = h
        up = np.sum(d * model.forward(phi + e, obs).values)
        down = np.sum(d * model.forward(phi - e, obs).values)
        fd[k] = (up - down) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_initialization(cartpole, garnet):
    assert not make_value("tabular", garnet).init(0).any()
    assert make_value("tabular", garnet, action_value=True).n_params == 15
    assert not make_value("linear", cartpole, action_value=True).init(0).any()
    model = make_value("mlp", cartpole)
    assert model.n_params == (64 * 4 + 64) + (64 * 64 + 64) + (64 + 1)
    phi = model.init(3)
    np.testing.assert_array_equal(phi, model.init(3))
    (W1, b1), (W2, _), (W3, b3) = mlp.unpack(phi, 4, (64, 64), 1)
    np.testing.assert_allclose(W2 @ W2.T, 2.0 * np.eye(64), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(W3), 1.0)  # output gain 1
    assert not b1.any() and not b3.any()


def test_default_mlp_matches_reference_on_a_batch(cartpole):
    model = make_value("mlp", cartpole)
    rng = np.random.default_rng(1)
    phi = model.init(0)
    obs = rng.normal(size=(256, 4))
    out = model.forward(phi, obs)
    np.testing.assert_allclose(
        out.values, mlp.forward_ref(phi, obs, 4, (64, 64), 1)[:, 0], rtol=1e-12, atol=1e-14
    )
    d = rng.normal(size=256)
    rows = mlp.vjp_rows_ref(phi, obs, d[:, None], 4, (64, 64), 1)
    np.testing.assert_allclose(out.grad(d), rows.sum(axis=0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("kind", "env_name", "params", "match"),
    [
        ("quadratic", "cartpole", {}, "unknown value model"),
        ("tabular", "cartpole", {}, "discrete states"),
        ("linear", "point-mass", {"action_value": True}, "discrete actions"),
        ("mlp", "cartpole", {"hidden": (64,) * 9}, "hidden"),
        ("mlp", "cartpole", {"hidden": (0,)}, "hidden"),
    ],
)
def test_bad_specs_are_one_line_errors(kind, env_name, params, match, cartpole):
    env = point_mass_env() if env_name == "point-mass" else cartpole
    with pytest.raises(InvalidSpecError, match=match) as info:
        make_value(kind, env, **params)
    assert "\n" not in str(info.value)


def test_grad_checks_the_shape_of_d(cartpole):
    model = make_value("linear", cartpole)
    out = model.forward(model.init(0), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        out.grad(np.zeros((4, 1)))
