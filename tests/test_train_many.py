"""pgbench.train_many: several seeds of one configuration at once in one process, each
bit for bit what pgbench.train gives for that seed alone, whatever the thread count."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pgbench

HP = {
    "ppo-clip": dict(n_envs=4, n_steps=16, batch_size=32, n_epochs=2, critic=dict(hidden=[8])),
    "a2c": dict(n_envs=4, n_steps=5, critic=dict(hidden=[8])),
}
STEPS = 320


@pytest.fixture(scope="module")
def problem():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("mlp-softmax", env, hidden=[8])


def _without_seconds(history: pd.DataFrame) -> pd.DataFrame:
    return history[history["metric"] != "seconds"].reset_index(drop=True)


def _alone(algo, env, policy, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgbench.train(
            algo, env, policy, STEPS, seed, log_every=160, eval_episodes=2, **HP[algo]
        )


@pytest.mark.parametrize("algo", ["ppo-clip", "a2c"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_each_seed_as_alone(problem, algo, threads):
    env, policy = problem
    seeds = [4, 0, 7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = pgbench.train_many(
            algo, env, policy, STEPS, seeds, threads=threads, log_every=160, eval_episodes=2,
            **HP[algo],
        )  # fmt: skip
    assert len(many) == len(seeds)
    for seed, (theta, history) in zip(seeds, many, strict=True):
        theta1, history1 = _alone(algo, env, policy, seed)
        np.testing.assert_array_equal(theta, theta1)
        pd.testing.assert_frame_equal(_without_seconds(history), _without_seconds(history1))
        assert (history["seed"] == seed).all()


def test_bad_input_is_one_line(problem):
    env, policy = problem
    with pytest.raises(pgbench.PgbenchError, match="threads must be at least 1"):
        pgbench.train_many("a2c", env, policy, STEPS, [0], threads=0)
    with pytest.raises(pgbench.PgbenchError, match="n_envs"):
        pgbench.train_many("a2c", env, policy, STEPS, [0], n_envs=0)
    assert pgbench.train_many("a2c", env, policy, STEPS, []) == []
