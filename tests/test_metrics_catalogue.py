"""The metric catalogue knows every metric the experiments write, and the README's
example estimator runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import pgbench
from pgbench.algorithms.trainer import CURVE_METRICS
from pgbench.experiments.gradient_quality.run import METRICS as GRADIENT_METRICS
from pgbench.metrics import CATALOGUE, DEFAULT_COMPARED, DIRECTIONS, HIGHER, LOWER, metric
from pgbench.registry import ESTIMATORS
from pgbench.results import load_results

ROOT = Path(__file__).resolve().parents[1]


def test_every_metric_of_the_ci_baselines_is_catalogued():
    for run in sorted((ROOT / "results" / "baseline").iterdir()):
        names = set(load_results(run)["metric"])
        assert names and all(metric(n) is not None for n in names), (run.name, names)


def test_every_learning_curve_and_gradient_quality_metric_is_catalogued():
    assert all(metric(n) is not None for n in (*CURVE_METRICS, *GRADIENT_METRICS))


def test_patterns_match_agents_and_states_only():
    assert metric("reward_1").name == "reward_{k}" and metric("p_CC_2").name == "p_{s}_{k}"
    assert metric("reward_3") is None and metric("tft_soft_1").name == "tft_soft_{k}"
    assert metric("no_such_metric") is None


def test_directions_and_defaults():
    assert DIRECTIONS["mse"] == LOWER and DIRECTIONS["eval_return"] == HIGHER
    assert {"reward_1", "reward_2"} <= set(DIRECTIONS) and "p_CC_1" not in DIRECTIONS
    assert "seconds" in DIRECTIONS and "seconds" not in DEFAULT_COMPARED
    assert "sampled_reward_1" not in DEFAULT_COMPARED and "mse" in DEFAULT_COMPARED
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE)


def _readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def isolated_estimators(monkeypatch):
    monkeypatch.setattr(ESTIMATORS, "_items", dict(ESTIMATORS._items))


@pytest.mark.usefixtures("isolated_estimators")
def test_the_readme_estimator_registers_and_runs():
    exec(compile(_readme_block("### A new estimator"), "README.md", "exec"), {})
    env = pgbench.make_env("garnet", n_states=4, n_actions=2, branching=2, horizon=5)
    policy = pgbench.make_policy("tabular-softmax", env)
    theta = policy.init(0)
    two = pgbench.estimate("scaled-reinforce", env, policy, theta, 16, seed=1, scale=2.0)
    one = pgbench.estimate("reinforce", env, policy, theta, 16, seed=1)
    np.testing.assert_allclose(two, 2.0 * one, rtol=1e-12)
    assert not ESTIMATORS.get("scaled-reinforce").is_unbiased(
        ESTIMATORS.params("scaled-reinforce", scale=2.0)
    )
