"""Every algorithm improves the exact value of a small MDP within a short budget,
and the training API behaves (history table, determinism, errors)."""

from __future__ import annotations

import numpy as np
import pytest

import pgbench
from pgbench.algorithms.api import history_frame, train_run
from pgbench.errors import InvalidSpecError
from pgbench.exact import exact_objective, optimal_value
from pgbench.registry import ALGORITHMS
from pgbench.results import COLUMNS

TABULAR = {"critic": {"kind": "tabular"}}
# Short, fast settings per algorithm on the garnet fixture (5 states, 3 actions, H = 12).
SETTINGS = {
    "reinforce": dict(episodes=16, optimizer={"kind": "adam", "lr": 0.1}),
    "fd-ascent": dict(episodes=64, delta=0.2, optimizer={"kind": "adam", "lr": 0.1}),
    "fd-regression-ascent": dict(episodes=64, scale=0.2, optimizer={"kind": "adam", "lr": 0.1}),
    "a2c": dict(n_envs=8, n_steps=12, optimizer={"kind": "adam", "lr": 0.05}, **TABULAR),
    "a3c": dict(
        n_workers=2, n_envs=4, n_steps=12, optimizer={"kind": "adam", "lr": 0.05}, **TABULAR
    ),
    "td-ac": dict(
        n_envs=8,
        n_steps=4,
        actor={"kind": "sgd", "lr": 0.5},
        critic_optimizer={"kind": "sgd", "lr": 0.5},
        **TABULAR,
    ),
    "q-ac": dict(
        n_envs=8,
        n_steps=4,
        actor={"kind": "sgd", "lr": 0.2},
        critic_optimizer={"kind": "sgd", "lr": 0.5},
        **TABULAR,
    ),
    "npg": dict(n_envs=8, n_steps=48, max_kl=0.05, **TABULAR),
    "trpo": dict(n_envs=8, n_steps=48, max_kl=0.05, **TABULAR),
    "ppo-clip": dict(
        n_envs=8,
        n_steps=24,
        batch_size=64,
        n_epochs=4,
        optimizer={"kind": "adam", "lr": 0.05},
        **TABULAR,
    ),
    "ppo-kl": dict(
        n_envs=8,
        n_steps=24,
        batch_size=64,
        n_epochs=4,
        optimizer={"kind": "adam", "lr": 0.05},
        **TABULAR,
    ),
}
BUDGET = 12_000


def test_every_registered_algorithm_is_tested():
    assert set(SETTINGS) == set(ALGORITHMS.names())


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_algorithm_improves_the_exact_value(name, garnet):
    env, pol = garnet
    theta0 = pol.init(0)
    start = exact_objective(env, pol, theta0)
    best = optimal_value(env)
    run = train_run(
        name, env, pol, BUDGET, seed=1, theta0=theta0, eval_episodes=0, **SETTINGS[name]
    )
    end = exact_objective(env, pol, run.theta)
    assert run.env_steps >= BUDGET
    # at least 45% of the way from the initial value to the optimum (observed: 50% for
    # the finite differences, 80-99% for the others)
    assert end - start > 0.45 * (best - start), (start, end, best)


@pytest.mark.parametrize("name", ["fd-ascent", "fd-regression-ascent"])
def test_finite_difference_defaults_make_progress(name, garnet):
    """Default hyperparameters, not tuned to this problem: 15k env steps (21 updates,
    each 2P = 30 or 2P + 1 = 31 evaluations of 2 episodes) close most of the gap
    (observed 67-74 % over seeds 1-3; the former defaults, delta / scale 0.05 and
    Adam lr 0.01, closed 1-6 %)."""
    env, pol = garnet
    theta0 = pol.init(0)
    start, best = exact_objective(env, pol, theta0), optimal_value(env)
    run = train_run(name, env, pol, 15_000, seed=1, theta0=theta0, eval_episodes=0)
    end = exact_objective(env, pol, run.theta)
    assert end - start > 0.5 * (best - start), (start, end, best)


def test_history_is_a_tidy_table(garnet):
    env, pol = garnet
    run = train_run(
        "a2c", env, pol, 2000, seed=0, log_every=500, eval_episodes=4, **SETTINGS["a2c"]
    )
    df = history_frame(run, "a2c", SETTINGS["a2c"])
    assert set(df["x_name"]) == {"env_steps"}
    xs = sorted(set(df["x"]))
    assert xs[0] == 0 and xs[-1] >= 2000 and len(xs) >= 5
    exact = df[df["metric"] == "exact_value"]["value"].to_numpy()
    assert np.all(np.isfinite(exact))
    opt = df[df["metric"] == "optimal_value"]["value"].to_numpy()
    assert np.allclose(opt, optimal_value(env))
    assert np.all(exact <= opt + 1e-12)


@pytest.mark.parametrize("name", ["ppo-clip", "reinforce", "a2c"])
def test_training_is_deterministic_under_a_seed(name, garnet):
    env, pol = garnet
    a = train_run(name, env, pol, 1500, seed=4, eval_episodes=2, **SETTINGS[name])
    b = train_run(name, env, pol, 1500, seed=4, eval_episodes=2, **SETTINGS[name])
    np.testing.assert_array_equal(a.theta, b.theta)
    assert [r for r in a.rows if r[1] != "seconds"] == [r for r in b.rows if r[1] != "seconds"]


def test_a3c_is_statistically_like_a2c(garnet):
    """A3C's update order depends on thread scheduling; across seeds its final values
    should be as good as A2C's with the same total environments (a loose two-sided check)."""
    env, pol = garnet
    a3c, a2c = [], []
    for seed in range(4):
        theta0 = pol.init(seed)
        r3 = train_run(
            "a3c", env, pol, 6000, seed=seed, theta0=theta0, eval_episodes=0, **SETTINGS["a3c"]
        )
        r2 = train_run(
            "a2c", env, pol, 6000, seed=seed, theta0=theta0, eval_episodes=0, **SETTINGS["a2c"]
        )
        a3c.append(exact_objective(env, pol, r3.theta))
        a2c.append(exact_objective(env, pol, r2.theta))
    best = optimal_value(env)
    assert np.mean(a3c) > np.mean(a2c) - 0.25 * (best - np.mean(a2c)) - 0.2


def test_bad_hyperparameters_are_one_line_errors(garnet):
    env, pol = garnet
    with pytest.raises(InvalidSpecError) as info:
        train_run("ppo-clip", env, pol, 100, seed=0, clip_range=2.0)
    assert "clip_range" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InvalidSpecError, match="no parameter|Extra inputs"):
        train_run("a2c", env, pol, 100, seed=0, n_step=5)
    with pytest.raises(pgbench.PgbenchError, match="did you mean"):
        train_run("ppo-clp", env, pol, 100, seed=0)


def test_public_train_and_evaluate(garnet):
    env, pol = garnet
    theta, history = pgbench.train(
        "ppo-clip", env, pol, 1500, seed=2, log_every=500, eval_episodes=3, **SETTINGS["ppo-clip"]
    )
    assert theta.shape == (pol.n_params,)
    assert list(history.columns) == list(COLUMNS)
    assert set(history["method"]) == {"ppo-clip"}
    assert {"eval_return", "exact_value", "optimal_value", "seconds"} <= set(history["metric"])
    final_eval = pgbench.evaluate(env, pol, theta, episodes=200, seed=9)
    assert np.isfinite(final_eval)
    assert pgbench.evaluate(env, pol, theta, 200, 9) == final_eval  # keyed streams
    with pytest.raises(InvalidSpecError, match="episodes"):
        pgbench.evaluate(env, pol, theta, 0, 9)
