"""precision: float32 of ppo-clip / ppo-kl (pgbench/kernels/fused_f32.py): its tanh
against numpy's, its updates against the float64 fused path, its one-line refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pgbench
from pgbench.kernels.fused_f32 import tanh32

HP = dict(
    n_envs=4, n_steps=32, batch_size=32, n_epochs=3, ent_coef=0.01, critic=dict(hidden=[16]),
    optimizer=dict(kind="adam", lr=1e-3, eps=1e-5, max_grad_norm=0.5),
)  # fmt: skip


def test_tanh32_within_5e_7_of_numpy():
    x = np.concatenate([np.linspace(-12, 12, 20001), np.geomspace(1e-7, 1.0, 300)])
    x32 = x.astype(np.float32)
    got = np.array([tanh32(v) for v in x32], dtype=np.float64)
    assert np.abs(got - np.tanh(x32.astype(np.float64))).max() < 6e-7
    assert np.abs(got).max() <= 1.0
    assert tanh32(np.float32(0.0)) == 0.0


def _train(algo, env, policy, steps, precision, seed=5):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theta, _ = pgbench.train(
            algo, env, policy, steps, seed, log_every=steps, eval_episodes=0,
            precision=precision, **HP,
        )  # fmt: skip
    return theta


@pytest.fixture(scope="module")
def cartpole():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("mlp-softmax", env, hidden=[16, 16])


@pytest.mark.parametrize("algo", ["ppo-clip", "ppo-kl"])
def test_one_update_agrees_with_float64(cartpole, algo):
    """One update (3 epochs of 4 minibatches, Adam) moves theta by about 1e-2 per
    entry; float32 lands within 1e-6 of float64 (measured 1.8e-7: rounding of ~1e-7
    relative per operation, through 12 steps)."""
    env, policy = cartpole
    start = policy.init(5)
    a = _train(algo, env, policy, 128, "float32")
    b = _train(algo, env, policy, 128, "float64")
    step = np.abs(b - start).max()
    assert step > 1e-3
    assert np.abs(a - b).max() < 1e-4 * step


@pytest.mark.parametrize("algo", ["ppo-clip", "ppo-kl"])
def test_gaussian_update_agrees_with_float64(algo):
    """The Gaussian head (mean network and the shared log-std) in float32, 2 updates."""
    env = pgbench.make_env("pendulum-v1")
    policy = pgbench.make_policy("gaussian", env, hidden=[16], init="normal", init_scale=0.3)
    start = policy.init(5)
    a = _train(algo, env, policy, 256, "float32")
    b = _train(algo, env, policy, 256, "float64")
    step = np.abs(b - start).max()
    assert step > 1e-3
    assert np.abs(a - b).max() < 1e-4 * step
    np.testing.assert_allclose(a[-1], b[-1], atol=1e-4 * step)  # the log-std


def test_float32_refusals(cartpole):
    env, _ = cartpole
    linear = pgbench.make_policy("linear-softmax", env)
    with pytest.raises(pgbench.PgbenchError, match="float32 needs an MLP softmax or Gaussian"):
        _train("ppo-clip", env, linear, 128, "float32")
    pendulum = pgbench.make_env("pendulum-v1")
    gauss = pgbench.make_policy("gaussian", pendulum, hidden=[8], state_dependent_std=True)
    with pytest.raises(pgbench.PgbenchError, match="shared log-std"):
        _train("ppo-clip", pendulum, gauss, 128, "float32")
    mlp = pgbench.make_policy("mlp-softmax", env, hidden=[8])
    with warnings.catch_warnings(), pytest.raises(pgbench.PgbenchError, match="adam"):
        warnings.simplefilter("ignore")
        pgbench.train(
            "ppo-clip", env, mlp, 128, 0, eval_episodes=0, precision="float32",
            optimizer=dict(kind="sgd", lr=1e-3),
        )  # fmt: skip


def test_clipped_value_loss_in_float32(cartpole):
    env, policy = cartpole
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = (
            pgbench.train(
                "ppo-clip", env, policy, 128, 5, log_every=128, eval_episodes=0,
                precision=precision, value_clip_range=0.001, **HP,
            )[0]
            for precision in ("float32", "float64")
        )  # fmt: skip
    assert np.abs(a - b).max() < 1e-6
