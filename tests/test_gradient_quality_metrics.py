"""Gradient-quality metrics against hand-worked arrays; seeds, hashes, common random numbers;
theta points; the ranking table on a hand-made tidy frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench.errors import NoExactFormError, NonFiniteGradientError
from pgbench.estimators.base import Estimator, NoParams
from pgbench.experiments import parse_suite
from pgbench.experiments.gradient_quality.quality import (
    cosines,
    gradient_metrics,
    pairwise_cosine,
)
from pgbench.experiments.gradient_quality.ranking import (
    RANKING_COLUMNS,
    rank_matrix,
    ranking,
    ranking_markdown,
)
from pgbench.experiments.gradient_quality.reference import (
    check_finite,
    estimand,
    reference_value,
    theta_point,
)
from pgbench.experiments.gradient_quality.run import METRICS, run_cell
from pgbench.experiments.gradient_quality.suite import ThetaSpec
from pgbench.registry import ESTIMATORS
from pgbench.results import conform
from pgbench.run.sweep import expand
from pgbench.seeding import derive_seed
from pgbench.stats import bootstrap_ci

# g = (1, 0); estimates (2, 0), (0, 0), (1, 1); R = 3. By hand:
#   mean = (1, 1/3): ||mean - g||^2 = 1/9, ||mean||^2 = 10/9
#   sample variances (ddof=1): coord 0 of (2, 0, 1) -> 1; coord 1 of (0, 0, 1) -> 1/3;
#   trace_cov S = 4/3, S / R = 4/9
#   squared bias 1/9 - 4/9 = -1/3 -> bias_norm 0 (clipped); signal 10/9 - 4/9 = 2/3
#   squared errors 1, 1, 1 -> mse 1 (= -1/3 + 4/3)
#   cosines to g: 1, 0 (zero estimate), 1/sqrt(2)
#   pairwise cosines: (0,1) 0, (0,2) 1/sqrt(2), (1,2) 0
G = np.array([1.0, 0.0])
EST = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]])


def test_metrics_by_hand():
    m = gradient_metrics(EST, G)
    r2 = 1 / math.sqrt(2)
    assert m["bias_norm"] == 0.0
    assert m["trace_cov"] == pytest.approx(4 / 3)
    assert m["mse"] == pytest.approx(1.0)
    assert m["cosine"] == pytest.approx((1 + 0 + r2) / 3)
    assert m["pairwise_cosine"] == pytest.approx(r2 / 3)
    assert m["snr"] == pytest.approx((2 / 3) / (4 / 3))
    assert list(m) == list(METRICS[:6])


def test_cosines_and_pairwise_by_hand():
    np.testing.assert_allclose(cosines(EST, G), [1.0, 0.0, 1 / math.sqrt(2)])
    assert pairwise_cosine(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)
    assert pairwise_cosine(np.array([[3.0, 4.0], [6.0, 8.0], [-3.0, -4.0]])) == pytest.approx(
        (1 - 1 - 1) / 3
    )
    assert math.isnan(pairwise_cosine(np.array([[1.0, 2.0]])))
    assert np.all(np.isnan(cosines(EST, np.zeros(2))))


def test_mse_decomposes_into_bias_and_variance():
    rng = np.random.default_rng(0)
    est, g = rng.normal(size=(7, 5)), rng.normal(size=5) + 3.0  # biased: bias_norm > 0
    m = gradient_metrics(est, g)
    assert m["bias_norm"] > 0
    assert m["mse"] == pytest.approx(m["bias_norm"] ** 2 + m["trace_cov"])


def test_degenerate_cases():
    same = np.array([[1.0, 2.0]] * 4)
    m = gradient_metrics(same, np.array([1.0, 2.0]))
    assert m["trace_cov"] == 0.0 and m["bias_norm"] == 0.0 and m["mse"] == 0.0
    assert m["snr"] == math.inf and m["cosine"] == pytest.approx(1.0)
    assert math.isnan(gradient_metrics(np.zeros((3, 2)), G)["snr"])
    with pytest.raises(ValueError):
        gradient_metrics(EST[:1], G)
    with pytest.raises(ValueError):
        gradient_metrics(EST, np.zeros(3))
    with pytest.raises(NonFiniteGradientError, match="non-finite"):
        check_finite(np.array([1.0, np.nan]), "x")


def test_derive_seed_is_a_pure_uint64_function_of_its_key():
    a = derive_seed(3, "estimate", 64, 0)
    assert a == derive_seed(3, "estimate", 64, 0)
    assert 0 <= a < 2**64
    others = {
        derive_seed(3, "estimate", 64, 1),
        derive_seed(3, "estimate", 16, 0),
        derive_seed(4, "estimate", 64, 0),
        derive_seed(3, "reference"),
    }
    assert a not in others and len(others) == 4


SUITE = """\
name: crn
experiment: gradient-quality
seeds: [0, 1]
repeats: 3
batch_sizes: [2, 8]
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: HORIZON}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - reinforce
  - reward-to-go
