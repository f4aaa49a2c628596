"""Acrobot-v1 against Gymnasium's implementation, step for step.

The cores are compiled inside small test loops (:mod:`tests.classic_control_harness`),
so one step can be taken from any state and the states of a rollout recovered (a
rollout stores observations). Only the last bits may differ from Gymnasium (sin / cos
are pgbench's own, squares are ``x * x`` where Gymnasium's ``x**2`` is libm's pow), and
four RK4 stages amplify them a little; the dynamics are chaotic, so one step from the
same state is compared to a tight tolerance, and whole episodes where the two
trajectories stay close.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control import acrobot as gym_acrobot

import pgbench
from pgbench.cli import main
from pgbench.envs import acrobot as ac
from pgbench.errors import InvalidSpecError
from pgbench.kernels.build import build
from tests.classic_control_harness import episode_keys, harness, reset_each, step_each, trajectory

# One step from the same state, states along our episodes (measured: within 4e-15).
STEP_RTOL, STEP_ATOL = 1e-14, 1e-14
# ... and from states anywhere in the box, speeds up to the bounds, where the last bits
# are amplified more (measured: 4e-14 in the angles, 5e-12 in the speeds, about 1500 ulp
# of 9 pi).
BOX_RTOL, BOX_ATOL = 1e-12, 2e-11
OBS_DIM = 6
# Linear-softmax logits (3, 7) = +-3 dtheta2 for the torques -1 / +1: the torque follows
# the second link's swing, which pumps energy in (episodes of 66-210 steps).
PUMP_THETA = np.zeros((3, 7))
PUMP_THETA[0, 5], PUMP_THETA[2, 5] = -3.0, 3.0
PUMP_THETA = PUMP_THETA.ravel()
# The opposite damps the swing: episodes run to the truncation.
DAMP_THETA = -PUMP_THETA


def gym_acrobot_env():
    return gym.make("Acrobot-v1").unwrapped


@pytest.fixture(scope="module")
def acrobot():
    env = pgbench.make_env("acrobot-v1")
    return env, pgbench.make_policy("linear-softmax", env)


@pytest.fixture(scope="module")
def pump_batch(acrobot):
    """64 terminating episodes of the pumping policy (the same from the serial and the
    parallel CPU drivers) and every state they visit."""
    env, pol = acrobot
    batch = pgbench.rollout(env, pol, PUMP_THETA, 64, seed=3, backend="serial")
    parallel = pgbench.rollout(env, pol, PUMP_THETA, 64, seed=3, backend="parallel")
    for field in ("init_states", "obs", "actions", "rewards", "mask", "score", "lengths"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(parallel, field))
    states, obs, rewards, terminated = trajectory(
        ac.make_cores, "serial", env.params, batch.init_states, batch.actions, OBS_DIM
    )
    return batch, states, obs, rewards, terminated


def gym_steps(states, actions, noise_draws=None, torque_noise_max=0.0):
    """Gymnasium's step from each row of states (N, 4): (next states, rewards,
    terminated, float32 observations). ``noise_draws`` (N,): the uniforms its torque noise
    takes instead of its own generator's."""
    g = gym_acrobot_env()
    g.reset(seed=0)
    g.torque_noise_max = torque_noise_max
    out = np.zeros_like(states), np.zeros(len(actions)), np.zeros(len(actions)), []
    for i in range(len(actions)):
        if noise_draws is not None:
            g.np_random = FixedUniform(noise_draws[i])
        g.state = states[i].copy()
        obs, reward, terminated, truncated, _ = g.step(int(actions[i]))
        assert not truncated
        out[0][i], out[1][i], out[2][i] = g.state, reward, terminated
        out[3].append(obs)
    return out[0], out[1], out[2], np.array(out[3])


class FixedUniform:
    """A stand-in for Gymnasium's generator: ``uniform(low, high)`` with a given u."""

    def __init__(self, u: float):
        self.u = u

    def uniform(self, low, high):
        return low + (high - low) * self.u


