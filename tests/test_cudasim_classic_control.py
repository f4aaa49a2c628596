"""Acrobot and the mountain cars on the CUDA drivers, through Numba's CUDA simulator,
against the CPU, bit for bit.

Runs only in a process started with NUMBA_ENABLE_CUDASIM=1 (see conftest.py;
``nox -s tests`` does this). Episode counts and horizons stay small: the simulator
runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.envs import acrobot as ac
from pgbench.envs import mountain_car as mc
from pgbench.kernels import build
from tests.classic_control_harness import episode_keys, reset_each, step_each

pytestmark = pytest.mark.cudasim

ACROBOT_THETA = np.zeros(21)
ACROBOT_THETA[5], ACROBOT_THETA[19] = -3.0, 3.0  # torque along dtheta2: swings up
CAR_THETA = np.array([0.0, -80.0, 0.0, 0.0, 0.0, 0.0, 0.0, 80.0, 0.0])
CONTINUOUS_THETA = np.array([0.0, 60.0, 0.0, np.log(0.8)])  # forces often outside [-1, 1]


def _acrobot_cases(n, rng):
    s = np.column_stack(
        [
            rng.uniform(-np.pi, np.pi, (n, 2)),
            rng.uniform(-ac.MAX_VEL_1, ac.MAX_VEL_1, n),
            rng.uniform(-ac.MAX_VEL_2, ac.MAX_VEL_2, n),
        ]
    )
    return s, rng.integers(0, 3, n), rng.integers(0, 500, n)


def _car_states(n, rng):
    return np.column_stack(
        [
            rng.uniform(mc.MIN_POSITION - 0.01, mc.MAX_POSITION, n),
            rng.uniform(-mc.MAX_SPEED, mc.MAX_SPEED, n),
        ]
    )


def _car_cases(n, rng):
    return _car_states(n, rng), rng.integers(0, 3, n), np.zeros(n, np.int64)


def _continuous_cases(n, rng):
    states = _car_states(n, rng).astype(np.float32).astype(np.float64)
    ts = rng.integers(0, 3, n)  # t == 0: the float64 first step; t > 0: float32 state
    return states, rng.uniform(-3, 3, n), ts


# name: (policy, theta, cores, one-step cases (n, rng) -> (states, actions, ts), obs_dim)
CASES = {
    "acrobot-v1": ("linear-softmax", ACROBOT_THETA, ac.make_cores, _acrobot_cases, 6),
    "mountaincar-v0": ("linear-softmax", CAR_THETA, mc.make_cores, _car_cases, 2),
    "mountaincarcontinuous-v0": (
        "gaussian",
        CONTINUOUS_THETA,
        mc.make_continuous_cores,
        _continuous_cases,
        2,
    ),
}


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cores_equal_cpu_cores(name):
    """One step from arbitrary states (acrobot with torque noise, whose draw is keyed), and
    resets, compiled for CUDA (simulated) and for the CPU."""
    _, _, cores, cases, obs_dim = CASES[name]
    params = {"torque_noise_max": 0.3} if name == "acrobot-v1" else {}
    env = pgbench.make_env(name, **params)
    states, actions, ts = cases(200, np.random.default_rng(1))
    keys = episode_keys(4, len(states))
    _assert_same(
        step_each(cores, "serial", env.params, states, actions, ts, keys, obs_dim),
        step_each(cores, "cuda", env.params, states, actions, ts, keys, obs_dim),
    )
    _assert_same(
        reset_each(cores, "serial", env.params, keys[:50], env.state_dim, obs_dim),
        reset_each(cores, "cuda", env.params, keys[:50], env.state_dim, obs_dim),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_drivers_equal_cpu_drivers(name):
    """Streamed sums, stored rollouts and two consecutive segments of persistent lanes,
    short: the simulator interprets every step in Python (33 episodes of Acrobot to a
    horizon of 90 took 10 minutes). The drivers' own logic (blocks of lanes, episodes
    ending by termination and by truncation) is shared by every env and tested on
    CartPole in tests/test_cudasim.py; terminal steps of these envs are in
    :func:`test_cores_equal_cpu_cores`."""
    policy, theta, _, _, _ = CASES[name]
    env = pgbench.make_env(name)
    pol = pgbench.make_policy(policy, env)
    episodes, horizon = 3, 12
    cpu, gpu = build(env, pol, "serial"), build(env, pol, "cuda")
    _assert_same(
        cpu.stream(env.params, theta, 5, episodes, horizon, env.gamma),
        gpu.stream(env.params, theta, 5, episodes, horizon, env.gamma),
    )
    _assert_same(
        cpu.rollout(env.params, theta, 5, episodes, horizon),
        gpu.rollout(env.params, theta, 5, episodes, horizon),
    )
    out = []
    for k in (cpu, gpu):
        lanes = k.start_lanes(env.params, 9, 2)
        out.append([k.segment(env.params, theta, lanes, T, 5) for T in (6, 7)])
    for x, y in zip(*out, strict=True):
        _assert_same(x, y)
