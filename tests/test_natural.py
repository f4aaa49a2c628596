"""Natural gradient: the exact one against an independent Fisher, the sampled one against it."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.estimators.natural import conjugate_gradient, fisher_estimate
from pgbench.exact import exact_fisher, exact_q_values, state_visitation
from pgbench.policies.tabular_softmax import probs_table
from pgbench.registry import ESTIMATORS
from tests.conftest import estimate_error


def kl_hessian(env, pol, theta, h=1e-3):
    """Hessian at theta' = theta of sum_t gamma^t sum_s d_t(s) KL(pi_theta(.|s) || pi_theta'(.|s))
    by central finite differences; d_t is the visitation of pi_theta (held fixed)."""
    S, A = env.n_states, env.n_actions
    rho = (env.gamma ** np.arange(env.horizon)) @ state_visitation(env, pol, theta)
    p = probs_table(theta, S, A)

    def kl(theta2):
        q = probs_table(theta2, S, A)
        return float(rho @ np.sum(p * (np.log(p) - np.log(q)), axis=1))

    P = theta.size
    H = np.empty((P, P))
    eye = np.eye(P) * h
    for i in range(P):
        for j in range(P):
            H[i, j] = (
                kl(theta + eye[i] + eye[j])
                - kl(theta + eye[i] - eye[j])
                - kl(theta - eye[i] + eye[j])
                + kl(theta - eye[i] - eye[j])
            ) / (4 * h * h)
    return (H + H.T) / 2


@pytest.mark.parametrize("env_name", ["chain", "garnet"])
def test_exact_natural_gradient_against_kl_hessian(env_name, request):
    env, pol = request.getfixturevalue(env_name)
    theta = pol.init(7)
    S, A = env.n_states, env.n_actions
    g = pgbench.exact_gradient(env, pol, theta)
    nat = pgbench.exact_natural_gradient(env, pol, theta)
    H = kl_hessian(env, pol, theta)
    scale = np.abs(nat).max()
    # the defining equation, F w = grad J, with F the independent finite-difference Hessian
    np.testing.assert_allclose(H @ nat, g, atol=1e-6 * np.abs(g).max())
    # minimum norm: orthogonal to the null directions (a constant added to a state's logits)
    np.testing.assert_allclose(nat.reshape(S, A).sum(axis=1), 0.0, atol=1e-12 * scale)
    # so it is the pseudo-inverse solution of the independent Fisher
    np.testing.assert_allclose(np.linalg.pinv(H, rcond=1e-6) @ g, nat, atol=1e-5 * scale)
    # and the Hessian of the KL is the Fisher of pgbench.exact
    np.testing.assert_allclose(H, exact_fisher(env, pol, theta), atol=1e-6)


def test_exact_natural_gradient_is_the_centered_average_advantage(garnet):
    """Kakade (2001), Thm. 1: w[s, :] = Abar[s, :] - mean_a Abar[s, a]."""
    env, pol = garnet
    theta = pol.init(3)
    H = env.horizon
    Q, V = exact_q_values(env, pol, theta)
    weight = (env.gamma ** np.arange(H))[:, None] * state_visitation(env, pol, theta)
    abar = np.einsum("ts,tsa->sa", weight, Q - V[:H, :, None]) / weight.sum(axis=0)[:, None]
    expected = abar - abar.mean(axis=1, keepdims=True)
    nat = pgbench.exact_natural_gradient(env, pol, theta)
    np.testing.assert_allclose(nat, expected.ravel(), atol=1e-12)


def test_unreachable_states_get_zero():
    """State 2 cannot be reached from state 0: its rows are 0 (F's block is 0 there)."""
    P = np.zeros((3, 2, 3))
    P[:2, :, :2] = 0.5
    P[2, :, 2] = 1.0
    R = np.array([[1.0, 0.0], [0.0, 2.0], [5.0, 0.0]])
    env = pgbench.make_env("tabular", P=P, R=R, mu0=[1.0, 0.0, 0.0], gamma=0.9, horizon=5)
    pol = pgbench.make_policy("tabular-softmax", env)
    theta = np.array([0.3, -0.2, 0.1, 0.4, 1.0, -1.0])
    nat = pgbench.exact_natural_gradient(env, pol, theta).reshape(3, 2)
    np.testing.assert_array_equal(nat[2], 0.0)
    F = exact_fisher(env, pol, theta)
    np.testing.assert_allclose(
        nat.ravel(), np.linalg.pinv(F) @ pgbench.exact_gradient(env, pol, theta)
    )


def test_nearly_deterministic_policy_stays_finite_and_centred():
    env = pgbench.make_env("chain", n=4, slip=0.0, horizon=6, gamma=0.9)
    pol = pgbench.make_policy("tabular-softmax", env)
    nat = pgbench.exact_natural_gradient(env, pol, np.tile([30.0, -30.0], 4)).reshape(4, 2)
    assert np.all(np.isfinite(nat))
    np.testing.assert_allclose(nat.sum(axis=1), 0.0, atol=1e-12)


def test_fisher_estimate_matches_exact_fisher(garnet):
    env, pol = garnet
    theta = pol.init(7)
    batch = pgbench.rollout(env, pol, theta, 20_000, seed=4, backend="serial")
    F_hat = fisher_estimate(batch, env.gamma)
    F = exact_fisher(env, pol, theta)
    np.testing.assert_allclose(F_hat, F, atol=0.03 * np.abs(F).max())


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("env_name, min_cosine", [("chain", 0.999), ("garnet", 0.99)])
def test_sampled_natural_gradient_approaches_the_exact_one(env_name, min_cosine, request):
    """Cosine to the exact natural gradient at 200k episodes (the relative error falls
    from ~0.5-2 at 1k episodes to ~0.01-0.1; garnet's rarely visited states are noisy)."""
    env, pol = request.getfixturevalue(env_name)
    theta = pol.init(7)
    exact = pgbench.exact_natural_gradient(env, pol, theta)
    errors = []
    for n in (1_000, 200_000):
        est = pgbench.estimate("natural", env, pol, theta, n, seed=11, backend="serial")
        errors.append(np.linalg.norm(est - exact) / np.linalg.norm(exact))
    assert cosine(est, exact) > min_cosine
    assert errors[1] < 0.3 * errors[0], errors


@pytest.mark.parametrize("damping", [1e-3, 0.0])
@pytest.mark.parametrize("base", ["reward-to-go", "reinforce"])
def test_cg_agrees_with_direct(base, damping, garnet):
    env, pol = garnet
    theta = pol.init(7)
    common = dict(base=base, damping=damping, backend="serial")
    direct = pgbench.estimate("natural", env, pol, theta, 2_000, 5, **common)
    cg = pgbench.estimate("natural", env, pol, theta, 2_000, 5, solver="cg", cg_iters=200, **common)
    np.testing.assert_allclose(cg, direct, rtol=1e-6, atol=1e-8 * np.abs(direct).max())
    short = pgbench.estimate(
        "natural", env, pol, theta, 2_000, 5, solver="cg", cg_iters=2, **common
    )
    assert not np.allclose(short, direct, rtol=1e-3)


def test_conjugate_gradient_solves_a_small_system():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 5))
    M = X.T @ X + 0.1 * np.eye(5)
    b = rng.normal(size=5)
    np.testing.assert_allclose(conjugate_gradient(lambda v: M @ v, b, 50), np.linalg.solve(M, b))


