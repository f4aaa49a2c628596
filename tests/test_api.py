"""The public API as a user calls it, on CartPole and on a user-defined tabular MDP."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.errors import (
    BackendUnavailableError,
    InvalidSpecError,
    NoExactFormError,
    UnknownNameError,
)


def two_state_mdp():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0  # action 0 goes to state 0
    P[:, 1, :] = [0.3, 0.7]
    R = np.array([[0.0, 1.0], [2.0, -1.0]])
    return pgbench.make_env("tabular", P=P, R=R, mu0=[0.5, 0.5], gamma=0.8, horizon=6)


def test_rollout_on_user_tabular_mdp():
    env = two_state_mdp()
    pol = pgbench.make_policy("tabular-softmax", env)
    theta = np.array([0.3, -0.2, 1.0, 0.0])
    b = pgbench.rollout(env, pol, theta, episodes=50, seed=0)
    assert b.obs.shape == (50, 6, 1) and b.actions.shape == (50, 6)
    assert b.score.shape == (50, 6, 4) and b.init_states.shape == (50, 1)
    assert b.actions.dtype == np.int64 and b.init_states.dtype == np.float64
    assert np.all(b.mask == 1) and np.all(b.lengths == 6) and b.env_steps == 300
    s, a = b.obs[..., 0].astype(int), b.actions
    np.testing.assert_array_equal(b.rewards, np.array([[0.0, 1.0], [2.0, -1.0]])[s, a])
    np.testing.assert_array_equal(b.obs[:, 0, 0], b.init_states[:, 0])
    # action 0 always leads to state 0
    assert np.all(s[:, 1:][a[:, :-1] == 0] == 0)


def test_rollout_horizon_override_and_determinism(cartpole):
    env, pol = cartpole
    theta = pol.init(1)
    a = pgbench.rollout(env, pol, theta, 8, seed=3, horizon=5)
    b = pgbench.rollout(env, pol, theta, 8, seed=3, horizon=5)
    assert a.obs.shape == (8, 5, 4) and a.lengths.max() <= 5
    for f in ("obs", "actions", "rewards", "mask", "score", "init_states"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_exact_objective_and_gradient_on_user_mdp():
    env = two_state_mdp()
    pol = pgbench.make_policy("tabular-softmax", env)
    theta = np.zeros(4)
    j = pgbench.exact_objective(env, pol, theta)
    g = pgbench.exact_gradient(env, pol, theta)
    assert np.isfinite(j) and g.shape == (4,)
    est = np.mean(
        [pgbench.estimate("reward-to-go", env, pol, theta, 4000, seed=s) for s in range(5)], axis=0
    )
    np.testing.assert_allclose(est, g, atol=0.1)


def test_no_exact_form_on_cartpole(cartpole):
    env, pol = cartpole
    with pytest.raises(NoExactFormError, match="cartpole"):
        pgbench.exact_gradient(env, pol, pol.init(0))


def test_unknown_names_suggest_close_matches(cartpole):
    env, pol = cartpole
    with pytest.raises(UnknownNameError, match="did you mean 'cartpole-v1'"):
        pgbench.make_env("cartpole-v0")
    with pytest.raises(UnknownNameError, match="did you mean 'reinforce'"):
        pgbench.estimate("reinforc", env, pol, pol.init(0), 4, seed=0)
    with pytest.raises(UnknownNameError, match="did you mean 'linear-softmax'"):
        pgbench.make_policy("linear-softmx", env)


def test_bad_arguments_are_one_line_errors(cartpole):
    env, pol = cartpole
    cases = [
        lambda: pgbench.make_env("cartpole-v1", gravity=3.0),
        lambda: pgbench.make_env("cartpole-v1", gamma=1.5),
        lambda: pgbench.make_policy("tabular-softmax", env),
        lambda: pgbench.rollout(env, pol, np.zeros(3), 4, seed=0),
        lambda: pgbench.rollout(env, pol, np.full(10, np.nan), 4, seed=0),
        lambda: pgbench.rollout(env, pol, np.zeros(10), -1, seed=0),
        lambda: pgbench.rollout(env, pol, np.zeros(10), 4, seed=0, backend="tpu"),
        lambda: pgbench.estimate("reinforce", env, pol, np.zeros(10), 0, seed=0),
        lambda: pgbench.estimate("reinforce", env, pol, np.zeros(10), 4, seed=0, baseline="x"),
    ]
    for case in cases:
        with pytest.raises(InvalidSpecError) as info:
            case()
        assert "\n" not in str(info.value) and str(info.value)


def test_cuda_backend_without_gpu_is_a_clear_error(cartpole):
    env, pol = cartpole
    with pytest.raises(BackendUnavailableError, match="cuda|CUDA"):
        pgbench.rollout(env, pol, pol.init(0), 4, seed=0, backend="cuda")


def test_a_rollout_larger_than_the_memory_bound_is_a_one_line_error():
    """Stored episodes over pgbench.sampling.MAX_ROLLOUT_BYTES are refused before the
    kernel allocates them, with the estimated size in the message (Python API path)."""
    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("linear-softmax", env)
    with pytest.raises(pgbench.PgbenchError) as err:
        pgbench.rollout(env, policy, policy.init(0), episodes=10_000_000, seed=0)
    msg = str(err.value)
    assert "\n" not in msg and "GiB" in msg and "10,000,000 episodes" in msg
