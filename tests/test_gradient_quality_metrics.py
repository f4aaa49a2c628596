"""Gradient-quality metrics against hand-worked arrays; seeds, hashes and common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pgbench.config import parse_suite
from pgbench.errors import NonFiniteGradientError
from pgbench.experiments.gradient_quality import (
    METRICS,
    _finite,
    cosines,
    gradient_metrics,
    pairwise_cosine,
    run_cell,
)
from pgbench.sweep import derive_seed, expand

# g = (1, 0); estimates (2, 0), (0, 0), (1, 1). By hand:
#   mean = (1, 1/3): bias = (0, 1/3), |bias| = 1/3, |mean|^2 = 10/9
#   sample variances (ddof=1): coord 0 of (2, 0, 1) -> 1; coord 1 of (0, 0, 1) -> 1/3
#   squared errors 1, 1, 1 -> mse 1 (= 1/9 + (2/3)(4/3))
#   cosines to g: 1, 0 (zero estimate), 1/sqrt(2)
#   pairwise cosines: (0,1) 0, (0,2) 1/sqrt(2), (1,2) 0
G = np.array([1.0, 0.0])
EST = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]])


def test_metrics_by_hand():
    m = gradient_metrics(EST, G)
    r2 = 1 / math.sqrt(2)
    assert m["bias_norm"] == pytest.approx(1 / 3)
    assert m["trace_cov"] == pytest.approx(4 / 3)
    assert m["mse"] == pytest.approx(1.0)
    assert m["cosine"] == pytest.approx((1 + 0 + r2) / 3)
    assert m["pairwise_cosine"] == pytest.approx(r2 / 3)
    assert m["snr"] == pytest.approx((10 / 9) / (4 / 3))
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
    est, g = rng.normal(size=(7, 5)), rng.normal(size=5)
    m = gradient_metrics(est, g)
    R = est.shape[0]
    assert m["mse"] == pytest.approx(m["bias_norm"] ** 2 + (R - 1) / R * m["trace_cov"])


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
        _finite(np.array([1.0, np.nan]), "x")


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
    assert run_cell(by["reinforce", 0]).columns == {"reference": "exact"}
