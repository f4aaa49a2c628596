"""The fused update path (pgbench/kernels/fused_updates.py) against the per-minibatch
reference path of pgbench/algorithms/ppo.py: the same parameters after several updates,
to rounding (the two sum the minibatch advantage statistics in different orders)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench.algorithms.fused import fused_nets
from pgbench.algorithms.segments import CriticParams
from pgbench.values import make_value

STEPS = 3 * 96  # three updates of 4 envs x 24 steps


def _train(algo, env, policy, fused, **hp):
    params = dict(n_envs=4, n_steps=24, batch_size=40, n_epochs=3, ent_coef=0.01)
    params.update(hp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few updates: the budget warning
        theta, history = pgbench.train(
            algo, env, policy, STEPS, 3, log_every=96, eval_episodes=0, fused=fused, **params
        )
    return theta, history


def _same(algo, env, policy, **hp):
    a, ha = _train(algo, env, policy, True, **hp)
    b, hb = _train(algo, env, policy, False, **hp)
    assert not np.array_equal(a, policy.init(3))  # it trained
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for metric in ("kl", "entropy", "grad_norm"):
        va = ha[ha["metric"] == metric]["value"].to_numpy()
        vb = hb[hb["metric"] == metric]["value"].to_numpy()
        np.testing.assert_allclose(va, vb, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def cartpole():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("mlp-softmax", env, hidden=[16, 16])


@pytest.fixture(scope="module")
def pendulum():
    return pgbench.make_env("pendulum-v1")


@pytest.mark.parametrize("algo", ["ppo-clip", "ppo-kl"])
def test_softmax_fused_matches_reference(cartpole, algo):
    env, policy = cartpole
    _same(algo, env, policy, critic=dict(hidden=[16]))


def test_clip_schedule_to_zero_and_raw_advantages(cartpole):
    """A linear clip schedule reaching 0 at the end, advantages not standardized, a
    ReLU policy, a last minibatch shorter than the rest (96 rows, batches of 40)."""
    env, _ = cartpole
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[8], activation="relu")
    _same(
        "ppo-clip", env, policy, clip_schedule="linear", normalize_advantage=False,
        critic=dict(hidden=[8, 8], activation="relu"),
        optimizer=dict(kind="adam", lr=1e-3, schedule="linear", max_grad_norm=0.5),
    )  # fmt: skip


@pytest.mark.parametrize("algo", ["ppo-clip", "ppo-kl"])
@pytest.mark.parametrize("state_dependent_std", [False, True])
def test_gaussian_fused_matches_reference(pendulum, algo, state_dependent_std):
    policy = pgbench.make_policy(
        "gaussian", pendulum, hidden=[8], state_dependent_std=state_dependent_std
    )
    _same(algo, pendulum, policy, critic=dict(hidden=[8]))


def test_other_networks_take_the_reference_path(cartpole):
    env, mlp_policy = cartpole
    linear = pgbench.make_policy("linear-softmax", env)
    mlp_critic = make_value("mlp", env, hidden=(8,))
    assert fused_nets(mlp_policy, mlp_critic) is not None
    assert fused_nets(linear, mlp_critic) is None
    assert fused_nets(mlp_policy, make_value("linear", env)) is None
    assert fused_nets(mlp_policy, make_value("mlp", env, action_value=True)) is None
    chain = pgbench.make_env("chain")  # discrete states: the critic reads one-hot features
    assert make_value("mlp", chain, hidden=(4,)).fused_net is None


def test_linear_policy_trains_on_the_reference_path(cartpole):
    env, _ = cartpole
    policy = pgbench.make_policy("linear-softmax", env)
    a, _ = _train("ppo-clip", env, policy, True, critic=CriticParams(hidden=(8,)).model_dump())
    b, _ = _train("ppo-clip", env, policy, False, critic=dict(hidden=[8]))
    np.testing.assert_array_equal(a, b)


def _a2c(env, policy, fused, **hp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgbench.train(
            "a2c", env, policy, 1200, 2, log_every=400, eval_episodes=0, fused=fused,
            critic=dict(hidden=[8]), **hp,
        )  # fmt: skip


@pytest.mark.parametrize("extra", [{}, dict(normalize_advantage=True, ent_coef=0.01)])
def test_a2c_fused_matches_reference(cartpole, pendulum, extra):
    """Bit for bit: the fused A2C step is the reference's arithmetic in one call, apart
    from the advantage standardization's sums. Pendulum's 200-step episodes end by
    truncation inside the segments (the bootstrap from V(final state))."""
    gaussian = pgbench.make_policy("gaussian", pendulum, hidden=[8])
    for env, policy in (cartpole, (pendulum, gaussian)):
        a, ha = _a2c(env, policy, True, **extra)
        b, hb = _a2c(env, policy, False, **extra)
        assert not np.array_equal(a, policy.init(2))
        if extra:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        else:
            np.testing.assert_array_equal(a, b)
            keep = ~ha["metric"].isin(["seconds"])
            pd.testing.assert_frame_equal(
                ha[keep].drop(columns="method_params"), hb[keep].drop(columns="method_params")
            )


def test_clipped_value_loss_fused_matches_reference(cartpole):
    """value_clip_range (baselines' clipped value loss) on both paths; it changes the
    result (the clip binds) and the fused path still equals the reference."""
    env, policy = cartpole
    _same("ppo-clip", env, policy, critic=dict(hidden=[16]), value_clip_range=0.001)
    a, _ = _train("ppo-clip", env, policy, True, critic=dict(hidden=[16]), value_clip_range=0.001)
    b, _ = _train("ppo-clip", env, policy, True, critic=dict(hidden=[16]))
    assert not np.array_equal(a, b)  # the critic moved differently, then the advantages
