"""Shared fixtures; CUDA-simulator tests run only in their own process.

Tests marked ``cudasim`` need ``NUMBA_ENABLE_CUDASIM=1`` set before numba is
imported, so ``nox -s tests`` runs them in a second pytest process; in a plain
process they are deselected (not skipped), and in the simulator process only
they run.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import pgbench

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        is_sim = item.get_closest_marker("cudasim") is not None
        (keep if is_sim == SIMULATOR else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# A linear-softmax CartPole policy that balances (episodes reach the 500-step truncation).
BALANCING_THETA = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 10.0, 3.0, 0.0])
# A weak one (episodes of a few dozen steps, lengths vary a lot).
WOBBLY_THETA = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 5.0, 1.0, 0.0])


@pytest.fixture(scope="session")
def cartpole():
    env = pgbench.make_env("cartpole-v1")
    return env, pgbench.make_policy("linear-softmax", env)


@pytest.fixture(scope="session")
def garnet():
    env = pgbench.make_env("garnet", n_states=5, n_actions=3, horizon=12, gamma=0.9, seed=3)
    return env, pgbench.make_policy("tabular-softmax", env, init_scale=1.0)


@pytest.fixture(scope="session")
def chain():
    env = pgbench.make_env("chain", n=4, horizon=10, gamma=0.9)
    return env, pgbench.make_policy("tabular-softmax", env, init_scale=1.0)


def estimate_error(exc_type, *args, **kwargs) -> str:
    """The message of the ``exc_type`` that ``pgbench.estimate(*args, **kwargs)`` raises,
    after checking that it is one non-empty line."""
    with pytest.raises(exc_type) as info:
        pgbench.estimate(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


class InterruptOnFirstCell:
    """A runner observer that raises KeyboardInterrupt when the first cell finishes (a
    Ctrl-C during a sweep)."""

    def started(self, cells, pending) -> None:
        pass

    def finished(self, outcome) -> None:
        raise KeyboardInterrupt
