"""Learning-curve tables as (runs, tasks) normalized-score matrices, and the report's files
across tasks: hand-built tables, checked against hand-computed scores and against
pgbench.stats run on the same matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pgbench.experiments.across_tasks import algorithm_keys, curve_scores, final_scores
from pgbench.experiments.learning_curve import KIND
from pgbench.experiments.learning_curve.aggregates import (
    AGGREGATE_MD,
    FRACTIONS,
    IMPROVEMENT_CSV,
    across_tasks,
)
from pgbench.experiments.learning_curve.outputs import write_outputs
from pgbench.registry import ScoreRange
from pgbench.stats import aggregate, improvement_matrix

RANGES = {
    "cartpole": ScoreRange(0.0, 500.0, "test"),
    "pendulum": ScoreRange(-1000.0, 0.0, "test"),
    "garnet": ScoreRange(2.0, 4.0, "test", "exact_value"),
}


def rows(env, method, label, seed, points, policy="mlp"):
    """Tidy rows of one seed: ``points`` is [(x, {metric: value})]."""
    return [
        {
            "suite": "synthetic",
            "experiment": "learning-curve",
            "env_label": env,
            "policy_label": policy,
            "method": method,
            "method_label": label,
            "seed": seed,
            "x_name": "env_steps",
            "x": x,
            "metric": metric,
            "value": float(value),
        }
        for x, values in points
        for metric, value in values.items()
    ]


def frame(*parts) -> pd.DataFrame:
    return pd.DataFrame.from_records([r for part in parts for r in part])


def final_run(env, method, label, seed, value, metric="eval_return", budget=100, policy="mlp"):
    """A seed whose score is 0 at x = 0 and ``value`` from x = budget / 2 on."""
    start = RANGES[env].low if env in RANGES else 0.0
    points = [(0, {metric: start}), (budget // 2, {metric: value}), (budget, {metric: value})]
    points = [(x, {**v, "seconds": x / 1000}) for x, v in points]
    return rows(env, method, label, seed, points, policy)


def two_task_table() -> pd.DataFrame:
    parts = []
    for s in range(4):
        parts.append(final_run("cartpole", "ppo-clip", "ppo-cp", s, 100.0 * (s + 1)))
        parts.append(final_run("pendulum", "ppo-clip", "ppo-pd", s, -100.0 * s))
        parts.append(final_run("cartpole", "a2c", "a2c", s, 50.0 * s))
        parts.append(final_run("pendulum", "a2c", "a2c", s, -500.0))
    return frame(*parts)


def test_scores_are_normalized_per_task_in_seed_order():
    got = final_scores(two_task_table(), RANGES)
    assert got.tasks == ("cartpole", "pendulum")
    assert got.algorithms == ("ppo-clip", "a2c")
    np.testing.assert_allclose(
        got.scores["ppo-clip"], [[0.2, 1.0], [0.4, 0.9], [0.6, 0.8], [0.8, 0.7]], rtol=1e-15
    )
    np.testing.assert_allclose(got.scores["a2c"], [[0.0, 0.5], [0.1, 0.5], [0.2, 0.5], [0.3, 0.5]])
    assert got.seeds["a2c"] == (0, 1, 2, 3)
    assert got.entries["ppo-clip"] == {"cartpole": ("ppo-cp", "mlp"), "pendulum": ("ppo-pd", "mlp")}
    assert got.budgets["a2c"] == {"cartpole": 100, "pendulum": 100}
    assert got.left_out == ()


def test_tabular_tasks_score_their_exact_value():
    parts = [final_run("cartpole", "npg", "npg", s, 250.0) for s in range(2)]
    parts += [
        final_run("garnet", "npg", "npg-tab", s, 3.5, metric="exact_value", policy="tab")
        + final_run("garnet", "npg", "npg-tab", s, 99.0, metric="eval_return", policy="tab")
        for s in range(2)
    ]
    got = final_scores(frame(*parts), RANGES)
    np.testing.assert_allclose(got.scores["npg"], [[0.5, 0.75], [0.5, 0.75]])


def test_a_name_with_two_entries_on_one_task_splits_into_its_labels():
    table = frame(
        final_run("cartpole", "ppo-clip", "ppo-small", 0, 1.0),
        final_run("cartpole", "ppo-clip", "ppo-big", 0, 1.0),
        final_run("pendulum", "ppo-clip", "ppo-small", 0, 1.0),
        final_run("cartpole", "a2c", "a2c", 0, 1.0, policy="linear"),
        final_run("cartpole", "a2c", "a2c", 0, 1.0, policy="mlp"),
    )
    entries = zip(table["method_label"], table["policy_label"], strict=True)
    keys = dict(zip(entries, algorithm_keys(table), strict=True))
    assert keys == {
        ("ppo-small", "mlp"): "ppo-small",
        ("ppo-big", "mlp"): "ppo-big",
        ("a2c", "linear"): "a2c/linear",
        ("a2c", "mlp"): "a2c/mlp",
    }


def test_per_task_labels_of_one_algorithm_aggregate_as_one():
    """As suites/mujoco.yaml labels PPO per task: ppo-halfcheetah, ppo-hopper, ..."""
    ranges = {e: ScoreRange(0.0, 1000.0, "test") for e in ("halfcheetah", "hopper", "walker2d")}
    parts = [
        final_run(env, algo, f"{algo}-{env}", s, 100.0 * s)
        for env in ranges
        for algo in ("ppo-clip", "a2c", "trpo")
        for s in range(3)
    ]
    got = final_scores(frame(*parts), ranges)
    assert got.tasks == ("halfcheetah", "hopper", "walker2d")
    assert got.algorithms == ("ppo-clip", "a2c", "trpo")
    assert got.scores["trpo"].shape == (3, 3)


def test_tasks_are_the_subset_most_algorithms_share_and_runs_the_common_seeds():
    parts = []
    for algo in ("a", "b", "c"):
        for s in range(5 if algo == "a" else 3):
            parts.append(final_run("cartpole", algo, algo, s, 250.0))
        for s in range(2, 6):
            parts.append(final_run("garnet", algo, algo, s, 3.0, metric="exact_value"))
    parts += [final_run("pendulum", "a", "a", s, -500.0) for s in range(5)]
    parts += [final_run("lqr", "a", "a", s, -5.0) for s in range(5)]  # no range
    got = final_scores(frame(*parts), RANGES)
    assert got.tasks == ("cartpole", "garnet")  # 3 x 2 beats 1 x 3
    assert got.seeds == {"a": (2, 3, 4), "b": (2,), "c": (2,)}
    why = "left out (without a score at the budget of every task: not run, failed or cut short"
    assert got.left_out == (
        "env 'lqr': no reference range (give it a score_range in the suite)",
        "env 'pendulum': with it, 1 algorithm(s) share the tasks; without, 3 on 2",
        f"algorithm 'a': seed(s) 0, 1, 5 {why} there)",
        f"algorithm 'b': seed(s) 0, 1, 3, 4, 5 {why} there)",
        f"algorithm 'c': seed(s) 0, 1, 3, 4, 5 {why} there)",
    )


def test_an_algorithm_on_too_few_tasks_is_left_out_and_said_so():
    table = frame(
        *(final_run(env, "a", "a", 0, 1.0) for env in ("cartpole", "pendulum")),
        *(final_run(env, "b", "b", 0, 1.0) for env in ("cartpole", "pendulum")),
        final_run("cartpole", "c", "c", 0, 1.0),
    )
    got = final_scores(table, RANGES)
    assert got.algorithms == ("a", "b")
    assert got.left_out == ("algorithm 'c': ran on cartpole only",)


def test_fewer_than_two_tasks_give_no_matrices():
    table = frame(final_run("cartpole", "a", "a", 0, 1.0), final_run("lqr", "a", "a", 0, 1.0))
    assert final_scores(table, RANGES).scores == {}
    assert final_scores(table.iloc[0:0], RANGES).scores == {}


def test_curve_scores_take_each_seeds_next_point_at_fractions_of_its_budget():
    parts = []
    for env, budget in (("cartpole", 1000), ("pendulum", 4000)):
        low, high = RANGES[env].low, RANGES[env].high
        points = [(x, {"eval_return": low + (high - low) * x / budget}) for x in (0, budget // 2)]
        points.append((budget, {"eval_return": high}))
        parts.append(rows(env, "ppo", "ppo", 0, points))
    scores, curves = curve_scores(frame(*parts), RANGES, np.array([0.0, 0.25, 0.5, 0.75, 1.0]))
    # the seed has points at 0, 1/2 and 1 of each budget: 1/4 takes the point at 1/2
    np.testing.assert_allclose(curves["ppo"][0], [[0, 0], [0.5, 0.5], [0.5, 0.5], [1, 1], [1, 1]])
    np.testing.assert_allclose(scores.scores["ppo"], [[1.0, 1.0]])


def test_report_files_agree_with_pgbench_stats_on_the_same_matrices(tmp_path):
    table = two_task_table()
    settings = {"score_ranges": {k: vars(v) for k, v in RANGES.items()}}
    paths = write_outputs(table, tmp_path, settings)
    names = [p.name for p in paths]
    for name in (*KIND.figures, *KIND.tables, IMPROVEMENT_CSV):
        assert name in names
    agg = across_tasks(table, settings)
    matrices = final_scores(table, RANGES).scores
    again = aggregate(matrices, np.random.default_rng(0))
    assert agg.estimates == again  # the same Generator, drawn first
    iqm = {e.algorithm: e for e in agg.estimates if e.metric == "iqm"}
    text = (tmp_path / AGGREGATE_MD).read_text()
    e = iqm["ppo-clip"]
    assert f"| ppo-clip | {e.estimate:.2f} [{e.low:.2f}, {e.high:.2f}] |" in text
    pairs = pd.read_csv(tmp_path / IMPROVEMENT_CSV)
    p = pairs[(pairs.algorithm == "ppo-clip") & (pairs.other == "a2c")].probability.item()
    ref = {(i.algorithm, i.other): i.probability for i in improvement_matrix(matrices)}
    assert p == pytest.approx(ref["ppo-clip", "a2c"], abs=1e-15)
    # the curve's last point is the final IQM; its first is every run at its low
    final = agg.curves["ppo-clip"][-1, 0]
    assert final == pytest.approx(iqm["ppo-clip"].estimate, abs=1e-15)
    assert agg.curves["ppo-clip"][0, 0] == 0.0
    assert agg.same_budget and agg.curve_x[-1] == 100 and len(agg.curve_x) == len(FRACTIONS)


def test_one_env_with_a_range_writes_only_the_per_env_files(tmp_path):
    table = frame(*(final_run("cartpole", "a", "a", s, 1.0) for s in range(3)))
    settings = {"score_ranges": {"cartpole": vars(RANGES["cartpole"])}}
    names = {p.name for p in write_outputs(table, tmp_path, settings)}
    assert names == {"learning_curves.png", "final_performance.csv", "final_performance.md"}
    assert across_tasks(table, settings) is None
    assert across_tasks(two_task_table(), {}) is None  # no ranges recorded


def test_aggregate_as_names_the_algorithm_and_overrides_the_registry_name():
    parts = []
    for env in ("cartpole", "pendulum"):
        for precision in ("float64", "float32"):
            label = f"ppo-{env}-{precision}"
            parts += [final_run(env, "ppo-clip", label, s, -1.0) for s in range(2)]
    table = frame(*parts)
    groups = {
        f"ppo-{env}-{p}": f"ppo-{p}"
        for env in ("cartpole", "pendulum")
        for p in ("float64", "float32")
    }
    assert final_scores(table, RANGES).scores == {}  # by name: 4 labels, each on one env
    got = final_scores(table, RANGES, groups)
    assert got.algorithms == ("ppo-float64", "ppo-float32")
    assert got.tasks == ("cartpole", "pendulum")
    settings = {"score_ranges": {k: vars(v) for k, v in RANGES.items()}, "aggregate_as": groups}
    assert across_tasks(table, settings).scores.algorithms == ("ppo-float64", "ppo-float32")


GROUP_SUITE = """\
name: groups
experiment: learning-curve
seeds: 1
env_steps: 2000
envs: [{name: cartpole-v1, label: cp}, {name: acrobot-v1, label: ac}]
policies: [linear-softmax]
algorithms:
  - {name: reinforce, label: a, aggregate_as: mine, params: {episodes: 2}}
  - {name: reinforce, label: b, aggregate_as: mine, envs: [ac], params: {episodes: 2}}
