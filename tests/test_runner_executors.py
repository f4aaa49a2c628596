"""Serial, threads, local and dask executors give one table, bit for bit (timings aside)."""

from __future__ import annotations

import sys
import warnings

import pandas as pd
import pytest

import pgbench
from pgbench.cli import main
from pgbench.experiments import parse_suite
from pgbench.metrics import TIMING
from pgbench.run.executors import make_executor
from pgbench.run.runner import run_suite

SUITE = """\
name: executors
experiment: gradient-quality
seeds: 2
repeats: 3
batch_sizes: [2, 8]
reference_episodes: 100
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
  - {name: chain, params: {n: 3, horizon: 6}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - reinforce
  - {name: reward-to-go, params: {baseline: optimal}}
"""


def table(run_dir) -> pd.DataFrame:
    df = pgbench.load_results(run_dir)
    return df[~df["metric"].isin(TIMING)].reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    run_suite(parse_suite(SUITE, "suite.yaml"), out, executor=make_executor("serial"))
    return table(out)


def test_local_executor_equals_serial(tmp_path, serial, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    # the CLI's default executor is local; --quiet prints one line
    assert main(["run", str(suite), "--out", str(tmp_path / "o"), "--workers", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and captured.err == ""
    assert captured.out.startswith("8 cells: 8 run, 0 already finished, 0 failed")
    assert len(serial) > 0 and serial["cell"].nunique() == 8
    pd.testing.assert_frame_equal(table(tmp_path / "o"), serial, check_exact=True)


def test_threads_executor_equals_serial(tmp_path, serial):
    out = tmp_path / "o"
    run = run_suite(
        parse_suite(SUITE, "suite.yaml"), out, executor=make_executor("threads", workers=3)
    )
    assert run.ok
    pd.testing.assert_frame_equal(table(out), serial, check_exact=True)


LEARNING = """\
name: seeds-side-by-side
experiment: learning-curve
seeds: 3
env_steps: 640
eval_episodes: 2
backend: cpu
envs:
  - {name: cartpole-v1, log_every: 320}
policies:
  - {name: mlp-softmax, params: {hidden: [8]}}
algorithms:
  - name: ppo-clip
    params: {n_envs: 4, n_steps: 16, batch_size: 32, n_epochs: 2, critic: {hidden: [8]}}
  - name: a2c
    params: {n_envs: 4, n_steps: 5, critic: {hidden: [8]}}
"""


@pytest.mark.parametrize("workers", [2, 3])
def test_seeds_trained_side_by_side_equal_serial(tmp_path, workers):
    """A learning curve's seeds in threads at once: every row as in one-at-a-time."""
    suite = parse_suite(LEARNING, "suite.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small budgets
        run_suite(suite, tmp_path / "s", executor=make_executor("serial"))
        run_suite(suite, tmp_path / "t", executor=make_executor("threads", workers=workers))
    one, side = table(tmp_path / "s"), table(tmp_path / "t")
    assert one["seed"].nunique() == 3 and one["method"].nunique() == 2
    pd.testing.assert_frame_equal(side, one, check_exact=True)


def test_dask_executor_equals_serial(tmp_path, serial):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "o"
    run = run_suite(
        parse_suite(SUITE, "suite.yaml"), out, executor=make_executor("dask", workers=1)
    )
    assert run.ok
    pd.testing.assert_frame_equal(table(out), serial, check_exact=True)


def test_missing_dask_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--out", str(tmp_path / "o"), "--executor", "dask"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "pgbench: error: --executor dask needs dask.distributed: pip install 'pgbench[dask]'"
    ]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--executor", "serial", "--timeout", "5"], "--timeout needs worker processes"),
        (["--executor", "threads", "--timeout", "5"], "--timeout needs worker processes"),
        (["--address", "tcp://127.0.0.1:1"], "--address needs --executor dask"),
        (["--retries", "-1"], "--retries must be at least 0"),
        (["--timeout", "0"], "--timeout must be a positive number"),
    ],
)
def test_bad_executor_options_exit_2(tmp_path, capsys, argv, message):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0]
