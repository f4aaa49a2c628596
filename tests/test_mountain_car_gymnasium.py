"""MountainCar-v0 and MountainCarContinuous-v0 against Gymnasium's implementations.

The cores are compiled inside small test loops (:mod:`tests.classic_control_harness`).
The discrete car differs from Gymnasium only in the last bits of cos (pgbench's own):
one step agrees to an ulp or so, whole episodes to a few ulp, clips and termination
exactly. The continuous car follows Gymnasium's numpy types (a float32 state after every
step, float32 arithmetic where a Python float meets it), and is compared bit for bit.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import pgbench
from pgbench.cli import main
from pgbench.envs import mountain_car as mc
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import build
from tests.classic_control_harness import episode_keys, harness, reset_each, step_each, trajectory

# One step of the discrete car from the same state: cos(3x) within 2 ulp, scaled by 0.0025.
STEP_RTOL, STEP_ATOL = 1e-15, 1e-17
# Whole 200-step episodes (measured: 4e-15 in position, 2e-16 in velocity).
EPISODE_ATOL = 1e-13
F32 = np.float32
# Linear-softmax logits (3, 3) = +-80 velocity for push left / right: push along the
# motion, noisily, which swings the car up in 120-200 steps (39 of 48 episodes before 200).
PUMP_THETA = np.array([0.0, -80.0, 0.0, 0.0, 0.0, 0.0, 0.0, 80.0, 0.0])
# A Gaussian policy, mean 60 velocity, sigma 0.8: the force mostly follows the motion
# and is often outside [-1, 1] (then clipped by the environment).
PUMP_GAUSSIAN = np.array([0.0, 60.0, 0.0, np.log(0.8)])


@pytest.fixture(scope="module")
def car():
    env = pgbench.make_env("mountaincar-v0")
    return env, pgbench.make_policy("linear-softmax", env)


@pytest.fixture(scope="module")
def continuous_car():
    env = pgbench.make_env("mountaincarcontinuous-v0")
    return env, pgbench.make_policy("gaussian", env)


def gym_steps(name, states, actions, ts, goal_velocity=0.0):
    """Gymnasium's step from each row of states (N, 2), in the types Gymnasium holds it:
    float64 at the start of an episode (ts == 0), else float64 values (discrete car) or a
    float32 array (continuous car). Returns (next states, rewards, terminated)."""
    g = gym.make(name, goal_velocity=goal_velocity).unwrapped
    g.reset(seed=0)
    continuous = name == "MountainCarContinuous-v0"
    nxt, rewards, terminated = np.zeros_like(states), np.zeros(len(states)), np.zeros(len(states))
    for i in range(len(states)):
        stored32 = continuous and ts[i] > 0
        g.state = np.array(states[i], dtype=np.float32 if stored32 else np.float64)
        assert np.array_equal(g.state, states[i])
        action = np.array([actions[i]]) if continuous else int(actions[i])
        _, reward, term, trunc, _ = g.step(action)
        assert not trunc
        nxt[i], rewards[i], terminated[i] = np.asarray(g.state, dtype=np.float64), reward, term
    return nxt, rewards, terminated


def _assert_same_batch(a, b):
    for field in ("init_states", "obs", "actions", "rewards", "mask", "score", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# --- constants, parameters ------------------------------------------------------------------


def test_constants_and_fields_match_gymnasium(car, continuous_car):
    env, _ = car
    g = gym.make("MountainCar-v0").unwrapped
    assert (g.min_position, g.max_position, g.max_speed) == (
        mc.MIN_POSITION,
        mc.MAX_POSITION,
        mc.MAX_SPEED,
    )
    assert (g.goal_position, g.goal_velocity, g.force, g.gravity) == (
        mc.GOAL_POSITION,
        0,
        mc.FORCE,
        mc.GRAVITY,
    )
    assert gym.spec("MountainCar-v0").max_episode_steps == mc.MAX_STEPS == env.horizon == 200
    assert g.action_space.n == env.n_actions == 3 and not env.continuous
    assert (env.state_dim, env.obs_dim, env.n_states) == (2, 2, None)
    assert env.gamma == 0.99 and env.params.tolist() == [0.0]

    cenv, _ = continuous_car
    c = gym.make("MountainCarContinuous-v0").unwrapped
    assert (c.min_position, c.max_position, c.max_speed) == (
        mc.MIN_POSITION,
        mc.MAX_POSITION,
        mc.MAX_SPEED,
    )
    assert (c.goal_position, c.power) == (mc.CONTINUOUS_GOAL_POSITION, mc.POWER)
    assert (c.min_action, c.max_action) == (cenv.action_low, cenv.action_high) == (-1.0, 1.0)
    assert c.action_space.shape == (1,) and (cenv.n_actions, cenv.action_dim) == (0, 1)
    spec = gym.spec("MountainCarContinuous-v0")
    assert spec.max_episode_steps == mc.CONTINUOUS_MAX_STEPS == cenv.horizon == 999
    assert (cenv.state_dim, cenv.obs_dim) == (2, 2)

    custom = pgbench.make_env("mountaincar-v0", goal_velocity=0.01, gamma=0.9, horizon=50)
    assert custom.params.tolist() == [0.01] and (custom.gamma, custom.horizon) == (0.9, 50)
    assert custom.describe() == "mountaincar-v0(goal_velocity=0.01,gamma=0.9,horizon=50)"
    assert (
        pgbench.make_env("mountaincarcontinuous-v0", horizon=10).describe()
        == "mountaincarcontinuous-v0(goal_velocity=0.0,gamma=0.99,horizon=10)"
    )


@pytest.mark.parametrize("name", ["mountaincar-v0", "mountaincarcontinuous-v0"])
@pytest.mark.parametrize(
    "params, word",
    [
        ({"goal_velocity": float("nan")}, "goal_velocity"),
        ({"goal_velocity": "0"}, "goal_velocity"),
        ({"gamma": 0.0}, "gamma"),
        ({"horizon": -1}, "horizon"),
        ({"force": 1.0}, "force"),
    ],
)
def test_bad_parameters_are_rejected(name, params, word):
    with pytest.raises(InvalidSpecError, match=word) as info:
        pgbench.make_env(name, **params)
    assert "\n" not in str(info.value)


# --- the discrete car -----------------------------------------------------------------------


def _states(n: int, rng, float32: bool) -> np.ndarray:
    """States anywhere, many at the walls, the goal and the speed limits."""
    x = rng.uniform(mc.MIN_POSITION, mc.MAX_POSITION, n)
    v = rng.uniform(-mc.MAX_SPEED, mc.MAX_SPEED, n)
    k = n // 8
    x[:k] = mc.MIN_POSITION + rng.uniform(0, 0.01, k)  # at the left wall, moving left
    v[:k] = -rng.uniform(0, mc.MAX_SPEED, k)
    v[k : 2 * k] = np.sign(v[k : 2 * k]) * mc.MAX_SPEED  # at the speed limits
    x[2 * k : 3 * k] = rng.uniform(0.42, 0.52, k)  # around both goals
    v[2 * k : 3 * k] = rng.uniform(-0.01, 0.01, k)
    x[3 * k : 4 * k] = mc.MAX_POSITION - rng.uniform(0, 0.01, k)  # at the right wall
    s = np.column_stack([x, v])
    return s.astype(np.float32).astype(np.float64) if float32 else s


def test_every_transition_matches_gymnasium(car):
    """From states anywhere (walls, limits and goal included), Gymnasium's step with the same
    action gives our next state, reward and termination."""
    env, _ = car
    rng = np.random.default_rng(3)
    states = _states(4000, rng, float32=False)
    actions = rng.integers(0, 3, len(states))
    nxt, rewards, terminated, obs = step_each(mc.make_cores, "serial", env.params, states, actions)
    ref, ref_r, ref_term = gym_steps("MountainCar-v0", states, actions, np.zeros(len(states)))
    np.testing.assert_allclose(nxt, ref, rtol=STEP_RTOL, atol=STEP_ATOL)
    np.testing.assert_array_equal(obs, nxt)
    np.testing.assert_array_equal(rewards, ref_r)
    assert np.all(rewards == -1.0)
    np.testing.assert_array_equal(terminated, ref_term)
    for edge in (mc.MIN_POSITION, mc.MAX_POSITION):  # the position clips are exact
        np.testing.assert_array_equal(nxt[:, 0] == edge, ref[:, 0] == edge)
    np.testing.assert_array_equal(np.abs(nxt[:, 1]) == mc.MAX_SPEED, np.abs(ref[:, 1]) == 0.07)
    at_wall = nxt[:, 0] == mc.MIN_POSITION
    assert at_wall.sum() > 100 and np.all(nxt[at_wall, 1] >= 0)  # the wall stops the car
    assert (nxt[:, 1] == 0).sum() > 100
    assert terminated.sum() > 50 and (np.abs(nxt[:, 1]) == mc.MAX_SPEED).sum() > 50
    # goal_velocity: a slower car at the goal does not end the episode
    fast = pgbench.make_env("mountaincar-v0", goal_velocity=0.005)
    _, _, term_fast, _ = step_each(mc.make_cores, "serial", fast.params, states, actions)
    _, _, ref_fast = gym_steps("MountainCar-v0", states, actions, np.zeros(len(states)), 0.005)
    np.testing.assert_array_equal(term_fast, ref_fast)
    assert 0 < term_fast.sum() < terminated.sum()


def test_rollouts_replay_in_gymnasium(car):
    """Our drivers' episodes replayed in gym.make("MountainCar-v0") from our start states:
    states within a few ulp, the same rewards, and termination or truncation at 200 at
    the same step."""
    env, pol = car
    batch = pgbench.rollout(env, pol, PUMP_THETA, 48, seed=4, backend="serial")
    assert 0 < (batch.lengths < 200).sum() < 48  # both endings occur
    states, obs, _, ours_terminated = trajectory(
        mc.make_cores, "serial", env.params, batch.init_states, batch.actions, 2
    )
    g = gym.make("MountainCar-v0")
    worst = 0.0
    for e in range(batch.episodes):
        n = batch.lengths[e]
        np.testing.assert_array_equal(obs[e, :n], batch.obs[e, :n])
        g.reset(seed=e)
        g.unwrapped.state = batch.init_states[e].copy()
        for t in range(n):
            o, reward, terminated, truncated, _ = g.step(int(batch.actions[e, t]))
            assert reward == batch.rewards[e, t] == -1.0
            assert terminated == bool(ours_terminated[e, t]) and truncated == (t == 199)
            assert not terminated or t == n - 1  # our episode ends where Gymnasium's
            ours = states[e, t + 1]
            np.testing.assert_allclose(g.unwrapped.state, ours, rtol=0, atol=EPISODE_ATOL)
            np.testing.assert_array_equal(o, ours.astype(np.float32))
            worst = max(worst, np.abs(np.array(g.unwrapped.state) - ours).max())
        assert terminated or n == 200
    assert (states[:, :, 0] == mc.MIN_POSITION).any()  # the left wall was hit
    assert worst > 0.0  # cos does differ in the last bits somewhere


def test_reset_draws_and_distribution(car, continuous_car):
    """position = -0.6 + 0.2 u0 from the episode's stream, velocity 0 (Gymnasium's
    U(-0.6, -0.4), float64), for both cars."""
    n = 4000
    keys = episode_keys(9, n)
    lib = harness(mc.make_cores, "serial").lib
    u0 = np.array([lib.uniform(k, np.uint64(0)) for k in keys])
    for cores, (env, pol), theta in (
        (mc.make_cores, car, PUMP_THETA),
        (mc.make_continuous_cores, continuous_car, PUMP_GAUSSIAN),
    ):
        s, obs = reset_each(cores, "serial", env.params, keys, 2, 2)
        np.testing.assert_array_equal(s[:, 0], -0.6 + (-0.4 - -0.6) * u0)
        assert np.all(s[:, 1] == 0.0) and np.array_equal(obs, s)
        assert -0.6 <= s[:, 0].min() and s[:, 0].max() < -0.4
        assert abs(s[:, 0].mean() + 0.5) < 4 * np.sqrt(0.04 / 12 / n)
        np.testing.assert_allclose(s[:, 0].var(), 0.04 / 12, rtol=0.1)
        batch = pgbench.rollout(env, pol, theta, 50, seed=9, horizon=1, backend="serial")
        np.testing.assert_array_equal(batch.init_states, s[:50])
    g = gym.make("MountainCar-v0").unwrapped
    g.reset(seed=1)
    assert g.state.dtype == np.float64 and g.state[1] == 0


def test_truncation_at_200_and_persistent_lanes(car):
    env, pol = car
    lazy = np.zeros(9)  # uniform actions: the car never gets out in 200 steps
    k = build(env, pol, "serial")
    lanes = k.start_lanes(env.params, 3, 4)
    seg = k.segment(env.params, lazy, lanes, 450, env.horizon)
    assert not seg.terminated.any()
    assert np.array_equal(np.nonzero(seg.truncated[0])[0], [199, 399])
    np.testing.assert_array_equal(seg.episode_returns[:, 199], -200.0)


# --- the continuous car ---------------------------------------------------------------------


def _continuous_cases(n: int, rng):
    """(states, actions, ts): float32 states (t > 0) and float64 ones (t == 0); forces
    inside, on and outside [-1, 1]."""
    states = _states(n, rng, float32=True)
    ts = rng.integers(1, 999, n)
    ts[: n // 5] = 0
    states[: n // 5] = _states(n // 5, rng, float32=False)
    actions = rng.uniform(-3, 3, n)
    actions[:20] = [1.0, -1.0, 0.0, 1e6, -1e6] * 4
    return states, actions, ts


def test_every_continuous_transition_matches_gymnasium_bit_for_bit(continuous_car):
    """From float32 states (as Gymnasium stores them) and float64 start states, Gymnasium's
    step gives our next state, termination and (to an ulp, its a^2 is math.pow) reward."""
    env, _ = continuous_car
    states, actions, ts = _continuous_cases(5000, np.random.default_rng(8))
    nxt, rewards, terminated, obs = step_each(
        mc.make_continuous_cores, "serial", env.params, states, actions, ts
    )
    ref, ref_r, ref_term = gym_steps("MountainCarContinuous-v0", states, actions, ts)
    np.testing.assert_array_equal(nxt, ref)
    np.testing.assert_array_equal(obs, nxt)
    np.testing.assert_array_equal(terminated, ref_term)
    np.testing.assert_allclose(rewards, ref_r, rtol=1e-15, atol=1e-300)
    np.testing.assert_array_equal(rewards, np.where(terminated == 1, 100.0, 0.0) - 0.1 * actions**2)
    assert terminated.sum() > 50 and (nxt[:, 0] == F32(mc.MIN_POSITION)).sum() > 100
    assert (np.abs(actions) > 1).sum() > 2000  # the force clip was needed often
    slow = pgbench.make_env("mountaincarcontinuous-v0", goal_velocity=0.005)
    _, _, term_slow, _ = step_each(
        mc.make_continuous_cores, "serial", slow.params, states, actions, ts
    )
    _, _, ref_slow = gym_steps("MountainCarContinuous-v0", states, actions, ts, 0.005)
    np.testing.assert_array_equal(term_slow, ref_slow)
    assert 0 < term_slow.sum() < terminated.sum()


def _landing_state(target: np.float32, action: float, rng) -> np.ndarray:
    """A float32 state from which Gymnasium's step (t > 0) with ``action`` stores exactly
    the position ``target``: searched with Gymnasium, the velocity an ulp at a time from
    the one that lands there in exact arithmetic."""
    g = gym.make("MountainCarContinuous-v0").unwrapped
    g.reset(seed=0)
    force = min(max(action, -1.0), 1.0)
    for _ in range(20):
        x = F32(float(target) - rng.uniform(0.005, 0.02))
        change = force * mc.POWER - mc.GRAVITY * np.cos(3 * float(x))
        v = F32(float(target) - float(x) - change)
        for _ in range(500):
            g.state = np.array([x, v], dtype=np.float32)
            g.step(np.array([action]))
            if g.state[0] == target:
                return np.array([x, v], dtype=np.float64)
            v = np.nextafter(v, F32(np.inf) if g.state[0] < target else F32(-np.inf))
    raise AssertionError(f"no state lands on {target!r}")


def test_float32_comparisons_at_the_goal(continuous_car):
    """Where the force is clipped, Gymnasium's position is float32 and ``position >= 0.45``
    compares in float32: the float32 just below 0.45 reaches the goal; with a force inside
    [-1, 1] the step is float64 and the same comparison is float64's."""
    env, _ = continuous_car
    rng = np.random.default_rng(0)
    below = np.nextafter(F32(0.45), F32(0))
    assert float(F32(0.45)) < 0.45 and F32(0.45) >= 0.45  # numpy compares in float32
    states, actions = [], []
    for target in (F32(0.45), below):
        for action in (1.5, -1.5, 0.5):
            states.append(_landing_state(target, action, rng))
            actions.append(action)
    states, actions = np.array(states), np.array(actions)
    ts = np.ones(len(actions), np.int64)
    nxt, _, terminated, _ = step_each(
        mc.make_continuous_cores, "serial", env.params, states, actions, ts
    )
    ref, _, ref_term = gym_steps("MountainCarContinuous-v0", states, actions, ts)
    np.testing.assert_array_equal(nxt, ref)
    np.testing.assert_array_equal(terminated, ref_term)
    np.testing.assert_array_equal(nxt[:, 0], [F32(0.45)] * 3 + [below] * 3)
    # at float32(0.45) (< 0.45) a clipped force's float32 step ends the episode
    assert ref_term[:2].tolist() == [1.0, 1.0] and not ref_term[3:].any()