"""


def test_an_aggregate_as_with_two_entries_on_one_env_is_a_suite_error():
    from pgbench.experiments import parse_suite
    from pgbench.suite.errors import SuiteError

    with pytest.raises(SuiteError) as err:
        parse_suite(GROUP_SUITE, "g.yaml")
    assert str(err.value) == (
        "g.yaml:9:47: aggregate_as 'mine' has two entries on env 'ac' (algorithm 'a' with "
        "policy 'linear-softmax', and 'b' with policy 'linear-softmax'); one algorithm "
        "across envs has one entry per env"
    )
    fine = GROUP_SUITE.replace("aggregate_as: mine, envs", "aggregate_as: other, envs")
    suite = parse_suite(fine, "g.yaml")
    assert suite.report_settings()["aggregate_as"] == {"a": "mine", "b": "other"}


def test_an_entry_on_an_env_without_a_range_does_not_rename_the_algorithm():
    """Two ppo-clip entries on lqr (no range) must not split ppo-clip on the others."""
    parts = [final_run(env, "ppo-clip", f"ppo-{env}", 0, 1.0) for env in ("cartpole", "pendulum")]
    parts += [final_run("lqr", "ppo-clip", label, 0, 1.0) for label in ("ppo-a", "ppo-b")]
    got = final_scores(frame(*parts), RANGES)
    assert got.algorithms == ("ppo-clip",) and got.tasks == ("cartpole", "pendulum")


def test_a_label_with_several_policies_somewhere_splits_by_policy_everywhere():
    parts = [
        final_run("cartpole", "ppo-clip", "ppo", 0, 1.0, policy="mlp"),
        final_run("cartpole", "ppo-clip", "ppo", 0, 1.0, policy="linear"),
        final_run("pendulum", "ppo-clip", "ppo", 0, 1.0, policy="mlp"),
    ]
    got = final_scores(frame(*parts), RANGES)
    assert got.algorithms == ("ppo/mlp",)
    assert got.left_out == ("algorithm 'ppo/linear': ran on cartpole only",)


def test_a_seed_cut_short_is_left_out_and_said_so_in_both_views():
    parts = [final_run(env, "a", "a", s, 1.0) for env in ("cartpole", "pendulum") for s in (0, 1)]
    short = [r for r in final_run("pendulum", "a", "a", 2, 1.0) if r["x"] <= 50]
    parts += [final_run("cartpole", "a", "a", 2, 1.0), short]
    table = frame(*parts)
    final = final_scores(table, RANGES)
    curves, _ = curve_scores(table, RANGES, FRACTIONS)
    assert final.seeds == curves.seeds == {"a": (0, 1)}
    assert final.left_out[0].startswith("algorithm 'a': seed(s) 2 left out")


def test_budgets_that_differ_on_a_task_are_said():
    parts = [final_run(env, "a", "a", 0, 1.0) for env in ("cartpole", "pendulum")]
    parts += [final_run("cartpole", "b", "b", 0, 1.0, budget=200)]
    parts += [final_run("pendulum", "b", "b", 0, 1.0)]
    got = final_scores(frame(*parts), RANGES)
    assert got.budgets["b"] == {"cartpole": 200, "pendulum": 100}
    assert got.left_out == (
        "env 'cartpole': the algorithms' budgets differ (a 100, b 200 env steps)",
    )
