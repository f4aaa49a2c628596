"""Env steps per update (pgbench.algorithms.budget): hand-counted cases, and every
algorithm's first update spends a number of steps inside its (fewest, most)."""

from __future__ import annotations

import pytest

import pgbench
from pgbench.algorithms.api import train_run
from pgbench.algorithms.budget import MIN_UPDATES, budget_warning, steps_per_update
from pgbench.errors import InvalidSpecError
from pgbench.registry import ALGORITHMS


@pytest.fixture(scope="module")
def garnet6():
    """The issue's problem: 6 states, 3 actions, horizon 30 (P = 18 logits)."""
    env = pgbench.make_env("garnet", n_states=6, n_actions=3, horizon=30, seed=0)
    return env, pgbench.make_policy("tabular-softmax", env)


def test_segment_algorithms_spend_n_envs_times_n_steps(garnet6):
    env, pol = garnet6
    assert steps_per_update("a2c", env) == (40, 40)  # defaults 8 x 5
    assert steps_per_update("ppo-clip", env, n_envs=4, n_steps=32) == (128, 128)
    assert steps_per_update("trpo", env, policy=pol) == (8 * 256, 8 * 256)
    assert steps_per_update("a3c", env, n_workers=4, n_envs=2, n_steps=5) == (10, 10)


def test_episode_algorithms_spend_one_to_horizon_steps_per_episode(garnet6):
    env, _ = garnet6
    assert steps_per_update("reinforce", env, episodes=10) == (10, 300)


@pytest.mark.parametrize(
    ("name", "params", "episodes_spent"),
    [
        # P = 18: central k = 36, 64 // 36 = 1 episode each; forward k = 19, 3 each
        ("fd-ascent", {"episodes": 64, "scheme": "central"}, 36),
        ("fd-ascent", {"episodes": 64, "scheme": "forward"}, 57),
        # regression: k = m + 1; m = 2P = 36 -> 37 x 1; m = 10 -> 11 x 5
        ("fd-regression-ascent", {"episodes": 64}, 37),
        ("fd-regression-ascent", {"episodes": 64, "perturbations": 10}, 55),
    ],
)
def test_finite_differences_spend_every_evaluations_episodes(garnet6, name, params, episodes_spent):
    env, pol = garnet6
    assert steps_per_update(name, env, policy=pol, **params) == (
        episodes_spent,
        episodes_spent * 30,
    )


def test_finite_differences_without_the_parameter_count_are_bounded(garnet6):
    env, _ = garnet6
    # k unknown: the least (64 // k) * k over k <= 64 is 33 (k = 33)
    assert steps_per_update("fd-ascent", env, episodes=64) == (33, 64 * 30)
    assert min((64 // k) * k for k in range(1, 65)) == 33
    # m given: k = m + 1 is known without P
    assert steps_per_update("fd-regression-ascent", env, episodes=64, perturbations=10) == (
        55,
        55 * 30,
    )


def test_too_few_episodes_and_bad_params_are_one_line_errors(garnet6):
    env, pol = garnet6
    with pytest.raises(InvalidSpecError, match="at least 36 episodes") as info:
        steps_per_update("fd-ascent", env, policy=pol, episodes=20, scheme="central")
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidSpecError, match="n_envs"):
        steps_per_update("a2c", env, n_envs=0)


def test_every_algorithm_answers_with_its_defaults(garnet6):
    env, pol = garnet6
    for name in ALGORITHMS.names():
        fewest, most = steps_per_update(name, env, policy=pol)
        assert isinstance(fewest, int) and isinstance(most, int)
        assert 1 <= fewest <= most, name


@pytest.mark.filterwarnings("ignore::pgbench.errors.PgbenchWarning")  # a 1-step budget
@pytest.mark.parametrize("name", sorted(ALGORITHMS.names()))
def test_the_first_update_spends_steps_within_the_bounds(name, garnet):
    """A budget of 1 env step buys exactly one update (one per thread for a3c): the
    steps it spent lie in [fewest, most]."""
    env, pol = garnet
    has_critic = "critic" in ALGORITHMS.get(name).params.model_fields
    params = {"critic": {"kind": "tabular"}} if has_critic else {}
    if name == "a3c":
        params["n_workers"] = 1
    fewest, most = steps_per_update(name, env, policy=pol, **params)
    run = train_run(name, env, pol, 1, seed=0, eval_episodes=0, **params)
    assert fewest <= run.env_steps <= most, (fewest, run.env_steps, most)


def test_budget_warning_below_a_handful_of_updates():
    assert budget_warning("fd-ascent", MIN_UPDATES * 1080, 1080, 1080) is None
    msg = budget_warning("fd-ascent", 4000, 1080, 32400)
    assert msg is not None and "\n" not in msg
    assert "at most 3 complete updates" in msg and "1080-32400" in msg
    assert "(40 env steps each)" in budget_warning("a2c", 100, 40, 40)


def test_train_warns_in_one_line_when_the_budget_buys_few_updates():
    """The Python API says so (PgbenchWarning) where a suite would print its warning."""
    import warnings

    from pgbench.errors import PgbenchWarning

    env = pgbench.make_env("garnet", n_states=6, n_actions=3, horizon=30, seed=0)
    policy = pgbench.make_policy("tabular-softmax", env)
    with pytest.warns(PgbenchWarning, match="buys at most 2 complete updates") as caught:
        pgbench.train("ppo-clip", env, policy, env_steps=3000, seed=0)
    assert all("\n" not in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PgbenchWarning)  # a budget of many updates: silent
        pgbench.train("ppo-clip", env, policy, env_steps=6000, seed=0)
