"""Resume after kill -9, --force, and the run directory's lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_runner_plugin import plugin_env

import pgbench
from pgbench.cli import main
from pgbench.experiments import parse_suite
from pgbench.metrics import TIMING
from pgbench.run.executors import SerialExecutor
from pgbench.run.runlock import LOCK, RunLock
from pgbench.run.runner import run_suite
from tests.conftest import InterruptOnFirstCell

SUITE = """\
name: resume
experiment: gradient-quality
seeds: 3
repeats: 2
batch_sizes: [2, 4]
reference_episodes: 100
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax}
estimators:
  - reinforce
  - test-sleepy
"""


def without_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df[~df["metric"].isin(TIMING)].reset_index(drop=True)


def write_suite(tmp_path, text: str = SUITE):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


SMALL = SUITE.replace("seeds: 3", "seeds: 1")  # two cells


def test_kill_9_mid_sweep_then_resume_equals_an_uninterrupted_run(monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    suite, out = write_suite(tmp_path), tmp_path / "killed"
    env = {**os.environ, "PGBENCH_TEST_SLEEP": "0.3"}  # 4 calls: about 1.2 s per cell
    argv = [sys.executable, "-m", "pgbench.cli", "run", str(suite), "--out", str(out)]
    proc = subprocess.Popen(
        [*argv, "--workers", "2", "--quiet"],
        env=env,
        start_new_session=True,  # its own process group, workers included
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "cells").glob("*.parquet"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    files = list((out / "cells").glob("*.parquet"))
    assert 2 <= len(files) < 6
    for path in files:  # every finished file is whole
        assert pq.read_table(path).num_rows > 0
    assert (out / LOCK).is_file()  # left by the dead run: stale

    assert main(["run", str(suite), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert not list((out / "cells").glob(".*.tmp")) and not (out / LOCK).exists()
    fresh = tmp_path / "fresh"
    assert run_suite(parse_suite(SUITE, "suite.yaml"), fresh).ok
    resumed = pgbench.load_results(out)
    assert resumed["cell"].nunique() == 6
    pd.testing.assert_frame_equal(
        without_timing(resumed), without_timing(pgbench.load_results(fresh)), check_exact=True
    )


def test_force_recomputes_finished_cells(monkeypatch, tmp_path, capsys):
    plugin_env(monkeypatch, tmp_path)
    suite, out = write_suite(tmp_path, SMALL), tmp_path / "out"
    assert run_suite(parse_suite(SMALL, "suite.yaml"), out).count("done") == 2
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.parquet")}
    assert run_suite(parse_suite(SMALL, "suite.yaml"), out).count("skipped") == 2
    argv = ["run", str(suite), "--out", str(out), "--executor", "serial", "--quiet", "--force"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("2 cells: 2 run, 0 already finished, 0 failed")
    after = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.parquet")}
    assert after.keys() == mtimes.keys() and all(after[k] > mtimes[k] for k in after)


def lock_file(run_dir, pid: int, host: str | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    holder = {
        "pid": pid,
        "host": host or socket.gethostname(),
        "started": "2024-01-02T03:04:05+00:00",
        "command": "pgbench run other.yaml",
    }
    (run_dir / LOCK).write_text(json.dumps(holder))


def test_a_live_lock_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    plugin_env(monkeypatch, tmp_path)
    out = tmp_path / "out"
    other = subprocess.Popen(["sleep", "60"])
    try:
        lock_file(out, other.pid)
        before = (out / LOCK).read_text()
        assert main(["run", str(write_suite(tmp_path)), "--out", str(out)]) == 2
    finally:
        other.kill()
        other.wait()
    err = capsys.readouterr().err.splitlines()
    host = socket.gethostname()
    assert err == [
        f"pgbench: error: {out} is in use by another run (pid {other.pid} on {host}, "
        f"started 2024-01-02T03:04:05+00:00); wait for it to end, or remove {out / LOCK} "
        "if that run is dead"
    ]
    assert (out / LOCK).read_text() == before and not list((out / "cells").glob("*"))


def test_a_lock_of_another_host_is_not_taken(tmp_path):
    lock_file(tmp_path, os.getpid() + 1_000_000, host="elsewhere.invalid")
    with pytest.raises(pgbench.PgbenchError, match="elsewhere.invalid"):
        RunLock(tmp_path).acquire()


def test_a_stale_lock_is_taken_over_and_released(monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_file(out, dead.pid)
    summary = run_suite(parse_suite(SMALL, "suite.yaml"), out, executor=SerialExecutor())
    assert summary.ok and summary.count("done") == 2
    assert not (out / LOCK).exists()


def test_the_lock_is_released_on_keyboard_interrupt(monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    suite = parse_suite(SUITE, "suite.yaml")
    with pytest.raises(KeyboardInterrupt):
        run_suite(
            suite, tmp_path / "out", executor=SerialExecutor(), observer=InterruptOnFirstCell()
        )
    assert not (tmp_path / "out" / LOCK).exists()
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["status"] == "interrupted"