def test_constants_and_fields_match_gymnasium(acrobot):
    env, _ = acrobot
    g = gym_acrobot_env()
    assert (g.dt, g.LINK_LENGTH_1, g.LINK_MASS_1, g.LINK_MASS_2) == (ac.DT, ac.L1, ac.M1, ac.M2)
    assert (g.LINK_COM_POS_1, g.LINK_COM_POS_2, g.LINK_MOI) == (ac.LC1, ac.LC2, ac.I1)
    assert ac.I1 == ac.I2 == g.LINK_MOI
    assert (g.MAX_VEL_1, g.MAX_VEL_2) == (ac.MAX_VEL_1, ac.MAX_VEL_2)
    assert g.AVAIL_TORQUE == [a - 1.0 for a in range(3)]
    assert g.book_or_nips == "book" and g.torque_noise_max == 0.0
    assert gym.spec("Acrobot-v1").max_episode_steps == ac.MAX_STEPS == env.horizon == 500
    assert g.action_space.n == env.n_actions == 3 and g.observation_space.shape == (OBS_DIM,)
    assert (env.state_dim, env.obs_dim, env.n_states, env.continuous) == (4, 6, None, False)
    assert env.gamma == 0.99 and env.params.tolist() == [0.0]
    custom = pgbench.make_env("acrobot-v1", torque_noise_max=0.5, gamma=0.9, horizon=50)
    assert custom.params.tolist() == [0.5] and (custom.gamma, custom.horizon) == (0.9, 50)
    assert custom.describe() == "acrobot-v1(torque_noise_max=0.5,gamma=0.9,horizon=50)"


@pytest.mark.parametrize(
    "params, word",
    [
        ({"torque_noise_max": -0.1}, "torque_noise_max"),
        ({"torque_noise_max": float("nan")}, "torque_noise_max"),
        ({"torque_noise_max": "0.1"}, "torque_noise_max"),
        ({"gamma": 1.5}, "gamma"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_bad_parameters_are_rejected(params, word):
    with pytest.raises(InvalidSpecError, match=word) as info:
        pgbench.make_env("acrobot-v1", **params)
    assert "\n" not in str(info.value)


def test_wrap_and_bound_are_gymnasiums():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-30, 30, 2000), [np.pi, -np.pi, 3 * np.pi, 0.0, -0.0]])
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    h = harness(ac.make_cores, "serial").lib
    wrap, bound = h.jit(ac.wrap), h.jit(ac.bound)
    for v in x.tolist():
        assert wrap(v, -np.pi, np.pi) == ac.wrap(v, -np.pi, np.pi)
        assert ac.wrap(v, -np.pi, np.pi) == gym_acrobot.wrap(v, -np.pi, np.pi)
        assert bound(v, -4 * np.pi, 4 * np.pi) == gym_acrobot.bound(v, -4 * np.pi, 4 * np.pi)


def _box_states(n: int, rng) -> np.ndarray:
    """States anywhere in the box: angles in [-pi, pi], speeds up to (and at) the bounds."""
    s = np.column_stack(
        [
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(-ac.MAX_VEL_1, ac.MAX_VEL_1, n),
            rng.uniform(-ac.MAX_VEL_2, ac.MAX_VEL_2, n),
        ]
    )
    s[:40, 2] = [ac.MAX_VEL_1, -ac.MAX_VEL_1] * 20
    s[40:80, 3] = [ac.MAX_VEL_2, -ac.MAX_VEL_2] * 20
    return s


