"""Batched network passes at PPO's minibatch size: the cost of one update.

CartPole-v1, Stable-Baselines3 zoo PPO shapes: 64x64 tanh policy (mlp-softmax)
and value (mlp) networks, minibatch of 256. One update =
``policy.distributions(theta, obs)`` + ``log_prob`` + ``entropy`` + ``grad``
(clipped-surrogate weights and entropy bonus) + ``value.forward`` +
``.grad``: what an algorithm calls per minibatch, without the optimizer.
BLAS runs on one thread (one core) unless the name says otherwise; the table
pytest-benchmark prints gives the times (min and median per call).

    pytest benchmarks/test_nets.py --benchmark-only --benchmark-columns=min,median,rounds
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import pgbench
from pgbench.policies.mlp import softmax_probs_ref
from pgbench.values import make_value

BATCH = 256
ROUNDS, ITERATIONS = 300, 5


@pytest.fixture(scope="module")
def ppo_case():
    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[64, 64])
    value = make_value("mlp", env, hidden=(64, 64))
    rng = np.random.default_rng(0)
    theta, phi = policy.init(0), value.init(1)
    obs = rng.normal(scale=[1.0, 1.0, 0.1, 1.0], size=(BATCH, 4))
    actions = rng.integers(0, 2, size=BATCH)
    adv = rng.normal(size=BATCH)
    returns = rng.normal(size=BATCH)
    return policy, value, theta, phi, obs, actions, adv, returns


def ppo_update(policy, value, theta, phi, obs, actions, adv, returns):
    """The model-layer work of one PPO minibatch step (clip 0.2, ent 0, vf 0.5)."""
    n = obs.shape[0]
    dist = policy.distributions(theta, obs)
    logp = dist.log_prob(actions)
    ratio = np.exp(logp - logp)  # stands in for the ratio to the rollout policy
    w_logp = np.where((ratio < 1.2) & (ratio > 0.8), adv / n, 0.0) * ratio
    dist.entropy()
    g_theta = dist.grad(actions, w_logp, w_ent=0.0)
    out = value.forward(phi, obs)
    g_phi = out.grad(0.5 * 2.0 * (returns - out.values) / n)
    return g_theta, g_phi


def _run(benchmark, fn, *args):
    fn(*args)  # compile / load from the cache
    with threadpool_limits(1, user_api="blas"):
        benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=ITERATIONS, warmup_rounds=5)
    benchmark.extra_info.update(batch=BATCH)


def test_ppo_minibatch_update(benchmark, ppo_case):
    """Policy + value forward and backward for one minibatch of 256 (one core)."""
    _run(benchmark, ppo_update, *ppo_case)


def test_ppo_minibatch_update_two_threads(benchmark, ppo_case):
    """The same with BLAS free to use both cores."""
    ppo_update(*ppo_case)
    benchmark.pedantic(ppo_update, args=ppo_case, rounds=ROUNDS, iterations=ITERATIONS)


def test_policy_forward(benchmark, ppo_case):
    policy, _, theta, _, obs, actions, _, _ = ppo_case

    def forward():
        dist = policy.distributions(theta, obs)
        return dist.log_prob(actions), dist.entropy()

    _run(benchmark, forward)


def test_policy_forward_numpy_reference(benchmark, ppo_case):
    """The same forward in plain numpy (``pgbench.policies.mlp.softmax_probs_ref``): the
    reference the Numba forward is compared with in the same run."""
    policy, _, theta, _, obs, actions, _, _ = ppo_case

    def forward():
        p = softmax_probs_ref(theta, obs, 4, (64, 64), 2)
        logp = np.log(p)
        return logp[np.arange(BATCH), actions], -(p * logp).sum(axis=1)

    _run(benchmark, forward)


def test_policy_backward(benchmark, ppo_case):
    policy, _, theta, _, obs, actions, adv, _ = ppo_case
    dist = policy.distributions(theta, obs)
    _run(benchmark, dist.grad, actions, adv / BATCH, 0.01)


def test_value_forward_backward(benchmark, ppo_case):
    _, value, _, phi, obs, _, _, returns = ppo_case

    def step():
        out = value.forward(phi, obs)
        return out.grad(returns - out.values)

    _run(benchmark, step)


def test_policy_fvp_2048(benchmark, ppo_case):
    """One Fisher-vector product on a TRPO-sized batch of 2048 (one core)."""
    policy, _, theta, _, _, _, _, _ = ppo_case
    rng = np.random.default_rng(1)
    dist = policy.distributions(theta, rng.normal(size=(2048, 4)))
    _run(benchmark, dist.fvp, rng.normal(size=policy.n_params))
