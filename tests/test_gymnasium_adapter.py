"""The Gymnasium adapter: keyed resets, replay against Gymnasium itself, the kernels'
outputs on a foreign env, determinism, users' own envs, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench.cli import main
from pgbench.errors import InvalidSpecError, PgbenchError, UnknownNameError
from pgbench.kernels import build
from pgbench.kernels.keyed import episode_keys, reset_seeds
from pgbench.sampling import Sampler

SEED = 11


@pytest.fixture(scope="module")
def cartpole_gym():
    return pgbench.make_env("gymnasium", id="CartPole-v1")


@pytest.fixture(scope="module")
def linear(cartpole_gym):
    policy = pgbench.make_policy("linear-softmax", cartpole_gym)
    return policy, policy.init(3)


class Corridor(gym.Env):
    """A user's env: walk a noisy 1-D corridor to x >= 1; Box(1) observation, 2 actions."""

    def __init__(self, noise: float = 0.05):
        self.observation_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.noise = noise

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-0.5, 0.5)
        return np.array([self.x]), {}

    def step(self, action):
        self.x += (0.1 if action == 1 else -0.1) + self.noise * self.np_random.normal()
        done = self.x >= 1.0
        return np.array([self.x]), (1.0 if done else -0.01), bool(done), False, {}


class Lever(gym.Env):
    """Box(-1, 1, (2,)) actions; the reward is the first component the env received."""

    received: list = []

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        Lever.received.append(np.array(action))
        return np.zeros(3, np.float32), float(action[0]), False, False, {}


# --------------------------------------------------------------------------- against Gymnasium


def test_episodes_replay_in_gymnasium_from_their_keyed_seeds(cartpole_gym, linear):
    """Episode e starts from reset(seed=reset_seed(key(seed, e))) and its recorded actions,
    replayed in a plain gymnasium.make env, give the same observations, rewards and end."""
    policy, theta = linear
    batch = pgbench.rollout(cartpole_gym, policy, theta, episodes=6, seed=SEED)
    seeds = reset_seeds(episode_keys(SEED, np.arange(6)))
    for e in range(6):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=int(seeds[e]))
        n = int(batch.lengths[e])
        np.testing.assert_array_equal(batch.init_states[e], obs.astype(np.float64))
        for t in range(n):
            np.testing.assert_array_equal(batch.obs[e, t], obs.astype(np.float64))
            obs, r, term, trunc, _ = env.step(int(batch.actions[e, t]))
            assert batch.rewards[e, t] == r
            assert (term or trunc) == (t == n - 1)
        assert batch.mask[e, n:].sum() == 0