def test_continuous_rollouts_replay_in_gymnasium_bit_for_bit(continuous_car):
    """A Gaussian policy's episodes (forces often outside [-1, 1]; serial and parallel
    drivers alike) replayed in gym.make("MountainCarContinuous-v0"): every observation
    identical, rewards within an ulp, termination at the same step; persistent lanes
    truncate at 999."""
    env, pol = continuous_car
    batch = pgbench.rollout(env, pol, PUMP_GAUSSIAN, 32, seed=1, backend="serial")
    _assert_same_batch(batch, pgbench.rollout(env, pol, PUMP_GAUSSIAN, 32, 1, backend="parallel"))
    assert batch.actions.dtype == np.float64 and (np.abs(batch.actions) > 1).mean() > 0.2
    assert np.all(batch.lengths < 999)
    g = gym.make("MountainCarContinuous-v0")
    for e in range(batch.episodes):
        n = batch.lengths[e]
        g.reset(seed=e)
        g.unwrapped.state = batch.init_states[e].copy()
        for t in range(n):
            o, reward, terminated, truncated, _ = g.step(np.array([batch.actions[e, t]]))
            if t + 1 < n:
                np.testing.assert_array_equal(o, batch.obs[e, t + 1])
            np.testing.assert_allclose(reward, batch.rewards[e, t], rtol=1e-15, atol=1e-300)
            assert terminated == (t == n - 1) and not truncated
        assert batch.rewards[e, n - 1] > 90
    k = build(env, pol, "serial")
    lanes = k.start_lanes(env.params, 3, 2)
    still = np.array([0.0, 0.0, 0.0, np.log(0.1)])  # small forces: never out of the valley
    seg = k.segment(env.params, still, lanes, 1200, env.horizon)
    assert not seg.terminated.any() and np.array_equal(np.nonzero(seg.truncated[0])[0], [998])


# --- policies and training ------------------------------------------------------------------


def test_training_runs_on_both_cars(car, continuous_car):
    """A few thousand steps of ppo-clip with linear-softmax on the discrete car and a
    Gaussian policy on the continuous one (the policies' own tests cover the rest)."""
    settings = dict(n_envs=4, n_steps=100, batch_size=200, n_epochs=2, critic={"kind": "linear"})
    for (env, pol), low in ((car, -200), (continuous_car, -np.inf)):
        theta, history = pgbench.train(
            "ppo-clip", env, pol, 2000, seed=1, eval_episodes=2, backend="serial", **settings
        )
        assert theta.shape == (pol.n_params,) and np.all(np.isfinite(theta))
        returns = history[history["metric"] == "eval_return"]["value"].to_numpy()
        assert len(returns) and np.all((returns >= low) & (returns <= 100))


def test_both_listed_with_their_citations(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mountaincar-v0", "mountaincarcontinuous-v0", "Moore (1990)"):
        assert name in out
    assert "Gymnasium MountainCar-v0" in out and "Gymnasium MountainCarContinuous-v0" in out
