"""SIGTERM stops ``pgbench run`` the way Ctrl-C does: exit 143, lock released, metadata
``interrupted``, worker processes gone, finished cells kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner_plugin import plugin_env

from pgbench.cli import EXIT_TERMINATED
from pgbench.run.runlock import LOCK

# one cell that finishes (reinforce), one that hangs until it is stopped
SUITE = """\
name: term
experiment: gradient-quality
seeds: 1
repeats: 2
batch_sizes: [2]
reference_episodes: 100
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies: [tabular-softmax]
estimators: [reinforce, test-hang]
"""


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"  # a zombie has ended; only its exit status is left


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("executor", ["serial", "local"])
def test_sigterm_mid_run_is_handled_like_ctrl_c(executor, monkeypatch, tmp_path):
    plugin_env(monkeypatch, tmp_path)
    suite, out = tmp_path / "suite.yaml", tmp_path / "out"
    suite.write_text(SUITE)
    argv = [sys.executable, "-m", "pgbench", "run", str(suite), "--out", str(out)]
    proc = subprocess.Popen(
        [*argv, "--executor", executor, "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: cleaned up below whatever happens
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "hang.count").exists():  # the hanging cell has started
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        workers = descendants(proc.pid)
        assert (out / LOCK).is_file()
        assert json.loads((out / "metadata.json").read_text())["status"] == "running"
        proc.send_signal(signal.SIGTERM)  # to the run only, not to its process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_TERMINATED == 143
    # (multiprocessing's resource tracker may add a warning of a leaked semaphore after it,
    # as it does on Ctrl-C with the local executor; not this test's subject)
    assert "pgbench: terminated by SIGTERM (finished cells are kept; run again to resume)" in (
        err.splitlines()
    )
    assert "Traceback" not in err
    assert not (out / LOCK).exists()
    assert json.loads((out / "metadata.json").read_text())["status"] == "interrupted"
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]
    if executor == "local":
        assert workers  # the run had worker processes, and stopped them
