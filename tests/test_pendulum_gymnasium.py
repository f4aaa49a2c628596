"""Pendulum-v1 against Gymnasium's implementation, step for step.

No continuous-action policy is needed: the cores are compiled here with the
target's own decorator (``target_lib(target).jit``) around small test loops,
and the drivers are exercised with a test-only open-loop policy whose torque
is uniform in [-3, 3) (so a third of the actions need the environment's clip).
Only the last bits may differ from Gymnasium: sin (pgbench's own, within 2 ulp
of libm) in the next speed, and the squares in the cost (Gymnasium's ``x**2`` is
libm's ``pow``, ours ``x * x``). So the speed clip and angle_normalize are
compared exactly, the reward exactly against Gymnasium's formula with exact
squares and to 5e-16 against Gymnasium, and the state to a few ulp.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

import pgbench
from pgbench.envs import pendulum as pd
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import build, target_lib
from pgbench.policies.base import Policy, PolicyCores

# One step from a given state: the new state agrees to a few ulp (sin th enters thdot).
STEP_RTOL, STEP_ATOL = 1e-12, 1e-14
# One reward: Gymnasium's x**2 (libm pow) against our correctly rounded x * x.
REWARD_RTOL = 5e-16
# 200 steps: last-bit differences grow with the dynamics (measured: 4e-14 in the state).
TRAJ_RTOL, TRAJ_ATOL = 1e-12, 1e-11


def gym_pendulum():
    return gym.make("Pendulum-v1").unwrapped


# --- compiled cores and a test-only policy ---------------------------------------------------


@functools.cache
def harness(target: str) -> SimpleNamespace:
    """The pendulum cores compiled for ``target`` inside small loops (callable from Python
    on the CPU and in the CUDA simulator)."""
    lib = target_lib(target)
    reset, step, observe = (lib.jit(f) for f in pd.make_cores(lib))

    def reset_each(ep, keys, state, obs):
        """Reset column j of state (2, N) from stream keys[j]; observe it into obs (3, N)."""
        for j in range(keys.shape[0]):
            reset(ep, keys[j], state, j)
            observe(ep, state, j, obs)

    def step_each(ep, state, actions, rewards, terminated, obs):
        """One step of every column of state (2, N) with actions (N,), in place; the
        observation after it into obs (3, N)."""
        for j in range(state.shape[1]):
            r, term = step(ep, np.uint64(0), 0, state, j, actions[j])
            rewards[j] = r
            terminated[j] = 1.0 if term else 0.0
            observe(ep, state, j, obs)

    def trajectory(ep, state, actions, states_o, rewards_o, terminated_o):
        """actions (N, T) from the states in the columns of state (2, N): states_o
        (N, T + 1, 2) holds every state visited, rewards_o and terminated_o (N, T)."""
        for j in range(actions.shape[0]):
            states_o[j, 0, 0] = state[0, j]
            states_o[j, 0, 1] = state[1, j]
            for t in range(actions.shape[1]):
                r, term = step(ep, np.uint64(0), t, state, j, actions[j, t])
                rewards_o[j, t] = r
                terminated_o[j, t] = 1.0 if term else 0.0
                states_o[j, t + 1, 0] = state[0, j]
                states_o[j, t + 1, 1] = state[1, j]

    return SimpleNamespace(
        lib=lib,
        reset_each=lib.jit(reset_each),
        step_each=lib.jit(step_each),
        trajectory=lib.jit(trajectory),
        angle_normalize=lib.jit(pd.angle_normalize),
    )


def step_each(target, ep, states, actions):
    """(next states (N, 2), rewards (N,), terminated (N,), next obs (N, 3))."""
    state = np.ascontiguousarray(states.T)
    n = state.shape[1]
    rewards, terminated, obs = np.zeros(n), np.zeros(n), np.zeros((3, n))
    harness(target).step_each(ep, state, np.ascontiguousarray(actions), rewards, terminated, obs)
    return state.T.copy(), rewards, terminated, obs.T.copy()


def trajectory(target, ep, init_states, actions):
    """(states (N, T + 1, 2), rewards (N, T), terminated (N, T))."""
    n, T = actions.shape
    states, rewards, terminated = np.zeros((n, T + 1, 2)), np.zeros((n, T)), np.zeros((n, T))
    state = np.ascontiguousarray(init_states.T)
    harness(target).trajectory(ep, state, actions, states, rewards, terminated)
    return states, rewards, terminated


def _uniform_torque_cores(lib) -> PolicyCores:
    def sample(theta, obs, j, u, probs):
        return theta[0] * (2.0 * u - 1.0)

    def log_prob(theta, obs, j, a, probs):
        return 0.0

    def score(theta, obs, j, a, probs, g):
        g[0, j] = 0.0

    return PolicyCores(sample, log_prob, score)


def _no_reference(*args):
    raise NotImplementedError("test-only policy")


# Open loop: a = theta[0] * (2u - 1), whatever the observation.
UNIFORM_TORQUE = Policy(
    name="test-uniform-torque",
    n_actions=0,
    obs_dim=3,
    n_params=1,
    theta_shape=(1,),
    init_scale=0.0,
    make_cores=_uniform_torque_cores,
    probs_ref=_no_reference,
    score_ref=_no_reference,
    action_dim=1,
)
AMPLITUDE = np.array([3.0])


@pytest.fixture(scope="module")
def pendulum():
    return pgbench.make_env("pendulum-v1")


# --- the tests --------------------------------------------------------------------------------


def test_constants_and_fields_match_gymnasium(pendulum):
    g = gym_pendulum()
    assert (g.g, g.m, g.l, g.dt) == (pd.DEFAULT_G, pd.MASS, pd.LENGTH, pd.DT)
    assert (g.max_speed, g.max_torque) == (pd.MAX_SPEED, pd.MAX_TORQUE)
    assert gym.spec("Pendulum-v1").max_episode_steps == pd.MAX_STEPS == pendulum.horizon == 200
    assert (g.action_space.low[0], g.action_space.high[0]) == (
        pendulum.action_low,
        pendulum.action_high,
    )
    assert (pendulum.n_actions, pendulum.action_dim, pendulum.continuous) == (0, 1, True)
    assert (pendulum.state_dim, pendulum.obs_dim, pendulum.n_states) == (2, 3, None)
    assert pendulum.gamma == 0.99 and pendulum.params.tolist() == [10.0]
    env = pgbench.make_env("pendulum-v1", g=9.81, gamma=0.9, horizon=50)
    assert env.params.tolist() == [9.81] and (env.gamma, env.horizon) == (0.9, 50)
    assert env.describe() == "pendulum-v1(g=9.81,gamma=0.9,horizon=50)"


@pytest.mark.parametrize(
    "params, word",
    [
        ({"g": float("nan")}, "g"),
        ({"g": float("inf")}, "g"),
        ({"g": "ten"}, "g"),
        ({"g": True}, "g"),
        ({"gamma": 0.0}, "gamma"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 2.0}, "horizon"),
    ],
)
def test_bad_parameters_are_rejected(params, word):
    with pytest.raises(InvalidSpecError, match=word) as info:
        pgbench.make_env("pendulum-v1", **params)
    assert "\n" not in str(info.value)


def _angle_cases() -> np.ndarray:
    """Angles around every wrap point, tiny and huge ones, and random ones."""
    rng = np.random.default_rng(0)
    edges = np.arange(-60, 61) * 2 * np.pi - np.pi
    near = [edges]
    for direction in (np.inf, -np.inf):
        x = edges
        for _ in range(3):
            x = np.nextafter(x, direction)
            near.append(x)
    return np.concatenate(
        [
            *near,
            rng.uniform(-100, 100, 5000),
            rng.uniform(-1e8, 1e8, 500),
            -np.pi + rng.normal(0, 1e-15, 200),
            np.pi + rng.normal(0, 1e-15, 200),
            [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, np.pi, -np.pi, 2 * np.pi, -2 * np.pi],
        ]
    )


def test_angle_normalize_is_numpys_bit_for_bit():
    """((x + pi) % (2 pi)) - pi with numpy's (Python's) floor sign convention, to the bit;
    a naive x - floor(x / 2pi) 2pi would differ in the last bit for about a quarter."""
    x = _angle_cases()
    expected = ((x + np.pi) % (2 * np.pi)) - np.pi
    compiled = harness("serial").angle_normalize
    ours = np.array([compiled(v) for v in x.tolist()])
    python = np.array([pd.angle_normalize(v) for v in x.tolist()])
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(python, expected)
    assert ours.min() >= -np.pi and ours.max() <= np.pi


def _one_step_cases(n: int = 3000):
    """States and actions: any angle, speeds anywhere in [-8, 8] and near the clip,
    torques inside, on and outside [-2, 2]."""
    rng = np.random.default_rng(42)
    th = np.concatenate([rng.uniform(-4 * np.pi, 4 * np.pi, n - 200), rng.uniform(-60, 60, 200)])
    thdot = rng.uniform(-8, 8, n)
    near_clip = rng.random(n) < 0.3
    thdot[near_clip] = np.sign(thdot[near_clip]) * (8 - rng.uniform(0, 0.8, near_clip.sum()))
    thdot[:20] = [8.0, -8.0] * 10
    a = rng.uniform(-4, 4, n)
    a[20:40] = [2.0, -2.0, 0.0, 1e6, -1e6] * 4
    return np.column_stack([th, thdot]), a


def test_every_transition_matches_gymnasium(pendulum):
    """From arbitrary states, Gymnasium's step with the same torque gives our next state,
    observation and reward (the reward involves no sin: it differs only where libm's
    pow(x, 2) is not correctly rounded)."""
    states, actions = _one_step_cases()
    nxt, rewards, terminated, obs = step_each("serial", pendulum.params, states, actions)
    g = gym_pendulum()
    g.reset(seed=0)
    ref_state, ref_reward, ref_obs32 = np.zeros_like(states), np.zeros(len(actions)), []
    for i in range(len(actions)):
        g.state = states[i].copy()
        o, r, term, trunc, _ = g.step(np.array([actions[i]]))
        assert not term and not trunc
        ref_state[i], ref_reward[i] = g.state, r
        ref_obs32.append(o)
    assert not terminated.any()
    # Gymnasium squares with numpy's scalar x**2, i.e. libm's pow(x, 2.0), which glibc
    # rounds to within 0.52 ulp rather than correctly: about 1 step in 1000 differs in
    # the last bit. Our x * x is correctly rounded, so the reward is bit for bit
    # Gymnasium's formula evaluated with exact squares:
    u = np.clip(actions, -2.0, 2.0)
    th, thdot = states.T
    norm = ((th + np.pi) % (2 * np.pi)) - np.pi
    exact_squares = -(norm * norm + 0.1 * (thdot * thdot) + 0.001 * (u * u))
    np.testing.assert_array_equal(rewards, exact_squares)
    np.testing.assert_allclose(rewards, ref_reward, rtol=REWARD_RTOL, atol=0)
    assert (rewards == ref_reward).mean() > 0.99
    np.testing.assert_allclose(nxt, ref_state, rtol=STEP_RTOL, atol=STEP_ATOL)
    # the speed clip is exact: the same steps end at exactly +-8
    np.testing.assert_array_equal(np.abs(nxt[:, 1]) == 8.0, np.abs(ref_state[:, 1]) == 8.0)
    assert (nxt[:, 1] == 8.0).sum() > 50 and (nxt[:, 1] == -8.0).sum() > 50
    assert (np.abs(actions) > 2).sum() > 500  # and the torque clip was needed often
    ref_obs = np.column_stack([np.cos(ref_state[:, 0]), np.sin(ref_state[:, 0]), ref_state[:, 1]])
    np.testing.assert_allclose(obs, ref_obs, rtol=STEP_RTOL, atol=STEP_ATOL)
    np.testing.assert_allclose(obs.astype(np.float32), np.array(ref_obs32), rtol=1e-6, atol=1e-7)


def test_reset_draws_and_distribution(pendulum):
    """th = -pi + 2 pi u0, thdot = -1 + 2 u1 from the episode's stream: Gymnasium's
    U[-pi, pi] x U[-1, 1]."""
    h = harness("serial")
    seed, n = np.uint64(9), 4000
    keys = np.array([h.lib.episode_key(seed, e) for e in range(n)], dtype=np.uint64)
    state, obs = np.zeros((2, n)), np.zeros((3, n))
    h.reset_each(pendulum.params, keys, state, obs)
    u0 = np.array([h.lib.uniform(k, np.uint64(0)) for k in keys])
    u1 = np.array([h.lib.uniform(k, np.uint64(1)) for k in keys])
    np.testing.assert_array_equal(state[0], -np.pi + 2 * np.pi * u0)
    np.testing.assert_array_equal(state[1], -1.0 + 2.0 * u1)
    th, thdot = state
    assert -np.pi <= th.min() and th.max() < np.pi and -1 <= thdot.min() and thdot.max() < 1
    for x, half in ((th, np.pi), (thdot, 1.0)):
        var = half**2 / 3
        assert abs(x.mean()) < 4 * np.sqrt(var / n)
        np.testing.assert_allclose(x.var(), var, rtol=0.1)
    np.testing.assert_allclose(obs, [np.cos(th), np.sin(th), thdot], rtol=1e-15, atol=1e-15)
    # the drivers start their episodes from the same draws
    batch = build(pendulum, UNIFORM_TORQUE, "serial").rollout(
        pendulum.params, AMPLITUDE, int(seed), 50, 1
    )
    np.testing.assert_array_equal(batch.init_states, state[:, :50].T)


def test_fixed_action_sequences_track_gymnasium_for_200_steps(pendulum):
    """Open-loop torque sequences (swinging beyond +-2) from 12 start states, replayed in
    gym.make("Pendulum-v1"): every state and reward stays within tolerance, the episode is
    truncated exactly at step 200 and never terminated."""
    rng = np.random.default_rng(7)
    n, T = 12, pd.MAX_STEPS
    init = np.column_stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-1, 1, n)])
    t = np.arange(T)
    actions = 3.0 * np.sin(0.05 * t + rng.uniform(0, 2 * np.pi, (n, 1))) + rng.normal(
        0, 0.5, (n, T)
    )
    states, rewards, terminated = trajectory("serial", pendulum.params, init, actions)
    assert not terminated.any()
    env = gym.make("Pendulum-v1")
    worst = 0.0
    for e in range(n):
        env.reset(seed=e)
        env.unwrapped.state = init[e].copy()
        for k in range(T):
            _, r, term, trunc, _ = env.step(np.array([actions[e, k]]))
            assert not term and trunc == (k == T - 1)
            np.testing.assert_allclose(
                env.unwrapped.state, states[e, k + 1], rtol=TRAJ_RTOL, atol=TRAJ_ATOL
            )
            np.testing.assert_allclose(r, rewards[e, k], rtol=TRAJ_RTOL, atol=TRAJ_ATOL)
            worst = max(worst, np.abs(env.unwrapped.state - states[e, k + 1]).max())
    assert np.abs(states[:, :, 1]).max() == 8.0  # the swing reaches the speed clip
    assert worst > 0.0  # sin does differ in the last bits somewhere


def test_rollouts_replay_in_gymnasium_and_truncate_at_200(pendulum):
    """The drivers (a stored rollout of an open-loop policy) replayed in Gymnasium from
    our start states; every episode lasts exactly 200 steps, as in Gymnasium's TimeLimit."""
    k = build(pendulum, UNIFORM_TORQUE, "serial")
    batch = k.rollout(pendulum.params, AMPLITUDE, 3, 8, pendulum.horizon)
    assert batch.actions.dtype == np.float64
    assert np.all(batch.lengths == 200) and np.all(batch.mask == 1.0)
    assert np.abs(batch.actions).max() > 2.5
    env = gym.make("Pendulum-v1")
    for e in range(len(batch.lengths)):
        env.reset(seed=e)
        env.unwrapped.state = batch.init_states[e].copy()
        th, thdot = env.unwrapped.state
        for t in range(200):
            np.testing.assert_allclose(
                batch.obs[e, t], [np.cos(th), np.sin(th), thdot], rtol=TRAJ_RTOL, atol=TRAJ_ATOL
            )
            _, r, term, trunc, _ = env.step(np.array([batch.actions[e, t]]))
            np.testing.assert_allclose(batch.rewards[e, t], r, rtol=TRAJ_RTOL, atol=TRAJ_ATOL)
            assert not term and trunc == (t == 199)
            th, thdot = env.unwrapped.state
    short = k.rollout(pendulum.params, AMPLITUDE, 3, 4, 50)
    assert np.all(short.lengths == 50)
    np.testing.assert_array_equal(short.obs, batch.obs[:4, :50])
    # persistent lanes: truncated (never terminated) every 200 steps, then a fresh episode
    lanes = k.start_lanes(pendulum.params, 3, 4)
    seg = k.segment(pendulum.params, AMPLITUDE, lanes, 450, pendulum.horizon)
    assert not seg.terminated.any()
    assert np.array_equal(np.nonzero(seg.truncated[0])[0], [199, 399])
    assert np.all(seg.episode_lengths[:, [199, 399]] == 200)


@pytest.mark.cudasim
def test_cuda_simulator_cores_and_drivers_equal_cpu(pendulum):
    """The same cores compiled for CUDA (run in the simulator) and for the CPU give
    identical bits: one step from arbitrary states, resets, and the drivers' rollouts."""
    states, actions = _one_step_cases(300)
    for a, b in zip(
        step_each("serial", pendulum.params, states, actions),
        step_each("cuda", pendulum.params, states, actions),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    x = _angle_cases()[::10].tolist()
    cpu_norm, gpu_norm = harness("serial").angle_normalize, harness("cuda").angle_normalize
    assert [cpu_norm(v) for v in x] == [gpu_norm(v) for v in x]
    cpu, gpu = build(pendulum, UNIFORM_TORQUE, "serial"), build(pendulum, UNIFORM_TORQUE, "cuda")
    for x, y in zip(
        cpu.rollout(pendulum.params, AMPLITUDE, 5, 40, 25),
        gpu.rollout(pendulum.params, AMPLITUDE, 5, 40, 25),
        strict=True,
    ):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
