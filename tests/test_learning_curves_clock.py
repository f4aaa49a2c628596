"""A training run's curve: points on the log_every grid, and a clock without compile time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from pgbench.algorithms.api import train_run
from pgbench.algorithms.trainer import TrainRun
from pgbench.kernels.timing import CompileClock, compile_seconds


def points(run: TrainRun, metric: str) -> list[tuple[int, float]]:
    return [(x, v) for x, m, v in run.rows if m == metric]


def stepped_run(garnet, steps_per_lane: int = 4) -> tuple[TrainRun, object]:
    """A run of budget 100, log_every 10, driven by hand: updates of 4 lanes x 4 steps."""
    env, pol = garnet
    run = TrainRun(env, pol, pol.init(0), 100, seed=0, log_every=10, eval_episodes=0)
    lanes = run.lanes(4)
    run.log(run.theta0)
    while not run.done():
        run.segment(run.theta0, lanes, steps_per_lane)
        run.log(run.theta0)
    return run, lanes


def test_points_are_labelled_with_the_grid_point_they_reached(garnet):
    """Updates of 16 steps against a grid of 10: the point after the update that reached
    32 steps is x = 30 (20 was stepped over), the last one is the budget, 100."""
    run, _ = stepped_run(garnet)
    run.finish(run.theta0)
    spent = points(run, "env_steps")
    assert [x for x, _ in spent] == [0, 10, 30, 40, 60, 80, 90, 100]
    assert [v for _, v in spent] == [0, 16, 32, 48, 64, 80, 96, 112]
    seconds = [v for _, v in points(run, "seconds")]
    assert len(seconds) == 8 and np.all(np.diff(seconds) >= 0)


def test_a_later_state_at_the_budget_replaces_the_point_there(garnet):
    """An actor thread that finishes its segment after the budget was spent (A3C): the
    final point at x = budget holds the last state, once."""
    run, lanes = stepped_run(garnet)
    env = run.env
    seg = run.kernels.segment(env.params, run.theta0, lanes, 4, env.horizon)
    run.record_segment(seg, lanes)
    run.finish(run.theta0)
    spent = points(run, "env_steps")
    assert [x for x, _ in spent] == [0, 10, 30, 40, 60, 80, 90, 100]
    assert spent[-1] == (100, 128.0)


def test_every_seed_of_an_episode_based_run_has_the_same_x(cartpole):
    """REINFORCE on CartPole spends a different number of steps per update on every seed;
    its points are still at 0, 400, 800 and the budget for all of them."""
    env, pol = cartpole
    runs = [
        train_run("reinforce", env, pol, 1200, seed=s, log_every=400, eval_episodes=1, episodes=4)
        for s in range(3)
    ]
    spent = [points(run, "env_steps") for run in runs]
    for run_spent in spent:
        assert [x for x, _ in run_spent] == [0, 400, 800, 1200]
        assert all(v >= x for x, v in run_spent)
    assert len({tuple(v for _, v in s) for s in spent}) > 1  # the seeds did differ


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_compile_clock_counts_nested_and_overlapping_events_once():
    """Nested events of one thread (a kernel compiling its callees) count once; so does the
    time two threads spend in the compiler together (the union of their intervals)."""
    fake = FakeClock()
    clock = CompileClock(fake)
    a, b = ThreadPoolExecutor(1), ThreadPoolExecutor(1)  # two threads, one each

    def at(t, thread, call):
        fake.now = t
        thread.submit(call, None).result()

    at(0.0, a, clock.on_start)
    at(1.0, a, clock.on_start)  # nested
    at(2.0, a, clock.on_end)
    at(3.0, b, clock.on_start)  # overlaps a from 3 to 4
    at(4.0, a, clock.on_end)
    fake.now = 5.0
    assert clock.seconds() == 5.0  # b still inside
    at(6.0, b, clock.on_end)
    at(9.0, a, clock.on_start)
    at(10.0, a, clock.on_end)
    assert clock.seconds() == 7.0  # [0, 6] and [9, 10]
    a.shutdown(), b.shutdown()


def test_compile_seconds_grow_with_a_compilation_only():
    @njit
    def fresh(x):
        return x * 2.0 + 1.0

    before = compile_seconds()
    fresh(1.0)
    compiled = compile_seconds()
    fresh(2.0)
    assert compiled > before
    assert compile_seconds() == compiled


COLD_RUN = """
import json
import pgbench
from pgbench.algorithms.api import train_run

env = pgbench.make_env("garnet", n_states=5, n_actions=3, horizon=12, gamma=0.9, seed=3)
pol = pgbench.make_policy("tabular-softmax", env)
run = train_run("a2c", env, pol, 600, seed=0, backend="serial", log_every=200, eval_episodes=2,
                critic={"kind": "tabular"}, n_envs=4, n_steps=10)
print(json.dumps({"seconds": [[x, v] for x, m, v in run.rows if m == "seconds"],
                  "compile": run.compile_seconds_total, "in_run": run.compile_seconds}))
"""


def test_seconds_leave_out_compilation_on_a_cold_cache(tmp_path):
    """A fresh process with an empty Numba cache compiles every kernel of the run: that
    time is the run's compile time, spent in the warm-up (little is left to compile once
    the timed run starts), and its training seconds are a small part of it."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    out = subprocess.run(
        [sys.executable, "-c", COLD_RUN], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    compiled, seconds = result["compile"], dict((x, v) for x, v in result["seconds"])
    assert sorted(seconds) == [0, 200, 400, 600]
    assert compiled > 0.5, compiled  # a cold cache compiles: the clock saw it
    assert result["in_run"] < compiled / 5, result  # the warm-up compiled the kernels
    assert seconds[200] < compiled / 5, (seconds, compiled)  # the first point after 0
    assert seconds[600] < compiled / 5, (seconds, compiled)  # the whole run
