"""The CLI run as a user would: files written, determinism, resume, failures recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench.cli import main
from pgbench.errors import InvalidSpecError
from pgbench.estimators.base import Estimator, NoParams
from pgbench.experiments import parse_suite
from pgbench.experiments.gradient_quality.ranking import RANKING_COLUMNS
from pgbench.experiments.gradient_quality.run import METRICS
from pgbench.metrics import TIMING
from pgbench.registry import ESTIMATORS
from pgbench.results import COLUMNS, read_failures

SUITE = """\
name: tiny
experiment: gradient-quality
seeds: 2
repeats: 4
batch_sizes: [2, 8]
reference_episodes: 100
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - reinforce
  - reward-to-go
"""


def _nan_estimator(sampler, theta, episodes, seed, params):
    sampler.episode_sums(theta, episodes, seed)
    return np.full(theta.shape, np.nan)


def _crashing_estimator(sampler, theta, episodes, seed, params):
    raise RuntimeError("boom\nsecond line")


def _needs_8_estimator(sampler, theta, episodes, seed, params):
    if episodes < 8:
        raise InvalidSpecError(f"needs at least 8 episodes, got {episodes}")
    sums = sampler.episode_sums(theta, episodes, seed)
    return sums.returns @ sums.score_sums / episodes


for _name, _fn in (
    ("test-nan", _nan_estimator),
    ("test-crash", _crashing_estimator),
    ("test-needs-8", _needs_8_estimator),
):
    if _name not in ESTIMATORS:
        ESTIMATORS.register(_name)(
            Estimator(
                name=_name, fn=_fn, params=NoParams, unbiased=False, citation="tests/test_cli.py"
            )
        )


def write_suite(tmp_path, text: str = SUITE, name: str = "suite.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def without_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df[~df["metric"].isin(TIMING)].reset_index(drop=True)


def test_run_as_a_user(tmp_path):
    suite = write_suite(tmp_path)
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "pgbench.cli", "run", str(suite)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "results" / "tiny"  # the default run directory
    assert len(list((run / "cells").glob("*.parquet"))) == 4  # 2 seeds x 2 estimators
    files = ("results.csv", "metadata.json", "ranking.csv", "ranking.md")
    for name in (*files, "variance_mse.png", "cosine.png", "mse_cost.png"):
        assert (run / name).is_file(), name
    assert not (run / "failures.jsonl").exists()
    assert "results: results/tiny/" in proc.stdout and "4 cells: 4 run" in proc.stdout
    assert "MSE rank by batch size (median over 2 seeds, reference exact)" in proc.stdout
    assert "ranking.csv, ranking.md" in proc.stdout
    assert "Traceback" not in proc.stderr

    meta = json.loads((run / "metadata.json").read_text())
    assert meta["suite"]["text"] == SUITE and meta["suite"]["name"] == "tiny"
    assert len(meta["cells"]) == 4 and meta["status"] == "finished"
    assert set(meta["versions"]) >= {"python", "numpy", "numba", "pandas", "pyarrow"}
    assert meta["machine"]["cpu_count"] >= 1 and "commit" in meta["git"]
    assert meta["machine"]["cpu_model"].strip() and "\n" not in meta["machine"]["cpu_model"]
    assert meta["numba"]["num_threads"] >= 1 and meta["numba"]["threading_layer"]

    table = pgbench.load_results(run)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 4 * 2 * len(METRICS)
    assert set(table["metric"]) == set(METRICS) and set(table["x"]) == {2, 8}
    assert set(table["reference"]) == {"exact"} and set(table["x_name"]) == {"batch_size"}
    assert set(table["theta"]) == {"init(seed=0)"}
    assert set(table["theta_params"]) == {'{"kind":"init","seed":0}'}
    assert table["unbiased"].dtype == "boolean" and table["unbiased"].all()

    rank = pd.read_csv(run / "ranking.csv")
    assert list(rank.columns) == RANKING_COLUMNS
    assert len(rank) == 2 * 2 and set(rank["n_seeds"]) == {2}  # 2 sizes x 2 estimators
    assert rank.groupby("batch_size")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]
    md = (run / "ranking.md").read_text()
    assert "bootstrap interval of the median MSE over seeds" in md and "### N = 8" in md
    csv = pd.read_csv(run / "results.csv", keep_default_na=False)
    assert list(csv.columns) == list(COLUMNS)
    np.testing.assert_array_equal(csv["value"].to_numpy(), table["value"].to_numpy())
    one = pgbench.load_results(next((run / "cells").glob("*.parquet")))
    assert len(one) == 2 * len(METRICS) and one["cell"].nunique() == 1


def test_rerun_skips_finished_cells_and_runs_are_deterministic(tmp_path, capsys):
    suite = write_suite(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(suite), "--out", str(a)]) == 0
    first = pgbench.load_results(a)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (a / "cells").glob("*.parquet")}
    capsys.readouterr()

    assert main(["run", str(suite), "--out", str(a)]) == 0
    assert "4 cells: 0 run, 4 already finished, 0 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (a / "cells").glob("*.parquet")} == mtimes
    pd.testing.assert_frame_equal(pgbench.load_results(a), first)

    assert main(["run", str(suite), "--out", str(b)]) == 0  # a fresh run, same suite
    second = pgbench.load_results(b)
    pd.testing.assert_frame_equal(without_timing(second), without_timing(first))
    assert (second.loc[second["metric"] == "seconds", "value"] > 0).all()
    ranks = [pd.read_csv(d / "ranking.csv").drop(columns="seconds_median") for d in (a, b)]
    pd.testing.assert_frame_equal(*ranks)
    assert (a / "ranking.md").read_text() == (b / "ranking.md").read_text()

    changed = write_suite(tmp_path, SUITE.replace("repeats: 4", "repeats: 3"), "changed.yaml")
    assert main(["run", str(changed), "--out", str(a)]) == 0
    assert len(list((a / "cells").glob("*.parquet"))) == 4  # the current cells only ...
    assert len(list((a / "stale-cells").glob("*.parquet"))) == 4  # ... the old ones aside
    assert set(pgbench.load_results(a)["cell"]).isdisjoint(first["cell"])


def test_failing_cells_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    text = SUITE.replace("  - reward-to-go\n", "  - test-nan\n  - test-crash\n")
    suite, out = write_suite(tmp_path, text), tmp_path / "out"
    assert main(["run", str(suite), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "4 failed" in captured.out and "Traceback" not in captured.err

    failures = read_failures(out)
    assert len(failures) == 4
    nan = [f for f in failures if f["method"] == "test-nan"]
    crash = [f for f in failures if f["method"] == "test-crash"]
    assert len(nan) == len(crash) == 2
    assert all("non-finite" in f["error"] and "traceback" not in f for f in nan)
    assert all(f["error"] == "RuntimeError: boom" and "boom" in f["traceback"] for f in crash)
    assert all(len(f["cell"]) == 16 and "\n" not in f["error"] for f in failures)

    table = pgbench.load_results(out)
    assert set(table["method"]) == {"reinforce"} and table["seed"].nunique() == 2
    assert len(list((out / "cells").glob("*.parquet"))) == 2
    assert set(pd.read_csv(out / "results.csv")["method"]) == {"reinforce"}
    assert (out / "variance_mse.png").is_file()

    assert main(["run", str(suite), "--out", str(out)]) == 1  # failed cells are retried
    assert "2 already finished, 4 failed" in capsys.readouterr().out
    assert len(read_failures(out)) == 4


def test_list_names_everything_registered(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "environments:",
        "policies:",
        "estimators:",
        "cartpole-v1",
        "garnet",
        "tabular-softmax",
        "linear-softmax",
        "reinforce",
        "reward-to-go",
    ):
        assert name in out


def test_missing_suite_file_is_one_line_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{tmp_path / 'nope.yaml'}: cannot read suite: No such file or directory"]
    assert not (tmp_path / "o").exists()


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


THETAS = SUITE.replace("seeds: 2", "seeds: 1").replace(
    "reference_episodes: 100\n",
    "reference_episodes: 100\nthetas:\n  - {kind: init, seed: 0}\n"
    "  - {kind: path, seed: 0, steps: 2, lr: 1.0, estimator: exact, label: trained}\n",
)


def test_thetas_min_batch_and_unspendable_batch_sizes(tmp_path, capsys):
    text = THETAS.replace(
        "  - reward-to-go\n",
        "  - {name: test-needs-8, label: fits, min_batch: 8}\n  - {name: test-needs-8}\n",
    )
    suite, out = write_suite(tmp_path, text), tmp_path / "out"
    assert main(["run", str(suite), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "6 cells: 4 run, 0 already finished, 2 failed" in captured.out
    failures = read_failures(out)
    assert {f["theta"] for f in failures} == {"init(seed=0)", "trained"}
    assert all(
        f["error"] == "estimator 'test-needs-8' at batch size 2: needs at least 8 episodes, "
        "got 2 (an estimator's min_batch skips the batch sizes below it)"
        for f in failures
    )
    table = pgbench.load_results(out)
    assert list(dict.fromkeys(table["theta"])) == ["init(seed=0)", "trained"]
    fits = table[table["method_label"] == "fits"]
    assert set(fits["x"]) == {8} and set(table.loc[table["method"] == "reinforce", "x"]) == {2, 8}
    assert not fits["unbiased"].any()  # test-needs-8 is registered as biased
    rank = pd.read_csv(out / "ranking.csv")
    assert set(rank["theta"]) == {"init(seed=0)", "trained"}
    assert rank.groupby(["theta", "batch_size"]).size().to_dict() == {
        ("init(seed=0)", 2): 1,
        ("init(seed=0)", 8): 2,
        ("trained", 2): 1,
        ("trained", 8): 2,
    }
    for name in ("variance_mse.png", "cosine.png", "mse_cost.png", "ranking.md"):
        assert (out / name).is_file()
    assert "theta trained" in captured.out


WARNED = """\
name: warned
experiment: learning-curve
seeds: 1
env_steps: 12
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, horizon: 8}}
policies: [tabular-softmax]
algorithms:
  - {name: reinforce, params: {episodes: 4}}
