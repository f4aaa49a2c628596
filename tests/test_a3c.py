"""A3C's shared update (Hogwild, in place per element): the kernel matches the
one-pass optimizer bit for bit, one worker is A2C bit for bit, and overlapping
updates of two threads all land (a planted whole-vector write loses half)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pgbench.algorithms import a3c as a3c_module
from pgbench.algorithms import optim as optim_module
from pgbench.algorithms.api import train_run
from pgbench.kernels.optim import ADAM, RMSPROP, SGD, ascent_step, ascent_step_inplace

TABULAR = {"critic": {"kind": "tabular"}}
HOGWILD = a3c_module.apply_update  # the tests below monkeypatch the module's name


@pytest.mark.parametrize("kind", [SGD, RMSPROP, ADAM])
@pytest.mark.parametrize("max_norm", [-1.0, 0.5])
def test_inplace_step_equals_the_one_pass_step(kind, max_norm):
    rng = np.random.default_rng(kind)
    params, grad = rng.normal(size=50), rng.normal(size=50)
    m0, v0 = rng.normal(size=50), rng.uniform(0.1, 1.0, size=50)
    m1, v1, m2, v2 = m0.copy(), v0.copy(), m0.copy(), v0.copy()
    args = (3, 0.01, 0.9, 0.999, 0.99, 1e-8, max_norm)
    out = ascent_step(kind, params, grad, m1, v1, *args)
    shared, step = params.copy(), np.empty(50)
    ascent_step_inplace(kind, shared, grad, m2, v2, *args, step)
    np.testing.assert_array_equal(shared, out)
    np.testing.assert_array_equal(params + step, out)
    np.testing.assert_array_equal(m2, m1)
    np.testing.assert_array_equal(v2, v1)


@pytest.mark.parametrize(
    "optimizer",
    [
        {"kind": "rmsprop", "lr": 0.05, "max_grad_norm": 0.5},
        {"kind": "adam", "lr": 0.05, "schedule": "linear"},
    ],
)
def test_one_worker_is_a2c_bit_for_bit(garnet, optimizer):
    env, pol = garnet
    common = dict(n_envs=4, n_steps=12, ent_coef=0.01, optimizer=optimizer, **TABULAR)
    r3 = train_run("a3c", env, pol, 3000, seed=5, eval_episodes=0, n_workers=1, **common)
    r2 = train_run("a2c", env, pol, 3000, seed=5, eval_episodes=0, **common)
    np.testing.assert_array_equal(r3.theta, r2.theta)
    assert r3.env_steps == r2.env_steps


def wholesale_update(opt, shared, grad, t, progress):
    """The former update, a planted fault: the new vector is computed from the
    parameters read at the start and written back whole."""
    p = opt.p
    base = shared.copy()
    args = (t, opt.lr(progress), p.beta1, p.beta2, p.alpha, p.eps, -1.0)
    out = ascent_step(optim_module._KINDS[p.kind], base, grad, opt.m, opt.v, *args)
    yield  # another thread may write here
    shared[:] = out
    return out - base


def inplace_update(opt, shared, grad, t, progress):
    yield
    return HOGWILD(opt, shared, grad, t, progress)


def overlapped(update):
    """``apply_update`` for two threads whose every pair of updates overlaps: both
    threads have read the shared parameters before either writes (a barrier).
    Records the last run's initial parameters and every step it took."""
    barrier = threading.Barrier(2, timeout=1.0)
    lock = threading.Lock()
    log = {}

    def apply(opt, shared, grad, t, progress):
        with lock:
            if log.get("shared") is not shared:  # a new run (train_run warms up first)
                log.update(initial=shared.copy(), shared=shared, steps=[])
        gen = update(opt, shared, grad, t, progress)
        next(gen)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:  # the other thread has finished (or stalled)
            barrier.reset()
        try:
            next(gen)
        except StopIteration as done:
            with lock:
                log["steps"].append(done.value)

    return apply, log


def unaccounted(log) -> float:
    """max_i |final_i - initial_i - sum of the steps taken_i|: 0 up to rounding when
    every step landed."""
    steps = np.array(log["steps"])
    return float(np.abs(log["shared"] - log["initial"] - steps.sum(axis=0)).max())


@pytest.mark.parametrize(("update", "lost"), [(inplace_update, False), (wholesale_update, True)])
def test_overlapping_updates_all_land(garnet, monkeypatch, update, lost):
    env, pol = garnet
    apply, log = overlapped(update)
    monkeypatch.setattr(a3c_module, "apply_update", apply)
    params = dict(n_workers=2, n_envs=2, n_steps=6, optimizer={"kind": "sgd", "lr": 0.5})
    train_run("a3c", env, pol, 2400, seed=0, eval_episodes=0, **params, **TABULAR)
    steps = np.array(log["steps"])
    assert steps.shape[0] >= 2400 // 12
    typical = np.abs(steps).mean()
    if lost:  # one of each overlapping pair is overwritten
        assert unaccounted(log) > 10 * typical
    else:
        assert unaccounted(log) < 1e-12 * steps.shape[0]
