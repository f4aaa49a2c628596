"""The parallel target picks serial or parallel drivers per call; results never change.

Small calls (one block of episodes, little work, one Numba thread, or a thread inside
``serial_calls()``) run on the serial target's drivers, large ones on the prange drivers;
``last_driver()`` says which ran. Every array must equal the serial target's bit for bit.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest

import pgbench
from pgbench.kernels import build, build_returns
from pgbench.kernels.build import (
    SERIAL_BELOW_CELLS,
    SERIAL_BELOW_STEPS,
    Kernels,
    last_driver,
    serial_calls,
)
from pgbench.kernels.cpu import EPISODES_PER_LANE, LANES
from tests.conftest import WOBBLY_THETA

BLOCK = LANES * EPISODES_PER_LANE  # episodes of one parallel block
SMALL, LARGE = 16, BLOCK + 76  # one block; two blocks
ROLLOUT_T = 40  # large rollouts store (E, T, P) scores: keep T short
assert LARGE * 12 >= SERIAL_BELOW_STEPS  # 12: the garnet's horizon


@pytest.fixture(scope="module", params=["linear", "mlp", "garnet"])
def pair(request, cartpole, garnet):
    env, linear = cartpole
    if request.param == "linear":
        return env, linear, WOBBLY_THETA
    if request.param == "garnet":
        env, tabular = garnet
        return env, tabular, tabular.init(4)
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[8])
    return env, policy, policy.init(3)


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def _stream(k, env, theta, episodes, seed=5):
    return k.stream(env.params, theta, seed, episodes, env.horizon, env.gamma)


def _rollout(k, env, theta, episodes, seed=6):
    return k.rollout(env.params, theta, seed, episodes, min(ROLLOUT_T, env.horizon))


@pytest.mark.parametrize("call", [_stream, _rollout])
@pytest.mark.parametrize(("episodes", "driver"), [(SMALL, "serial"), (LARGE, "parallel")])
def test_episode_calls_equal_serial_target(pair, call, episodes, driver):
    env, policy, theta = pair
    expected = call(build(env, policy, "serial"), env, theta, episodes)
    got = call(build(env, policy, "parallel"), env, theta, episodes)
    assert last_driver() == driver
    _assert_same(got, expected)


@pytest.mark.parametrize("lanes", [8, LARGE])
def test_segments_equal_serial_target(pair, lanes):
    """Segments run on the serial driver on every CPU target (a few lanes each)."""
    env, policy, theta = pair
    out = []
    for target in ("serial", "parallel"):
        k = build(env, policy, target)
        state = k.start_lanes(env.params, 9, lanes)
        segs = [k.segment(env.params, theta, state, 24, env.horizon) for _ in range(2)]
        assert last_driver() == "serial"
        out.append((segs, state.arrays()))
    (segs_s, lanes_s), (segs_p, lanes_p) = out
    for a, b in zip(segs_s, segs_p, strict=True):
        _assert_same(a, b)
    _assert_same(lanes_s, lanes_p)


@pytest.mark.parametrize(("shape", "driver"), [((16, 60), "serial"), ((2048, 64), "parallel")])
def test_return_scans_equal_serial_target(shape, driver):
    assert (shape[0] * shape[1] >= SERIAL_BELOW_CELLS) == (driver == "parallel")
    rng = np.random.default_rng(1)
    rewards = rng.normal(size=shape)
    mask = (rng.random(shape) < 0.9).astype(float)
    values = rng.normal(size=(shape[0], shape[1] + 1))
    dones = (rng.random(shape) < 0.1).astype(float)
    calls = {
        "discounted_return": lambda o: o.discounted_return(rewards, mask, 0.99),
        "reward_to_go": lambda o: o.reward_to_go(rewards, mask, 0.99),
        "td_errors": lambda o: o.td_errors(rewards, values, mask, 0.99),
        "gae": lambda o: o.gae(rewards, values, mask, 0.99, 0.95),
        "gae_segment": lambda o: o.gae_segment(rewards, values[:, :-1], values[:, 1:], dones,
                                               0.99, 0.95),
    }  # fmt: skip
    serial, parallel = build_returns("serial"), build_returns("parallel")
    for name, call in calls.items():
        expected = call(serial)
        got = call(parallel)
        assert last_driver() == driver, name
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_serial_drivers_are_built_on_the_first_small_call(pair):
    env, policy, theta = pair
    routed = build(env, policy, "parallel")
    made = []

    def make_serial():
        made.append(1)
        return build(env, policy, "serial")

    k = Kernels("parallel", routed.dims, routed._drivers, routed.continuous, serial=make_serial)
    _stream(k, env, theta, LARGE)
    assert made == [] and last_driver() == "parallel"
    _stream(k, env, theta, SMALL)
    _rollout(k, env, theta, SMALL)
    assert made == [1] and last_driver() == "serial"


def test_short_horizons_run_serially(cartpole):
    """Two blocks of episodes but fewer than SERIAL_BELOW_STEPS steps in all."""
    env, policy = cartpole
    k = build(env, policy, "parallel")
    horizon = SERIAL_BELOW_STEPS // LARGE
    k.stream(env.params, WOBBLY_THETA, 1, LARGE, horizon, env.gamma)
    assert last_driver() == "serial"
    k.stream(env.params, WOBBLY_THETA, 1, LARGE, horizon + 1, env.gamma)
    assert last_driver() == "parallel"


def test_one_numba_thread_runs_serially(cartpole):
    env, policy = cartpole
    k = build(env, policy, "parallel")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _stream(k, env, WOBBLY_THETA, LARGE)
        assert last_driver() == "serial"
    finally:
        numba.set_num_threads(before)
    _stream(k, env, WOBBLY_THETA, LARGE)
    assert last_driver() == ("parallel" if before > 1 else "serial")


def test_serial_calls_covers_this_thread_only_and_ends_with_the_block(cartpole):
    env, policy = cartpole
    k, ops = build(env, policy, "parallel"), build_returns("parallel")
    big = np.ones((4096, 64))
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        entered.wait(30)
        _stream(k, env, WOBBLY_THETA, LARGE)
        seen["kernels"] = last_driver()
        ops.reward_to_go(big, big, 0.9)
        seen["returns"] = last_driver()
        checked.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with serial_calls():
        with serial_calls():  # nested: still serial after the inner block
            pass
        _stream(k, env, WOBBLY_THETA, LARGE)
        assert last_driver() == "serial"
        ops.reward_to_go(big, big, 0.9)
        assert last_driver() == "serial"
        entered.set()
        assert checked.wait(60)
    t.join(60)
    assert seen == {"kernels": "parallel", "returns": "parallel"}
    _stream(k, env, WOBBLY_THETA, LARGE)
    assert last_driver() == "parallel"


def test_threads_in_serial_calls_at_once_equal_serial_target(pair):
    env, policy, theta = pair
    expected = [_stream(build(env, policy, "serial"), env, theta, LARGE, seed=s) for s in (1, 2)]
    k = build(env, policy, "parallel")
    start = threading.Barrier(2)
    got, drivers = {}, {}

    def work(seed):
        with serial_calls():
            start.wait(30)
            for _ in range(3):
                got[seed] = _stream(k, env, theta, LARGE, seed=seed)
            drivers[seed] = last_driver()

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert drivers == {1: "serial", 2: "serial"}
    for seed, exp in zip((1, 2), expected, strict=True):
        _assert_same(got[seed], exp)