def test_damping_shrinks_the_step(chain):
    env, pol = chain
    theta = pol.init(7)
    small = pgbench.estimate("natural", env, pol, theta, 500, 3, damping=1e-3)
    large = pgbench.estimate("natural", env, pol, theta, 500, 3, damping=10.0)
    assert np.linalg.norm(large) < 0.5 * np.linalg.norm(small)


def test_shared_episodes_are_counted_once(chain):
    env, pol = chain
    theta = pol.init(7)
    _, info = pgbench.estimate("natural", env, pol, theta, 50, 3, info=True)
    assert info["episodes"] == 50 and info["env_steps"] == 50 * env.horizon
    assert info["unbiased"] is False
    _, info = pgbench.estimate(
        "natural", env, pol, theta, 50, 3, base="q-critic", base_params={"critic": "mc"}, info=True
    )
    assert info["episodes"] == 100  # the Fisher batch, then the critic's own 25 + 25
    assert ESTIMATORS.get("natural").bias_note


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "cg"},
        {"damping": 0.0},
        {"base": "reinforce", "solver": "cg", "cg_iters": 3},
        {"base": "advantage-critic", "base_params": {"critic": "lstd"}},
        {"base": "td-critic", "base_params": {"critic": "td0", "fit_fraction": 0.25}},
    ],
)
def test_cartpole_smoke(params, cartpole):
    from tests.conftest import WOBBLY_THETA

    env, pol = cartpole
    g = pgbench.estimate("natural", env, pol, WOBBLY_THETA, 16, 2, **params)
    assert g.shape == (pol.n_params,) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(
        g, pgbench.estimate("natural", env, pol, WOBBLY_THETA, 16, 2, **params)
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"base": "reward-to-g"}, "did you mean 'reward-to-go'"),
        ({"base": "natural"}, "cannot be the wrapper 'natural'"),
        ({"base_params": {"critic": "bogus"}, "base": "q-critic"}, "base_params"),
        ({"base_params": {"anything": 1}}, "base_params"),
        ({"solver": "qr"}, "solver"),
        ({"damping": -1.0}, "damping"),
        ({"cg_iters": 0}, "cg_iters"),
    ],
)
def test_bad_params_are_one_line_errors(params, match, chain):
    env, pol = chain
    msg = estimate_error(InvalidSpecError, "natural", env, pol, pol.init(0), 8, 1, **params)
    assert match in msg


def test_exact_critic_base_on_cartpole_is_aestimate_error(cartpole):
    env, pol = cartpole
    params = {"base": "q-critic", "base_params": {"critic": "exact"}}
    msg = estimate_error(NoExactFormError, "natural", env, pol, pol.init(0), 8, 1, **params)
    assert "critic='exact'" in msg


def test_exact_natural_gradient_has_no_form_on_cartpole(cartpole):
    env, pol = cartpole
    with pytest.raises(NoExactFormError, match="cartpole-v1"):
        pgbench.exact_natural_gradient(env, pol, pol.init(0))


def test_restricted_step_has_the_base_direction_and_the_trust_region_length(garnet):
    env, pol = garnet
    theta = pol.init(7)
    g = pgbench.estimate("reward-to-go", env, pol, theta, 500, seed=3, backend="serial")
    step = pgbench.estimate(
        "restricted", env, pol, theta, 500, seed=3, backend="serial", epsilon=0.02
    )
    np.testing.assert_allclose(0.5 * step @ step, 0.02, rtol=1e-12)
    np.testing.assert_allclose(step / np.linalg.norm(step), g / np.linalg.norm(g), rtol=1e-12)
    with pytest.raises(InvalidSpecError, match="cannot be the wrapper 'restricted'"):
        pgbench.estimate("natural", env, pol, theta, 10, seed=0, base="restricted")
