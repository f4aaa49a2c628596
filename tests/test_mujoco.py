"""MuJoCo through the Gymnasium adapter (the ``mujoco`` extra; skipped only where it is
not installed): a 6-dimensional Box action, keyed episodes that replay in Gymnasium, and
PPO with observation / reward normalisation, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mujoco", reason="the mujoco extra is not installed (pip install .[mujoco])")

import gymnasium as gym  # noqa: E402

import pgbench  # noqa: E402
from pgbench.kernels.keyed import episode_keys, reset_seeds  # noqa: E402

ID = "HalfCheetah-v5"


@pytest.fixture(scope="module")
def cheetah():
    return pgbench.make_env("gymnasium", id=ID, horizon=50)


def test_a_mujoco_env_has_its_box_action_and_replays_in_gymnasium(cheetah):
    assert (cheetah.obs_dim, cheetah.action_dim) == (17, 6)
    policy = pgbench.make_policy("gaussian", cheetah, hidden=[16], activation="relu")
    batch = pgbench.rollout(cheetah, policy, policy.init(0), episodes=2, seed=3)
    assert batch.actions.shape == (2, 50, 6)
    seed = int(reset_seeds(episode_keys(3, np.array([1])))[0])
    env = gym.make(ID, max_episode_steps=50)
    obs, _ = env.reset(seed=seed)
    for t in range(50):
        np.testing.assert_array_equal(batch.obs[1, t], obs)
        action = np.clip(batch.actions[1, t], -1.0, 1.0).astype(np.float32)  # as the lanes
        obs, r, term, trunc, _ = env.step(action)
        assert batch.rewards[1, t] == r
    assert trunc and not term


def test_ppo_with_normalisation_trains_on_mujoco_deterministically(cheetah):
    policy = pgbench.make_policy("gaussian", cheetah, hidden=[16], activation="relu")
    kwargs = dict(
        env_steps=512,
        seed=1,
        n_envs=2,
        n_steps=64,
        batch_size=64,
        n_epochs=2,
        normalize={"obs": True, "reward": True},
        log_every=256,
        eval_episodes=1,
        critic={"hidden": [16], "activation": "relu"},
    )
    runs = [pgbench.train("ppo-clip", cheetah, policy, **kwargs) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    curves = [r[1][r[1].metric != "seconds"].reset_index(drop=True) for r in runs]
    pd.testing.assert_frame_equal(curves[0], curves[1])
    assert np.isfinite(curves[0][curves[0].metric == "eval_return"].value).all()
