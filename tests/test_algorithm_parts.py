"""Pieces of the algorithms against hand-worked cases: PPO's clipped objective,
optimizers, conjugate gradient, the KL-adaptive penalty rule, TRPO's KL bound."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.algorithms.api import train_run
from pgbench.algorithms.optim import Optimizer, OptimizerParams, clip_by_norm
from pgbench.algorithms.ppo import adapt_beta, clipped_surrogate, clipped_surrogate_weights
from pgbench.algorithms.trust_region import conjugate_gradient


def test_clipped_surrogate_hand_computed():
    """eps = 0.2; four transitions covering the four cases of min(rA, clip(r)A)."""
    ratio = np.array([1.1, 1.5, 0.5, 0.7])
    adv = np.array([2.0, 1.0, -1.0, 3.0])
    # 1.1*2=2.2 vs 1.1*2 -> 2.2 (inside the range)
    # 1.5*1=1.5 vs 1.2*1=1.2 -> 1.2 (clipped, constant)
    # 0.5*-1=-0.5 vs 0.8*-1=-0.8 -> -0.8 (clipped, constant)
    # 0.7*3=2.1 vs 0.8*3=2.4 -> 2.1 (unclipped is smaller: keeps the gradient)
    assert clipped_surrogate(ratio, adv, 0.2) == pytest.approx((2.2 + 1.2 - 0.8 + 2.1) / 4)
    w = clipped_surrogate_weights(ratio, adv, 0.2)
    np.testing.assert_allclose(w, [2.2 / 4, 0.0, 0.0, 2.1 / 4])


def test_clipped_surrogate_weights_are_its_derivative_in_log_pi():
    """d/d log pi_n of the surrogate, by central differences in log-ratio space."""
    rng = np.random.default_rng(0)
    logr = rng.normal(scale=0.3, size=50)
    adv = rng.normal(size=50)
    w = clipped_surrogate_weights(np.exp(logr), adv, 0.2)
    h = 1e-6
    for n in range(50):
        up, dn = logr.copy(), logr.copy()
        up[n] += h
        dn[n] -= h
        fd = clipped_surrogate(np.exp(up), adv, 0.2) - clipped_surrogate(np.exp(dn), adv, 0.2)
        assert w[n] == pytest.approx(fd / (2 * h), abs=1e-6)


def test_adam_first_steps_match_the_paper():
    """Adam's bias-corrected first step is lr * sign(g) (Kingma & Ba 2015, sec. 2.1)."""
    opt = Optimizer(OptimizerParams(kind="adam", lr=0.1, eps=1e-12), 3)
    x = opt.step(np.zeros(3), np.array([2.0, -0.5, 1e-3]))
    np.testing.assert_allclose(x, [0.1, -0.1, 0.1], rtol=1e-6)
    g2 = np.array([1.0, 1.0, 1.0])
    m = 0.9 * 0.1 * np.array([2.0, -0.5, 1e-3]) + 0.1 * g2
    v = 0.999 * 0.001 * np.array([4.0, 0.25, 1e-6]) + 0.001 * g2**2
    expected = x + 0.1 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-12)
    np.testing.assert_allclose(opt.step(x, g2), expected, rtol=1e-12)


def test_rmsprop_and_sgd_and_linear_schedule():
    rms = Optimizer(OptimizerParams(kind="rmsprop", lr=0.01, alpha=0.9, eps=1e-5), 2)
    g = np.array([3.0, -4.0])
    step = rms.step(np.zeros(2), g)
    np.testing.assert_allclose(step, 0.01 * g / (np.sqrt(0.1 * g * g) + 1e-5))
    sgd = Optimizer(OptimizerParams(kind="sgd", lr=0.5, schedule="linear"), 2)
    np.testing.assert_allclose(sgd.step(np.ones(2), g, progress=0.75), 1 + 0.125 * g)
    assert sgd.lr(1.0) == 0.0


def test_gradient_clipping_by_global_norm():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(clip_by_norm(g, 1.0), g / 5.0, rtol=1e-6)
    np.testing.assert_array_equal(clip_by_norm(g, 10.0), g)
    np.testing.assert_array_equal(clip_by_norm(g, None), g)


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.default_rng(1)
    M = rng.normal(size=(6, 6))
    F = M @ M.T + 0.1 * np.eye(6)
    b = rng.normal(size=6)
    x = conjugate_gradient(lambda v: F @ v, b, iters=6)
    np.testing.assert_allclose(F @ x, b, atol=1e-8)


def test_adaptive_kl_penalty_rule():
    assert adapt_beta(1.0, 0.016, 0.01) == 2.0  # above 1.5 target
    assert adapt_beta(1.0, 0.015, 0.01) == 1.0  # at the band's edge: unchanged
    assert adapt_beta(1.0, 0.006, 0.01) == 0.5  # below target / 1.5
    assert adapt_beta(1.0, 0.0067, 0.01) == 1.0


@pytest.fixture(scope="module")
def cartpole_linear():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("linear-softmax", env)


def _logged_kl(name, env, pol, **params):
    run = train_run(
        name,
        env,
        pol,
        6000,
        seed=3,
        log_every=1,
        eval_episodes=0,
        critic={"kind": "linear"},
        n_envs=4,
        n_steps=100,
        **params,
    )
    return np.array([v for _, m, v in run.rows if m == "kl"])


def test_trpo_accepted_steps_respect_the_kl_bound(cartpole_linear):
    """Every TRPO update (logged after each one) stays within max_kl; NPG's full natural
    step with the same settings does not, so the line search is what keeps it there."""
    env, pol = cartpole_linear
    settings = dict(max_kl=0.02, damping=1e-3)
    trpo = _logged_kl("trpo", env, pol, **settings)
    npg = _logged_kl("npg", env, pol, **settings)
    assert trpo.size >= 10
    assert np.all(trpo <= 0.02 * (1 + 1e-12)), trpo.max()
    assert np.any(npg > 0.02), npg.max()
