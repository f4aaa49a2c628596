"""The learning-curve suite kind: YAML errors with positions, and a real run via the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pgbench.cli import main
from pgbench.experiments import load_suite
from pgbench.experiments.learning_curve.suite import LearningCurveSuite
from pgbench.run.sweep import expand
from pgbench.suite.errors import SuiteError

BASE = """\
name: tiny-curves
experiment: learning-curve
seeds: 2
env_steps: 1500
eval_episodes: 2
envs:
  - {name: garnet, label: garnet, params: {n_states: 4, n_actions: 2, horizon: 8, seed: 1}}
  - {name: cartpole-v1, label: cartpole, env_steps: 800, log_every: 400, target: 15}
policies:
  - {name: tabular-softmax, label: tabular}
  - {name: linear-softmax, label: linear}
algorithms:
  - name: ppo-clip
    params: {n_steps: 16, batch_size: 32, n_epochs: 2, critic: {kind: tabular}}
    envs: [garnet]
  - {name: a2c, params: {critic: {kind: linear}}, policies: [linear], env_steps: 1000}
  - {name: reinforce, params: {episodes: 4}}
"""

BAD = [
    (
        "unknown-algorithm",
        "name: reinforce,",
        "name: reinforc,",
        "17:12",
        "unknown algorithm 'reinforc'; did you mean 'reinforce'?",
    ),
    ("bad-param", "episodes: 4", "episodes: 0", "17:42", "greater than or equal to 1"),
    ("unknown-param", "episodes: 4", "episode: 4", "17:32", "episode: Extra inputs"),
    (
        "unknown-env-label",
        "envs: [garnet]",
        "envs: [garnett]",
        "15:12",
        "lists env 'garnett', which is not one of the suite's env labels; did you mean 'garnet'?",
    ),
    ("zero-budget", "env_steps: 1500", "env_steps: 0", "4:12", "greater than or equal to 1"),
]


def write(tmp_path, text: str):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_base_suite_expands_with_filters(tmp_path):
    suite = load_suite(write(tmp_path, BASE))
    assert isinstance(suite, LearningCurveSuite)
    cells = expand(suite)
    seen = {(c.env.display, c.policy.display, c.method.name) for c in cells}
    assert seen == {
        ("garnet", "tabular", "ppo-clip"),
        ("garnet", "tabular", "reinforce"),
        ("cartpole", "linear", "a2c"),
        ("cartpole", "linear", "reinforce"),
    }
    assert len(cells) == 8


def test_an_algorithm_may_run_fewer_seeds(tmp_path):
    text = BASE.replace(
        "{name: reinforce, params: {episodes: 4}}",
        "{name: reinforce, params: {episodes: 4}, seeds: 1}",
    )
    cells = expand(load_suite(write(tmp_path, text)))
    assert {c.seed for c in cells if c.method.name == "reinforce"} == {0}
    assert {c.seed for c in cells if c.method.name == "a2c"} == {0, 1}
    assert len(cells) == 6


def test_target_is_a_report_setting_not_a_cell_key(tmp_path):
    with_target = expand(load_suite(write(tmp_path, BASE)))
    without = expand(load_suite(write(tmp_path, BASE.replace(", target: 15", ""))))
    assert [c.hash for c in with_target] == [c.hash for c in without]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_curve_suite_is_one_line_with_position(tmp_path, case):
    _, old, new, where, what = case
    text = BASE.replace(old, new)
    assert text != BASE
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{where}: "), message
    assert what in message, message


def test_run_via_cli_writes_curves_and_table(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, BASE)), "--out", str(out)]) == 0
    capsys.readouterr()
    for name in ("learning_curves.png", "final_performance.md", "final_performance.csv"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "results.csv")
    assert set(table["experiment"]) == {"learning-curve"}
    a2c = table[(table["method"] == "a2c") & (table["metric"] == "eval_return")]
    assert a2c["x"].max() == 1000  # the algorithm's own budget
    # every seed's points sit on the env's grid (log_every 400) and at the budget
    cart = table[table["env_label"] == "cartpole"]
    for (method, _), rows in cart.groupby(["method", "seed"]):
        grid = [0, 400, 800, 1000] if method == "a2c" else [0, 400, 800]
        assert sorted(set(rows["x"])) == grid, method
        spent = rows[rows["metric"] == "env_steps"]
        assert (spent["value"] >= spent["x"]).all()
    garnet = table[(table["env_label"] == "garnet") & (table["metric"] == "exact_value")]
    assert np.isfinite(garnet["value"]).all()
    final = pd.read_csv(out / "final_performance.csv")
    assert len(final) == 4 and (final["n_seeds"] == 2).all()
    cart = final[final["env"] == "cartpole"]
    assert (cart["target"] == 15).all() and final[final["env"] == "garnet"]["target"].isna().all()
    for row in cart.itertuples():  # the target columns agree with the curves
        ev = table[
            (table["method_label"] == row.algorithm)
            & (table["env_label"] == "cartpole")
            & (table["metric"] == "eval_return")
        ]
        assert row.reached == ev[ev["value"] >= 15]["seed"].nunique()
    # a second run finds every cell done and reproduces the table (seconds aside)
    assert main(["run", str(write(tmp_path, BASE)), "--out", str(out)]) == 0
    again = pd.read_csv(out / "results.csv")
    keep = table["metric"] != "seconds"
    pd.testing.assert_frame_equal(table[keep], again[again["metric"] != "seconds"])
    # worker processes give the same table as the serial run
    pooled = tmp_path / "pooled"
    argv = ["run", str(write(tmp_path, BASE)), "--out", str(pooled), "--executor", "local"]
    assert main([*argv, "--workers", "2"]) == 0
    local = pd.read_csv(pooled / "results.csv")
    pd.testing.assert_frame_equal(table[keep], local[local["metric"] != "seconds"])
