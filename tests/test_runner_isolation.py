"""Failure isolation in worker processes: crashes, timeouts, retries, non-finite rows."""

from __future__ import annotations

import time

from test_runner_plugin import attempts, plugin_env

import pgbench
from pgbench.cli import main
from pgbench.results import read_failures

SUITE = """\
name: isolation
experiment: gradient-quality
seeds: 1
repeats: 2
batch_sizes: [4]
reference_episodes: 100
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax}
estimators:
"""


def run(tmp_path, estimators: list[str], *flags: str) -> tuple[int, dict]:
    """``pgbench run`` (local executor, 2 workers) of a suite of ``estimators``; the exit
    code and the failure records by estimator."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE + "".join(f"  - {name}\n" for name in estimators))
    code = main(["run", str(suite), "--out", str(tmp_path / "out"), "--workers", "2", *flags])
    return code, {f["method"]: f for f in read_failures(tmp_path / "out")}


def test_crashing_workers_are_isolated_and_recorded(monkeypatch, tmp_path, capsys):
    plugin_env(monkeypatch, tmp_path)
    crashing = ["test-segfault", "test-exit", "test-oom-kill"]
    code, failures = run(tmp_path, ["reinforce", *crashing], "--retries", "0")
    assert code == 1
    assert set(failures) == set(crashing)
    assert all(f["status"] == "worker-died" and f["attempts"] == 1 for f in failures.values())
    assert failures["test-segfault"]["error"] == "worker process killed by SIGSEGV"
    assert failures["test-exit"]["error"] == "worker process exit code 7"
    assert failures["test-oom-kill"]["error"] == "worker process killed by SIGKILL (out of memory?)"
    assert [attempts(tmp_path, n.removeprefix("test-")) for n in crashing] == [1, 1, 1]
    table = pgbench.load_results(tmp_path / "out")
    assert set(table["method"]) == {"reinforce"}  # the healthy cell finished
    out = capsys.readouterr().out
    assert "4 cells: 1 run, 0 already finished, 3 failed" in out and "worker-died" in out


def test_retries_rerun_worker_deaths_not_deterministic_failures(monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    methods = ["test-flaky", "test-oom-kill", "test-huge", "test-raises"]
    code, failures = run(tmp_path, methods, "--retries", "2")
    assert code == 1
    assert set(failures) == {"test-oom-kill", "test-huge", "test-raises"}  # flaky recovered
    assert [attempts(tmp_path, n) for n in ("flaky", "oom-kill", "huge", "raises")] == [2, 3, 1, 1]
    assert failures["test-oom-kill"]["attempts"] == 3
    assert failures["test-huge"]["status"] == "nonfinite"
    assert failures["test-huge"]["error"].startswith("2 non-finite value(s) in the results")
    assert failures["test-raises"]["status"] == "error"
    assert failures["test-raises"]["error"] == "RuntimeError: deterministic bug"
    assert {f["attempts"] for m, f in failures.items() if m != "test-oom-kill"} == {1}
    assert set(pgbench.load_results(tmp_path / "out")["method"]) == {"test-flaky"}


def test_timeout_kills_a_slow_cell_and_the_sweep_goes_on(monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    start = time.monotonic()
    code, failures = run(tmp_path, ["test-hang", "reinforce"], "--timeout", "4", "--retries", "1")
    assert time.monotonic() - start < 60  # not the 600 s the cell would sleep
    assert code == 1 and set(failures) == {"test-hang"}
    hang = failures["test-hang"]
    assert hang["status"] == "timeout" and hang["error"] == "timed out after 4 s"
    assert hang["attempts"] == 2 and attempts(tmp_path, "hang") == 2
    assert set(pgbench.load_results(tmp_path / "out")["method"]) == {"reinforce"}


class _Stub:
    def __init__(self, alive: bool, cell) -> None:
        self.alive, self.cell, self.closed = alive, cell, False

    def close(self, kill: bool = True) -> None:
        self.closed = True


def test_a_dead_worker_keeps_its_cell_until_its_death_is_reported():
    """A worker may die between two looks at the pool: feeding the pool must not drop it
    with its cell (the death is reported from its pipe), only dead idle workers go."""
    from pgbench.run.executors import LocalExecutor

    busy_dead, idle_dead = _Stub(False, "cell-a"), _Stub(False, None)
    pool = [busy_dead, idle_dead]
    LocalExecutor._feed(None, [], pool, size=2, threads=1)
    assert pool == [busy_dead] and not busy_dead.closed and idle_dead.closed