def _assert_steps_match(
    env, states, actions, ts=None, keys=None, noise_draws=None, tol=(STEP_RTOL, STEP_ATOL)
):
    rtol, atol = tol
    nxt, rewards, terminated, obs = step_each(
        ac.make_cores, "serial", env.params, states, actions, ts, keys, OBS_DIM
    )
    ref, ref_r, ref_term, ref_obs32 = gym_steps(
        states, actions, noise_draws, float(env.params[ac.PARAM_NOISE])
    )
    np.testing.assert_allclose(nxt, ref, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(terminated, ref_term)
    np.testing.assert_array_equal(rewards, ref_r)
    np.testing.assert_array_equal(rewards, np.where(terminated == 1, 0.0, -1.0))
    # the speed bounds are exact: the same steps end at exactly the bound
    for k, bound in ((2, ac.MAX_VEL_1), (3, ac.MAX_VEL_2)):
        np.testing.assert_array_equal(np.abs(nxt[:, k]) == bound, np.abs(ref[:, k]) == bound)
    assert np.abs(nxt[:, :2]).max() <= np.pi
    c, s = np.cos(ref[:, :2]), np.sin(ref[:, :2])
    expected_obs = np.column_stack([c[:, 0], s[:, 0], c[:, 1], s[:, 1], ref[:, 2], ref[:, 3]])
    np.testing.assert_allclose(obs, expected_obs, rtol=rtol, atol=atol)
    np.testing.assert_allclose(obs.astype(np.float32), ref_obs32, rtol=1e-6, atol=1e-6)
    return nxt, ref, terminated


def test_every_transition_along_trajectories_matches_gymnasium(acrobot, pump_batch):
    """From every state of 64 episodes of our drivers, Gymnasium's step with our action
    gives our next state, reward and termination (a 1-step comparison: rounding does not
    accumulate); the harness replays the drivers' episodes exactly."""
    env, _ = acrobot
    batch, states, obs, rewards, terminated = pump_batch
    rows, acts, ts = [], [], []
    for e in range(batch.episodes):
        n = batch.lengths[e]
        np.testing.assert_array_equal(obs[e, :n], batch.obs[e, :n])
        np.testing.assert_array_equal(rewards[e, :n], batch.rewards[e, :n])
        assert terminated[e, n - 1] == (n < ac.MAX_STEPS) and not terminated[e, : n - 1].any()
        rows.append(states[e, :n])
        acts.append(batch.actions[e, :n])
        ts.append(np.arange(n))
    all_states, all_actions = np.concatenate(rows), np.concatenate(acts)
    assert len(all_actions) > 5000
    _, _, term = _assert_steps_match(env, all_states, all_actions, np.concatenate(ts))
    assert term.sum() == batch.episodes  # every episode terminates, and at its last step


def test_every_transition_from_anywhere_matches_gymnasium(acrobot):
    """States anywhere in the box, speeds at and near the bounds, where wrap and bound act
    and termination is frequent."""
    env, _ = acrobot
    rng = np.random.default_rng(42)
    states = _box_states(4000, rng)
    actions = rng.integers(0, 3, len(states))
    nxt, ref, term = _assert_steps_match(env, states, actions, tol=(BOX_RTOL, BOX_ATOL))
    assert 0.05 < term.mean() < 0.5
    assert (np.abs(ref[:, 2]) == ac.MAX_VEL_1).sum() > 200
    assert (np.abs(ref[:, 3]) == ac.MAX_VEL_2).sum() > 200
    assert (np.abs(states[:, :2] + states[:, 2:] * ac.DT) > np.pi).mean() > 0.3  # wraps


def test_torque_noise_is_a_keyed_step_draw(acrobot):
    """torque_noise_max n: Gymnasium's torque + U(-n, n), the uniform being the step's draw
    k = 1 of the episode's stream (Gymnasium's generator replaced by that draw)."""
    env = pgbench.make_env("acrobot-v1", torque_noise_max=0.7)
    rng = np.random.default_rng(5)
    states = _box_states(500, rng) * 0.5
    actions = rng.integers(0, 3, len(states))
    keys, ts = episode_keys(17, len(states)), rng.integers(0, 500, len(states))
    lib = harness(ac.make_cores, "serial").lib
    # (from Python the counter comes back as an int: made a uint64 again)
    counters = [np.uint64(lib.step_counter(t, ac.NOISE_DRAW)) for t in ts.tolist()]
    u = np.array([lib.uniform(k, c) for k, c in zip(keys, counters, strict=True)])
    nxt, _, _ = _assert_steps_match(
        env, states, actions, ts, keys, noise_draws=u, tol=(BOX_RTOL, BOX_ATOL)
    )
    quiet, _, _, _ = step_each(
        ac.make_cores, "serial", acrobot[0].params, states, actions, ts, keys, OBS_DIM
    )
    assert np.abs(nxt - quiet).max() > 1e-3  # the noise does act


def test_whole_episodes_end_at_the_same_step_in_gymnasium(pump_batch):
    """Our episodes' actions replayed in gym.make("Acrobot-v1") from our start states: the
    trajectories drift apart (chaos amplifies last-bit differences: measured 1e-14 after
    50 steps, up to 1e-3 after 200), and every episode that stays within 1e-8 of ours
    terminates at the same step (measured: all 64 do, 61 within 1e-8)."""
    batch, states, _, _, _ = pump_batch
    env = gym.make("Acrobot-v1")
    close = 0
    for e in range(batch.episodes):
        n = batch.lengths[e]
        env.reset(seed=e)
        env.unwrapped.state = batch.init_states[e].copy()
        drift = 0.0
        for t in range(n):
            _, reward, terminated, truncated, _ = env.step(int(batch.actions[e, t]))
            drift = max(drift, np.abs(env.unwrapped.state - states[e, t + 1]).max())
            if drift < 1e-8:
                assert terminated == (t == n - 1) and reward == batch.rewards[e, t], (e, t)
            if terminated or truncated:
                break
        close += drift < 1e-8
    assert close >= 56


def test_reset_draws_and_distribution(acrobot):
    """Each of the 4 variables float32(-0.1 + 0.2 u_k), u_k the episode's reset draws:
    Gymnasium's U(-0.1, 0.1) rounded to float32 (``.astype(np.float32)``)."""
    env, pol = acrobot
    n = 4000
    keys = episode_keys(9, n)
    s, obs = reset_each(ac.make_cores, "serial", env.params, keys, 4, OBS_DIM)
    lib = harness(ac.make_cores, "serial").lib
    u = np.array([[lib.uniform(key, np.uint64(k)) for k in range(4)] for key in keys])
    np.testing.assert_array_equal(s, (-0.1 + 0.2 * u).astype(np.float32).astype(np.float64))
    assert s.min() >= -0.1 and s.max() <= 0.1
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=4 * 0.2 / np.sqrt(12 * n))
    np.testing.assert_allclose(s.var(axis=0), 0.04 / 12, rtol=0.1)
    c, sn = np.cos(s[:, :2]), np.sin(s[:, :2])
    expected = np.column_stack([c[:, 0], sn[:, 0], c[:, 1], sn[:, 1], s[:, 2], s[:, 3]])
    np.testing.assert_allclose(obs, expected, rtol=1e-15, atol=1e-15)
    g = gym_acrobot_env()
    for i in range(200):
        g.reset(seed=i)
        assert g.state.dtype == np.float32 and np.abs(g.state).max() <= 0.1
    # the drivers start their episodes from the same draws
    batch = pgbench.rollout(env, pol, PUMP_THETA, 50, seed=9, horizon=1, backend="serial")
    np.testing.assert_array_equal(batch.init_states, s[:50])