"""


def test_a_budget_of_a_few_updates_warns_with_its_position_and_runs(tmp_path, capsys):
    suite, out = write_suite(tmp_path, WARNED), tmp_path / "out"
    assert main(["run", str(suite), "--out", str(out), "--executor", "serial", "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"pgbench: warning: {suite}:4:12: algorithm 'reinforce(episodes=4)' on env "
        "'garnet(n_states=3,n_actions=2,horizon=8)': a budget of 12 env steps buys at most 3 "
        "complete updates (4-32 env steps each); fewer than 5 rarely make progress"
    ]
    assert pgbench.load_results(out)["cell"].nunique() == 1


@pytest.mark.parametrize("case", ["file-in-the-way", "name-too-long"])
def test_a_run_directory_that_cannot_be_created_is_one_line_exit_2(tmp_path, capsys, case):
    suite = write_suite(tmp_path)
    (tmp_path / "afile").write_text("")
    out = {
        "file-in-the-way": tmp_path / "afile" / "sub" / "out",
        "name-too-long": tmp_path / "new" / "deeper" / ("x" * 300) / "out",
    }[case]
    before = sorted(tmp_path.rglob("*"))
    assert main(["run", str(suite), "--out", str(out), "--executor", "serial"]) == 2
    captured = capsys.readouterr()
    reason = {"file-in-the-way": "Not a directory", "name-too-long": "File name too long"}[case]
    assert captured.err == f"pgbench: error: cannot create the run directory {out}: {reason}\n"
    assert captured.out == "" and sorted(tmp_path.rglob("*")) == before  # parents removed too


def test_an_over_long_suite_name_is_an_error_before_results_exist(tmp_path, capsys, monkeypatch):
    suite = write_suite(tmp_path, SUITE.replace("name: tiny", "name: " + "n" * 101))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(suite), "--executor", "serial"]) == 2
    assert capsys.readouterr().err.startswith(
        f"{suite}:1:7: name: String should have at most 100 characters, got 'nnn"
    )
    assert not (tmp_path / "results").exists()
    text = SUITE.replace("name: tiny", "name: " + "n" * 100)  # the longest name runs
    assert parse_suite(text).name == "n" * 100