"""


def test_cell_hashes_are_stable_and_cover_the_settings():
    cells = expand(parse_suite(SUITE.replace("HORIZON", "1")))
    again = expand(parse_suite(SUITE.replace("HORIZON", "1")))
    assert [c.hash for c in cells] == [c.hash for c in again]
    assert len({c.hash for c in cells}) == 4  # 2 seeds x 2 estimators
    other = expand(parse_suite(SUITE.replace("HORIZON", "1").replace("repeats: 3", "repeats: 4")))
    assert not {c.hash for c in cells} & {c.hash for c in other}


def test_common_random_numbers_across_estimators():
    """With horizon 1, reward-to-go equals REINFORCE on the same episodes (up to rounding:
    the kernels sum in different orders): equal rows show both saw the same episodes."""
    cells = expand(parse_suite(SUITE.replace("HORIZON", "1")))
    by = {(c.method.name, c.seed): c for c in cells}
    a = run_cell(by["reinforce", 0]).rows
    b = run_cell(by["reward-to-go", 0]).rows
    assert a[0].metric == "bias_norm" and {r.x for r in a} == {2, 8}
    keep = [i for i, r in enumerate(a) if r.metric != "seconds"]
    assert [a[i][:3] for i in keep] == [b[i][:3] for i in keep]
    np.testing.assert_allclose(
        [a[i].value for i in keep], [b[i].value for i in keep], rtol=1e-12, atol=1e-14
    )
    c = run_cell(by["reinforce", 1]).rows  # another seed: other episodes
    assert [r.value for r in c if r.metric == "mse"] != [r.value for r in a if r.metric == "mse"]
    assert run_cell(by["reinforce", 0]).columns == {"reference": "exact", "unbiased": True}


# ---------------------------------------------------------------- theta points


def test_theta_points(garnet):
    env, policy = garnet
    init = ThetaSpec(kind="init", seed=3)
    np.testing.assert_array_equal(theta_point(env, policy, init), policy.init(3))
    rnd = theta_point(env, policy, ThetaSpec(kind="random", seed=3, scale=2.0))
    z = np.random.default_rng(derive_seed(3, "theta-random")).standard_normal(policy.n_params)
    np.testing.assert_array_equal(rnd, 2.0 * z)
    assert not np.allclose(rnd, policy.init(3))

    exact = ThetaSpec(kind="path", seed=3, steps=5, lr=0.5, estimator="exact")
    start, end = policy.init(3), theta_point(env, policy, exact)
    g0 = pgbench.exact_gradient(env, policy, start)
    one = ThetaSpec(kind="path", seed=3, steps=1, lr=0.5, estimator="exact")
    np.testing.assert_allclose(theta_point(env, policy, one), start + 0.5 * g0)
    J = pgbench.exact_objective
    assert J(env, policy, end) > J(env, policy, start)  # ascent, not descent
    zero = ThetaSpec(kind="path", seed=3, steps=0, lr=0.5, estimator="exact")
    np.testing.assert_array_equal(theta_point(env, policy, zero), start)

    sampled = ThetaSpec(kind="path", seed=3, steps=3, lr=0.5, estimator="reward-to-go", episodes=8)
    a, b = theta_point(env, policy, sampled), theta_point(env, policy, sampled)
    np.testing.assert_array_equal(a, b)  # derived seeds: the same path every time
    assert not np.allclose(a, theta_point(env, policy, sampled.model_copy(update={"seed": 4})))


THETA_SUITE = SUITE.replace("HORIZON", "3").replace(
    "batch_sizes: [2, 8]\n",
    "batch_sizes: [2, 8]\nthetas:\n  - {kind: init, seed: 0}\n  - {kind: random, seed: 1}\n",
)


def test_theta_is_a_grid_axis_in_the_cell_hash():
    cells = expand(parse_suite(THETA_SUITE))
    assert len(cells) == 2 * 2 * 2  # thetas x seeds x estimators
    assert [c.theta.display for c in cells[:4]] == ["init(seed=0)"] * 4
    assert "init(seed=0) / reinforce / seed 0" in cells[0].describe()
    assert len({c.hash for c in cells}) == 8
    # `theta: {seed: 0}` and `thetas: [{kind: init, seed: 0}]` are the same point
    single = expand(parse_suite(SUITE.replace("HORIZON", "3")))
    assert [c.hash for c in single] == [c.hash for c in cells[:4]]
    relabelled = expand(parse_suite(THETA_SUITE.replace("seed: 1}", "seed: 1, label: r}")))
    assert relabelled[4].hash != cells[4].hash and relabelled[0].hash == cells[0].hash
    moved = expand(parse_suite(THETA_SUITE.replace("seed: 1}", "seed: 2}")))
    assert moved[4].hash != cells[4].hash


def test_points_change_the_rows_and_min_batch_narrows_them():
    suite = parse_suite(
        THETA_SUITE.replace("  - reward-to-go\n", "  - {name: reward-to-go, min_batch: 8}\n")
    )
    cells = expand(suite)
    by = {(c.theta.display, c.method.name, c.seed): c for c in cells}
    init = run_cell(by["init(seed=0)", "reinforce", 0])
    rnd = run_cell(by["random(seed=1,scale=1.0)", "reinforce", 0])
    mse = [[r.value for r in out.rows if r.metric == "mse"] for out in (init, rnd)]
    assert mse[0] != mse[1]
    narrowed = run_cell(by["init(seed=0)", "reward-to-go", 0])
    assert {r.x for r in narrowed.rows} == {8} and {r.x for r in init.rows} == {2, 8}
    assert narrowed.columns == {"reference": "exact", "unbiased": True}


# ---------------------------------------------------------------- stats and ranking


def test_bootstrap_ci_by_hand():
    rng = np.random.default_rng(0)
    assert bootstrap_ci([3.0], rng) == (3.0, 3.0)
    # five values, the median: a resample's median is below the minimum or above the
    # maximum never, and equal to them with probability 5.8% each > 2.5%
    assert bootstrap_ci([5.0, 1.0, 4.0, 2.0, 3.0], rng) == (1.0, 5.0)
    a = bootstrap_ci(np.arange(20.0), np.random.default_rng(7), stat=np.mean)
    b = bootstrap_ci(np.arange(20.0), np.random.default_rng(7), stat=np.mean)
    assert a == b and a[0] < 9.5 < a[1]
    with pytest.raises(ValueError):
        bootstrap_ci([], rng)


def _tidy(rows: list[tuple]) -> pd.DataFrame:
    """A tidy table from (env, theta, method, unbiased, reference, seed, x, metric, value)."""
    records = []
    for env, theta, method, unbiased, reference, seed, x, metric, value in rows:
        records.append(
            {
                "suite": "hand",
                "experiment": "gradient-quality",
                "cell": f"{env}-{theta}-{method}-{seed}",
                "env": env,
                "env_params": "{}",
                "env_label": env,
                "policy": "p",
                "policy_params": "{}",
                "policy_label": "p",
                "theta": theta,
                "theta_params": "{}",
                "method": method,
                "method_params": "{}",
                "method_label": method,
                "unbiased": unbiased,
                "seed": seed,
                "x_name": "batch_size",
                "x": x,
                "metric": metric,
                "value": value,
                "reference": reference,
            }
        )
    return conform(pd.DataFrame.from_records(records))


# MSE by (method, seed) at N=4 and N=16; cosine and env steps fixed per method
MSE = {
    ("a", 4): [4.0, 1.0, 9.0],  # median 4
    ("b", 4): [2.0, 3.0, 2.5],  # median 2.5: b wins at N=4
    ("c", 4): [2.5, 2.5],  # median 2.5 on 2 seeds: tie with b, broken by label
    ("a", 16): [0.5, 0.1, 0.3],  # median 0.3: a wins at N=16
    ("b", 16): [1.0, 0.9, 0.8],
    ("c", 16): [np.nan, np.nan],  # no finite MSE: ranked last, n_seeds 0
}


def hand_table() -> pd.DataFrame:
    rows = []
    for (m, x), values in MSE.items():
        for seed, v in enumerate(values):
            for theta in ("t0", "t1"):
                scale = 1.0 if theta == "t0" else 10.0
                rows += [
                    ("e", theta, m, m != "c", "exact", seed, x, "mse", v * scale),
                    ("e", theta, m, m != "c", "exact", seed, x, "cosine", 0.1 * (seed + 1)),
                    ("e", theta, m, m != "c", "exact", seed, x, "env_steps", 10.0 * x),
                    ("e", theta, m, m != "c", "exact", seed, x, "seconds", 0.001),
                ]
    return _tidy(rows)


def test_ranking_on_a_hand_made_table():
    rank = ranking(hand_table(), np.random.default_rng(0))
    assert list(rank.columns) == RANKING_COLUMNS
    t0 = rank[rank["theta"] == "t0"]
    n4, n16 = t0[t0["batch_size"] == 4], t0[t0["batch_size"] == 16]
    assert list(n4["estimator"]) == ["b", "c", "a"] and list(n4["rank"]) == [1, 2, 3]
    assert list(n16["estimator"]) == ["a", "b", "c"]
    assert list(n4["mse_median"]) == [2.5, 2.5, 4.0]
    assert list(n4["n_seeds"]) == [3, 2, 3] and list(n16["n_seeds"]) == [3, 3, 0]
    assert math.isnan(n16["mse_median"].iloc[2])
    # 3 seeds: the bootstrap interval of the median lies within [min, max] and holds it
    a4 = n4[n4["estimator"] == "a"].iloc[0]
    assert 1.0 <= a4["mse_lo"] <= 4.0 <= a4["mse_hi"] <= 9.0
    assert n4["cosine_median"].tolist() == pytest.approx([0.2, 0.15, 0.2])
    assert n4["env_steps_median"].tolist() == [40.0] * 3
    assert n4["unbiased"].tolist() == [True, False, True]
    assert set(rank["reference"]) == {"exact"}
    # the second point is the first scaled by 10: same order, medians x 10
    t1 = rank[rank["theta"] == "t1"]
    assert t1["estimator"].tolist() == t0["estimator"].tolist()
    np.testing.assert_allclose(t1["mse_median"], 10 * t0["mse_median"].to_numpy())
    # explicit Generator: the same seed gives the same intervals, group by group
    again = ranking(hand_table(), np.random.default_rng(0))
    pd.testing.assert_frame_equal(rank, again)
    alone = ranking(hand_table().query("theta == 't0'"), np.random.default_rng(0))
    pd.testing.assert_frame_equal(alone, t0.reset_index(drop=True))


def test_ranking_markdown_and_matrix():
    rank = ranking(hand_table())
    md = ranking_markdown(rank, "hand")
    assert md.startswith("# Gradient estimators ranked by MSE: hand")
    assert "95% percentile bootstrap interval of the median MSE over seeds" in md
    assert "## e · p · theta t0 (reference exact)" in md and "### N = 16" in md
    assert "| 1 | b | 2.5 | [" in md and "| 3 | c | - | [-, -] | 0 |" in md
    (key, frame), _ = rank_matrix(rank)
    assert key == ("e", "p", "t0", "exact")
    assert frame["estimator"].tolist() == ["a", "b", "c"]  # order at the largest N
    assert frame["N=4"].tolist() == [3, 1, 2] and frame["N=16"].tolist() == [1, 2, 3]
    assert ranking(hand_table().iloc[0:0]).empty


@dataclass(frozen=True)
class _NaturalEstimator(Estimator):
    estimand: str = "natural-gradient"


def _exact_natural(sampler, theta, episodes, seed, params):
    sampler.episode_sums(theta, episodes, seed)  # spend the episodes
    return pgbench.exact_natural_gradient(sampler.env, sampler.policy, theta)


if "test-exact-natural" not in ESTIMATORS:
    ESTIMATORS.register("test-exact-natural")(
        _NaturalEstimator(
            name="test-exact-natural",
            fn=_exact_natural,
            params=NoParams,
            unbiased=True,
            citation="tests",
        )
    )


def test_estimators_are_compared_with_the_value_of_their_estimand(garnet, cartpole):
    assert estimand("test-exact-natural") == "natural-gradient"
    assert estimand("reinforce") == "gradient"
    suite = parse_suite(SUITE.replace("HORIZON", "3").replace("reinforce", "test-exact-natural"))
    cell = expand(suite)[0]
    out = run_cell(cell)
    assert out.columns["reference"] == "exact-natural"
    mse = [r.value for r in out.rows if r.metric == "mse"]
    assert mse == pytest.approx([0.0, 0.0], abs=1e-20)  # the exact natural gradient itself
    assert run_cell(expand(suite)[1]).columns["reference"] == "exact"  # reward-to-go

    env, policy = garnet
    theta = policy.init(0)
    g = pgbench.exact_gradient(env, policy, theta)
    if "restricted" in ESTIMATORS and estimand("restricted") == "restricted-step":
        step = reference_value(env, policy, theta, 0, 10, "cpu", "restricted", {})
        eps = pgbench.estimator_params("restricted").epsilon
        np.testing.assert_allclose(step.value, np.sqrt(2 * eps / (g @ g)) * g)
        assert step.label == "exact-restricted" and step.noise == 0.0
    env, policy = cartpole
    with pytest.raises(NoExactFormError, match="estimates the natural gradient, which has no"):
        reference_value(env, policy, policy.init(0), 0, 10, "cpu", "test-exact-natural")


def test_estimators_with_another_reference_are_ranked_among_themselves():
    extra = [("e", "t0", "n", False, "exact-natural", seed, 4, "mse", 0.01) for seed in range(3)]
    table = pd.concat([hand_table(), _tidy(extra)], ignore_index=True)
    n4 = ranking(table).query("theta == 't0' and batch_size == 4")
    assert n4["estimator"].tolist() == ["b", "c", "a", "n"]
    assert n4["rank"].tolist() == [1, 2, 3, 1]
    assert "| 1 | n (vs exact-natural) | 0.01 |" in ranking_markdown(ranking(table))
    (key, frame), _ = rank_matrix(ranking(table))
    assert key[3] == "exact" and frame["estimator"].tolist()[-1] == "n (vs exact-natural)"
