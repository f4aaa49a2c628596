"""CUDA drivers through Numba's CUDA simulator, against the CPU drivers, bit for bit.

Runs only in a process started with NUMBA_ENABLE_CUDASIM=1 (see conftest.py;
``nox -s tests`` does this). Episode counts stay small: the simulator runs
every GPU thread as a Python thread.
"""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.kernels import build, build_returns
from tests.conftest import WOBBLY_THETA

pytestmark = pytest.mark.cudasim


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["cartpole", "garnet", "chain"])
def test_cuda_drivers_equal_cpu_drivers(name, request):
    env, pol = request.getfixturevalue(name)
    theta = WOBBLY_THETA if name == "cartpole" else pol.init(2)
    episodes = 40  # more episodes than one block of threads: threads run several episodes
    cpu = build(env, pol, "serial")
    gpu = build(env, pol, "cuda")
    _assert_same(
        cpu.stream(env.params, theta, 5, episodes, env.horizon, env.gamma),
        gpu.stream(env.params, theta, 5, episodes, env.horizon, env.gamma),
    )
    _assert_same(
        cpu.rollout(env.params, theta, 5, episodes, env.horizon),
        gpu.rollout(env.params, theta, 5, episodes, env.horizon),
    )


def test_cuda_backend_through_the_api(garnet):
    env, pol = garnet
    theta = pol.init(1)
    for name in ("reinforce", "reward-to-go"):
        np.testing.assert_array_equal(
            pgbench.estimate(name, env, pol, theta, 33, seed=4, backend="cuda"),
            pgbench.estimate(name, env, pol, theta, 33, seed=4, backend="serial"),
        )
    a = pgbench.rollout(env, pol, theta, 7, seed=1, backend="cuda")
    b = pgbench.rollout(env, pol, theta, 7, seed=1, backend="cpu")
    for field in ("obs", "actions", "rewards", "mask", "score", "init_states", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_cuda_return_scans_equal_cpu():
    rng = np.random.default_rng(3)
    E, T = 37, 9
    rewards = rng.normal(size=(E, T))
    mask = (np.arange(T) < rng.integers(1, T + 1, size=E)[:, None]).astype(float)
    values = rng.normal(size=(E, T + 1))
    cpu, gpu = build_returns("serial"), build_returns("cuda")
    for f in ("discounted_return", "reward_to_go"):
        np.testing.assert_array_equal(
            getattr(cpu, f)(rewards, mask, 0.9), getattr(gpu, f)(rewards, mask, 0.9)
        )
    np.testing.assert_array_equal(
        cpu.td_errors(rewards, values, mask, 0.9), gpu.td_errors(rewards, values, mask, 0.9)
    )
    np.testing.assert_array_equal(
        cpu.gae(rewards, values, mask, 0.9, 0.8), gpu.gae(rewards, values, mask, 0.9, 0.8)
    )


@pytest.mark.parametrize("name", ["cartpole", "garnet"])
def test_cuda_segments_equal_cpu_segments(name, request):
    """Persistent lanes: two consecutive segments, CUDA simulator vs serial CPU."""
    env, pol = request.getfixturevalue(name)
    theta = WOBBLY_THETA if name == "cartpole" else pol.init(2)
    out = []
    for target in ("serial", "cuda"):
        k = build(env, pol, target)
        lanes = k.start_lanes(env.params, 9, 5)
        out.append([k.segment(env.params, theta, lanes, T, env.horizon) for T in (30, 45)])
    for x, y in zip(*out, strict=True):
        _assert_same(x, y)


def test_cuda_gae_segment_equals_cpu():
    rng = np.random.default_rng(5)
    L, T = 6, 11
    r, v, nv = (rng.normal(size=(L, T)) for _ in range(3))
    d = (rng.random((L, T)) < 0.2).astype(float)
    np.testing.assert_array_equal(
        build_returns("serial").gae_segment(r, v, nv, d, 0.97, 0.9),
        build_returns("cuda").gae_segment(r, v, nv, d, 0.97, 0.9),
    )