def test_lane_count_and_call_order_do_not_change_episodes(linear):
    policy, theta = linear
    many = pgbench.make_env("gymnasium", id="CartPole-v1", max_lanes=16)
    few = pgbench.make_env("gymnasium", id="CartPole-v1", max_lanes=3)
    a = pgbench.rollout(many, policy, theta, episodes=10, seed=SEED)
    b = pgbench.rollout(few, policy, theta, episodes=10, seed=SEED)
    pgbench.rollout(few, policy, theta, episodes=4, seed=SEED + 1)  # reuses pooled lanes
    c = pgbench.rollout(few, policy, theta, episodes=10, seed=SEED)
    for field in ("obs", "actions", "rewards", "mask", "score", "lengths"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        np.testing.assert_array_equal(getattr(b, field), getattr(c, field), err_msg=field)


def test_stream_sums_equal_the_stored_episodes(cartpole_gym, linear):
    policy, theta = linear
    gamma = cartpole_gym.gamma
    batch = pgbench.rollout(cartpole_gym, policy, theta, episodes=8, seed=SEED)
    sums = Sampler(cartpole_gym, policy).episode_sums(theta, 8, SEED)
    disc = gamma ** np.arange(batch.rewards.shape[1])
    np.testing.assert_array_equal(sums.lengths, batch.lengths)
    np.testing.assert_allclose(sums.returns, (batch.rewards * disc).sum(1), rtol=1e-12)
    np.testing.assert_allclose(sums.score_sums, batch.score.sum(1), rtol=1e-10, atol=1e-12)
    rtg = np.cumsum((batch.rewards * disc)[:, ::-1], axis=1)[:, ::-1]
    want = np.einsum("etp,et->ep", batch.score, rtg)
    np.testing.assert_allclose(sums.rtg_sums, want, rtol=1e-10, atol=1e-9)


def test_segments_keep_truncation_and_termination_apart(linear):
    policy, theta = linear
    env = pgbench.make_env("gymnasium", id="CartPole-v1", horizon=12)
    kernels = build(env, policy, "parallel")
    lanes = kernels.start_lanes(env.params, SEED, 4)
    seg = kernels.segment(env.params, theta, lanes, 40, env.horizon)
    assert seg.truncated.sum() > 0
    assert not np.any((seg.truncated > 0) & (seg.terminated > 0))
    ended = (seg.truncated + seg.terminated) > 0
    np.testing.assert_array_equal(seg.episode_lengths > 0, ended)
    assert seg.episode_lengths.max() <= 12
    trunc = seg.truncated > 0
    assert np.all(np.abs(seg.final_obs[trunc]).sum(axis=1) > 0)
    assert np.all(seg.final_obs[~trunc] == 0)
    assert np.all(seg.episode_lengths[trunc] == 12)


# --------------------------------------------------------------------------- the API and suites


def test_train_on_a_gymnasium_id_is_deterministic(cartpole_gym):
    policy = pgbench.make_policy("mlp-softmax", cartpole_gym, hidden=[8])
    runs = [
        pgbench.train(
            "ppo-clip",
            cartpole_gym,
            policy,
            env_steps=2048,
            seed=4,
            n_envs=4,
            n_steps=64,
            batch_size=64,
            log_every=1024,
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    curves = [r[1][r[1].metric != "seconds"].reset_index(drop=True) for r in runs]
    pd.testing.assert_frame_equal(curves[0], curves[1])
    assert set(curves[0].metric) >= {"train_return", "eval_return"}


def test_a_users_env_subclass_estimates_and_trains():
    env = pgbench.from_gymnasium(Corridor, name="corridor", horizon=60, gamma=0.95)
    assert (env.obs_dim, env.n_actions, env.horizon) == (1, 2, 60)
    policy = pgbench.make_policy("linear-softmax", env)
    theta = policy.init(0)
    g1 = pgbench.estimate("reward-to-go", env, policy, theta, episodes=64, seed=5)
    g2 = pgbench.estimate("reward-to-go", env, policy, theta, episodes=64, seed=5)
    np.testing.assert_array_equal(g1, g2)
    theta_end, curve = pgbench.train(
        "reinforce",
        env,
        policy,
        env_steps=3000,
        seed=1,
        episodes=8,
        log_every=1000,
    )
    assert np.all(np.isfinite(theta_end)) and (curve.metric == "train_return").any()


def test_box_actions_are_clipped_for_the_env_and_stored_as_sampled():
    env = pgbench.from_gymnasium(Lever, name="lever", horizon=5)
    assert env.action_dim == 2 and env.continuous
    np.testing.assert_array_equal(env.action_low, [-1.0, -1.0])
    policy = pgbench.make_policy("gaussian", env, log_std_init=1.0)
    Lever.received.clear()
    batch = pgbench.rollout(env, policy, policy.init(0), episodes=4, seed=SEED)
    assert batch.actions.shape == (4, 5, 2)
    assert np.abs(batch.actions).max() > 1.0  # sampled beyond the bounds
    got = np.concatenate([np.asarray(a, np.float64)[None] for a in Lever.received])
    assert np.abs(got).max() <= 1.0
    np.testing.assert_allclose(
        np.sort(batch.rewards.ravel()),
        np.sort(np.clip(batch.actions[..., 0], -1, 1).astype(np.float32).ravel()),
    )


def test_a_discrete_observation_space_fits_tabular_policies():
    env = pgbench.make_env("gymnasium", id="FrozenLake-v1", kwargs={"is_slippery": True})
    assert env.n_states == 16 and env.obs_dim == 1
    policy = pgbench.make_policy("tabular-softmax", env)
    g = pgbench.estimate("reinforce", env, policy, policy.init(0), episodes=32, seed=2)
    assert g.shape == (64,) and np.all(np.isfinite(g))


def test_async_lanes_give_the_episodes_sync_lanes_give(linear):
    policy, theta = linear
    sync = pgbench.make_env("gymnasium", id="CartPole-v1", max_lanes=2)
    async_ = pgbench.make_env("gymnasium", id="CartPole-v1", max_lanes=2, vectorization="async")
    a = pgbench.rollout(sync, policy, theta, episodes=3, seed=SEED)
    b = pgbench.rollout(async_, policy, theta, episodes=3, seed=SEED)
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.actions, b.actions)


SUITE = """\
name: gym-suite
experiment: {experiment}
seeds: 2
{extra}
envs:
  - name: gymnasium
    label: cartpole-gym
    params: {{id: CartPole-v1, kwargs: {{sutton_barto_reward: false}}}}
  - name: gymnasium
    label: corridor
    params: {{entry_point: "test_gymnasium_adapter:Corridor", horizon: 40}}
policies:
  - {{name: linear-softmax, label: linear}}
{methods}
"""


@pytest.mark.parametrize(
    "experiment, extra, methods",
    [
        (
            "learning-curve",
            "env_steps: 1500\nlog_every: 500\neval_episodes: 2",
            "algorithms:\n  - {name: reinforce, params: {episodes: 8}}",
        ),
        (
            "gradient-quality",
            "batch_sizes: [4, 8]\nrepeats: 3\nreference_episodes: 32",
            "estimators:\n  - {name: reinforce}\n  - {name: reward-to-go}",
        ),
    ],
)
def test_a_suite_of_gymnasium_envs_gives_the_same_table_with_any_executor(
    tmp_path, monkeypatch, experiment, extra, methods
):
    here = str(Path(__file__).parent)  # the entry point names this module
    monkeypatch.syspath_prepend(here)
    monkeypatch.setenv("PYTHONPATH", here)
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(experiment=experiment, extra=extra, methods=methods))
    tables = []
    for executor in ("serial", "local"):
        out = tmp_path / executor
        argv = ["run", str(suite), "--out", str(out), "--quiet", "--executor", executor]
        assert main(argv) == 0
        table = pgbench.load_results(out)
        assert set(table.env_label) == {"cartpole-gym", "corridor"}
        keep = table[table.metric != "seconds"].drop(columns=["seconds"], errors="ignore")
        tables.append(keep.sort_values(list(keep.columns[:8])).reset_index(drop=True))
    assert len(tables[0]) > 0
    pd.testing.assert_frame_equal(tables[0], tables[1])


# --------------------------------------------------------------------------- one-line errors


class NoSpaces(gym.Env):
    def reset(self, *, seed=None, options=None):
        return np.zeros(1), {}


class DictObs(Corridor):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Dict({"x": gym.spaces.Discrete(2)})


class MultiDiscreteActions(Corridor):
    def __init__(self):
        super().__init__()
        self.action_space = gym.spaces.MultiDiscrete([2, 3])


def broken():
    raise RuntimeError("no display\nsecond line")


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (42, {}, "needs a callable returning a gymnasium.Env, got int"),
        (lambda: object(), {}, "returned object, not a gymnasium.Env"),
        (NoSpaces, {"horizon": 5}, "has no observation_space"),
        (DictObs, {"horizon": 5}, r"observation space Dict.* is not supported"),
        (MultiDiscreteActions, {"horizon": 5}, r"action space MultiDiscrete\(2,\) is not"),
        (broken, {}, "the environment factory raised RuntimeError: no display$"),
        (Corridor, {}, "has no max_episode_steps: give a horizon"),
        (Corridor, {"horizon": 5, "vectorization": "vector"}, "vectorization must be one"),
    ],
)
def test_foreign_objects_give_one_line_errors(factory, kwargs, match):
    with pytest.raises(InvalidSpecError, match=match) as info:
        pgbench.from_gymnasium(factory, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"id": "CartPol-v1"}, "gymnasium has no environment 'CartPol-v1'; did you mean"),
        ({}, "exactly one of 'id' and 'entry_point'"),
        ({"id": "CartPole-v1", "entry_point": "a:B"}, "exactly one of"),
        ({"entry_point": "nowhere"}, "must look like 'package.module:Class'"),
        ({"entry_point": "math:NoSuchEnv"}, "cannot load entry_point 'math:NoSuchEnv'"),
    ],
)
def test_bad_gymnasium_params_give_one_line_errors(params, match):
    with pytest.raises(PgbenchError, match=match) as info:
        pgbench.make_env("gymnasium", **params)
    assert "\n" not in str(info.value)


def test_gymnasium_spellings_of_native_envs_say_which_name_to_use():
    with pytest.raises(UnknownNameError, match="native core of it is 'cartpole-v1'"):
        pgbench.make_env("CartPole-v1")
    with pytest.raises(UnknownNameError, match=r"use \{name: gymnasium, params: \{id: Frozen"):
        pgbench.make_env("FrozenLake8x8-v1")


def test_policy_that_does_not_fit_the_env_is_refused(cartpole_gym):
    acrobot = pgbench.make_env("gymnasium", id="Acrobot-v1")
    policy = pgbench.make_policy("linear-softmax", cartpole_gym)
    with pytest.raises(InvalidSpecError, match="does not fit environment"):
        pgbench.rollout(acrobot, policy, policy.init(0), episodes=1, seed=0)
