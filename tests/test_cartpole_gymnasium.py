"""CartPole-v1 against Gymnasium's implementation, step for step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import pgbench
from pgbench.envs import cartpole as cp
from tests.conftest import BALANCING_THETA, WOBBLY_THETA


def gym_cartpole():
    return gym.make("CartPole-v1").unwrapped


def test_constants_match_gymnasium():
    g = gym_cartpole()
    assert (g.gravity, g.masscart, g.masspole, g.length) == (
        cp.GRAVITY,
        cp.MASSCART,
        cp.MASSPOLE,
        cp.LENGTH,
    )
    assert (g.force_mag, g.tau, g.x_threshold) == (cp.FORCE_MAG, cp.TAU, cp.X_THRESHOLD)
    assert g.theta_threshold_radians == cp.THETA_THRESHOLD
    assert g.kinematics_integrator == "euler"
    assert (
        gym.spec("CartPole-v1").max_episode_steps
        == cp.MAX_STEPS
        == pgbench.make_env("cartpole-v1").horizon
    )


@pytest.mark.parametrize("theta", [WOBBLY_THETA, BALANCING_THETA], ids=["wobbly", "balancing"])
def test_every_transition_matches_gymnasium(cartpole, theta):
    """From each of our states, Gymnasium's step with our action gives our next state,
    reward and termination (1-step comparison, so rounding cannot accumulate)."""
    env, pol = cartpole
    batch = pgbench.rollout(env, pol, theta, 24, seed=11, backend="serial")
    g = gym_cartpole()
    g.reset(seed=0)
    transitions = 0
    for e in range(batch.episodes):
        n = batch.lengths[e]
        states = np.vstack([batch.obs[e, :n], np.full((1, 4), np.nan)])
        assert np.array_equal(states[0], batch.init_states[e])
        for t in range(n):
            g.state = states[t].copy()
            g.steps_beyond_terminated = None
            obs, reward, terminated, truncated, _ = g.step(int(batch.actions[e, t]))
            assert reward == batch.rewards[e, t] == 1.0
            ours_ended_here = t == n - 1 and n < cp.MAX_STEPS
            assert terminated == ours_ended_here, (e, t)
            if t + 1 < n:
                np.testing.assert_allclose(g.state, states[t + 1], rtol=1e-14, atol=1e-15)
                np.testing.assert_array_equal(obs, states[t + 1].astype(np.float32))
            transitions += 1
    assert transitions > 1000


def test_open_loop_replay_matches_whole_episodes(cartpole):
    """Whole short episodes replayed in Gymnasium from our start state end at the same step."""
    env, pol = cartpole
    batch = pgbench.rollout(env, pol, WOBBLY_THETA, 64, seed=5, backend="serial")
    g = gym.make("CartPole-v1")
    for e in range(batch.episodes):
        g.reset(seed=e)
        g.unwrapped.state = batch.init_states[e].copy()
        n = batch.lengths[e]
        for t in range(n):
            obs, _, terminated, truncated, _ = g.step(int(batch.actions[e, t]))
            if t + 1 < n:
                np.testing.assert_allclose(obs, batch.obs[e, t + 1], rtol=1e-6, atol=1e-6)
        assert terminated or truncated
        assert truncated == (n == cp.MAX_STEPS and not terminated)


def test_truncation_at_500_and_mask(cartpole):
    env, pol = cartpole
    batch = pgbench.rollout(env, pol, BALANCING_THETA, 16, seed=2, backend="serial")
    assert batch.lengths.max() == 500
    for e in range(batch.episodes):
        n = batch.lengths[e]
        assert np.all(batch.mask[e, :n] == 1) and np.all(batch.mask[e, n:] == 0)
        assert np.all(batch.rewards[e, n:] == 0)
    g = gym.make("CartPole-v1")
    e = int(np.argmax(batch.lengths == 500))
    g.reset(seed=0)
    g.unwrapped.state = batch.init_states[e].copy()
    for t in range(500):
        g.unwrapped.state = batch.obs[e, t].copy()
        _, _, terminated, truncated, _ = g.step(int(batch.actions[e, t]))
    assert truncated and not terminated


def test_reset_distribution(cartpole):
    env, pol = cartpole
    batch = pgbench.rollout(env, pol, WOBBLY_THETA, 4000, seed=9, horizon=1, backend="serial")
    s = batch.init_states
    assert s.shape == (4000, 4)
    assert s.min() >= -0.05 and s.max() < 0.05
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=4 * 0.1 / np.sqrt(12 * 4000))
    np.testing.assert_allclose(s.var(axis=0), 0.01 / 12, rtol=0.1)
