"""CartPole-v1 with a linear-softmax policy and score accumulation, 4096 episodes.

pgbench's kernels next to Gymnasium's numpy ``CartPoleVectorEnv`` driven by a
numpy linear-softmax policy doing the same score accumulation, in one run.
Throughput is environment steps per second of the best round (compile and
warm-up excluded); the terminal summary prints the ratios.

    nox -s bench        # or: pytest benchmarks --benchmark-only
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import pgbench
from benchmarks._throughput import record
from pgbench.kernels import build

EPISODES = 4096
# Moderately good policy: episodes of ~70 steps on average, lengths vary widely.
THETA = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 5.0, 1.0, 0.0])


@pytest.fixture(scope="module")
def cartpole():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("linear-softmax", env)


def _best(benchmark):
    return benchmark.stats.stats.min


@pytest.mark.parametrize("target", ["parallel", "serial"])
def test_streaming_kernel(benchmark, cartpole, target):
    env, pol = cartpole
    k = build(env, pol, target)
    k.stream(env.params, THETA, 0, 64, env.horizon, env.gamma)  # compile / load
    out = benchmark.pedantic(
        k.stream,
        args=(env.params, THETA, 1, EPISODES, env.horizon, env.gamma),
        rounds=10,
        warmup_rounds=1,
    )
    steps = int(out.lengths.sum())
    sps = record(f"pgbench stream ({target})", steps, _best(benchmark))
    benchmark.extra_info.update(env_steps=steps, steps_per_second=sps)


def test_rollout_kernel(benchmark, cartpole):
    env, pol = cartpole
    k = build(env, pol, "parallel")
    k.rollout(env.params, THETA, 0, 64, env.horizon)
    out = benchmark.pedantic(
        k.rollout, args=(env.params, THETA, 1, EPISODES, env.horizon), rounds=5, warmup_rounds=1
    )
    steps = int(out.lengths.sum())
    sps = record("pgbench rollout, stored (parallel)", steps, _best(benchmark))
    benchmark.extra_info.update(env_steps=steps, steps_per_second=sps)


def gymnasium_linear_softmax(theta: np.ndarray, n_envs: int, n_steps: int, seed: int) -> int:
    """Linear softmax + per-episode score sums on CartPoleVectorEnv; returns env steps."""
    envs = gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="vector_entry_point")
    rng = np.random.default_rng(seed)
    W = theta.reshape(2, 5)
    obs, _ = envs.reset(seed=seed)
    score_sums = np.zeros((n_envs, 10))
    returns = np.zeros(n_envs)
    finished = []
    for _ in range(n_steps):
        z = obs @ W[:, :4].T + W[:, 4]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        a = (rng.random(n_envs) >= p[:, 0]).astype(np.int64)
        w = np.eye(2)[a] - p
        phi = np.concatenate([obs, np.ones((n_envs, 1))], axis=1)
        score_sums += (w[:, :, None] * phi[:, None, :]).reshape(n_envs, 10)
        obs, r, terminated, truncated, _ = envs.step(a)
        returns += r
        done = terminated | truncated
        if done.any():
            finished.append(returns[done] @ score_sums[done])
            score_sums[done] = 0.0
            returns[done] = 0.0
    envs.close()
    return n_envs * n_steps


def test_gymnasium_vector_reference(benchmark):
    steps = benchmark.pedantic(
        gymnasium_linear_softmax, args=(THETA, EPISODES, 100, 0), rounds=3, warmup_rounds=1
    )
    sps = record("gymnasium-vector-numpy", steps, _best(benchmark))
    benchmark.extra_info.update(env_steps=steps, steps_per_second=sps)


def _gpu_available() -> bool:
    try:
        from pgbench.kernels import cuda

        return cuda.available() and not cuda.SIMULATOR
    except Exception:
        return False


@pytest.mark.skipif(not _gpu_available(), reason="needs an NVIDIA GPU and numba-cuda")
def test_streaming_kernel_cuda(benchmark, cartpole):
    """One GPU thread per lane, 1 M episodes (host-device copies included)."""
    env, pol = cartpole
    k = build(env, pol, "cuda")
    k.stream(env.params, THETA, 0, 1024, env.horizon, env.gamma)
    out = benchmark.pedantic(
        k.stream,
        args=(env.params, THETA, 1, 1_000_000, env.horizon, env.gamma),
        rounds=5,
        warmup_rounds=1,
    )
    steps = int(out.lengths.sum())
    sps = record("pgbench stream (cuda, 1M episodes)", steps, _best(benchmark))
    benchmark.extra_info.update(env_steps=steps, steps_per_second=sps)