def test_truncation_at_500_and_persistent_lanes(acrobot):
    env, pol = acrobot
    batch = pgbench.rollout(env, pol, DAMP_THETA, 8, seed=2, backend="serial")
    assert np.all(batch.lengths == 500) and np.all(batch.mask == 1.0)
    assert np.all(batch.rewards == -1.0)
    k = build(env, pol, "serial")
    lanes = k.start_lanes(env.params, 3, 4)
    seg = k.segment(env.params, DAMP_THETA, lanes, 1100, env.horizon)
    assert not seg.terminated.any()
    assert np.array_equal(np.nonzero(seg.truncated[0])[0], [499, 999])
    np.testing.assert_array_equal(seg.episode_returns[:, 499], -500.0)


def test_policies_and_training_run_on_it(acrobot):
    """linear-softmax and mlp-softmax fit; a few thousand steps of ppo-clip run."""
    env, linear = acrobot
    mlp = pgbench.make_policy("mlp-softmax", env, hidden=[8])
    batch = pgbench.rollout(env, mlp, mlp.init(0), 4, seed=0, horizon=50, backend="serial")
    assert batch.obs.shape == (4, 50, OBS_DIM) and set(np.unique(batch.actions)) <= {0, 1, 2}
    theta, history = pgbench.train(
        "ppo-clip",
        env,
        linear,
        2000,
        seed=1,
        eval_episodes=2,
        backend="serial",
        n_envs=4,
        n_steps=100,
        batch_size=200,
        n_epochs=2,
        critic={"kind": "linear"},
    )
    assert theta.shape == (linear.n_params,) and np.all(np.isfinite(theta))
    returns = history[history["metric"] == "eval_return"]["value"]
    assert len(returns) and np.all((returns >= -500) & (returns <= 0))


def test_listed_with_its_citation(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "acrobot-v1" in out and "Sutton (1996)" in out and "Gymnasium Acrobot-v1" in out
