"""A plugin module of misbehaving estimators, and the plugin mechanism itself.

Worker processes import this module through ``PGBENCH_PLUGINS=test_runner_plugin``
(with ``tests/`` on the path), which registers the estimators below there too.
Each one that fails appends a line to ``$PGBENCH_TEST_DIR/<name>.count`` first,
so a test can count the attempts a cell got.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

import numpy as np

from pgbench.cli import main
from pgbench.estimators.base import Estimator, NoParams
from pgbench.registry import ESTIMATORS

PLUGIN = "test_runner_plugin"
TESTS_DIR = Path(__file__).resolve().parent


_SEEN: set[str] = set()  # estimators called in this process (an estimator is called
# several times per cell; each attempt of a crashing cell runs in a fresh process)


def _attempt(name: str) -> int:
    """Record one attempt of ``name`` (its first call in this process); the number of
    attempts so far."""
    path = Path(os.environ["PGBENCH_TEST_DIR"]) / f"{name}.count"
    if str(path) not in _SEEN:  # workers may serve several tests
        _SEEN.add(str(path))
        with open(path, "a") as f:
            f.write("x\n")
    return len(path.read_text().splitlines())


def _reinforce(sampler, theta, episodes, seed):
    sums = sampler.episode_sums(theta, episodes, seed)
    return sums.returns @ sums.score_sums / episodes


def _sleepy(sampler, theta, episodes, seed, params):
    time.sleep(float(os.environ.get("PGBENCH_TEST_SLEEP", "0.05")))
    return _reinforce(sampler, theta, episodes, seed)


def _segfault(sampler, theta, episodes, seed, params):
    _attempt("segfault")
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def _exit(sampler, theta, episodes, seed, params):
    _attempt("exit")
    os._exit(7)


def _oom_kill(sampler, theta, episodes, seed, params):
    _attempt("oom-kill")
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer sends


def _flaky(sampler, theta, episodes, seed, params):
    if _attempt("flaky") == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return _reinforce(sampler, theta, episodes, seed)


def _hang(sampler, theta, episodes, seed, params):
    _attempt("hang")
    time.sleep(600)


def _huge(sampler, theta, episodes, seed, params):
    _attempt("huge")
    return np.full(theta.shape, 1e200)  # finite, but its squared error overflows to inf


def _raises(sampler, theta, episodes, seed, params):
    _attempt("raises")
    raise RuntimeError("deterministic bug")


for _name, _fn in (
    ("test-sleepy", _sleepy),
    ("test-segfault", _segfault),
    ("test-exit", _exit),
    ("test-oom-kill", _oom_kill),
    ("test-flaky", _flaky),
    ("test-hang", _hang),
    ("test-huge", _huge),
    ("test-raises", _raises),
):
    if _name not in ESTIMATORS:
        ESTIMATORS.register(_name)(
            Estimator(name=_name, fn=_fn, params=NoParams, unbiased=False, citation=__file__)
        )


def plugin_env(monkeypatch, tmp_path) -> None:
    """Point workers (and child ``pgbench`` processes) at this plugin module."""
    monkeypatch.setenv("PGBENCH_PLUGINS", PLUGIN)
    monkeypatch.setenv("PGBENCH_TEST_DIR", str(tmp_path))
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), *filter(None, [path])]))


def attempts(tmp_path, name: str) -> int:
    path = tmp_path / f"{name}.count"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_plugins_register_names_for_list(monkeypatch, tmp_path, capsys):
    plugin_env(monkeypatch, tmp_path)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "test-segfault" in out and "test-hang" in out


def test_a_missing_plugin_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PGBENCH_PLUGINS", f"{PLUGIN}, no_such_plugin_module")
    assert main(["run", str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "pgbench: error: cannot import plugin module 'no_such_plugin_module': "
        "ModuleNotFoundError: No module named 'no_such_plugin_module'"
    ]
    assert not (tmp_path / "o").exists()
