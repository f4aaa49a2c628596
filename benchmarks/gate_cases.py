"""The kernel speed gate's benchmarks: one definition, run against two versions of pgbench.

``benchmarks/gate.py`` starts one worker process per side (the base revision's
``pgbench`` and the working tree's) and both run the cases defined here, so the
two sides do exactly the same work. A case is a ``setup()`` that imports
``pgbench`` (whichever one the worker's ``sys.path`` finds), builds its inputs
and returns the zero-argument ``call`` to time; the worker calls it once to
compile (or load from Numba's on-disk cache) before any timing. Cases use only
the public-ish API that every revision since the gate exists provides
(``pgbench.make_env`` / ``make_policy``, ``pgbench.kernels.build``,
``pgbench.values.make_value``, the policies' ``distributions``); a revision that
lacks one fails the setup, and the gate reports the case as missing.

Sizes: CartPole-v1 with a linear-softmax policy (score accumulation) for the
kernels; Stable-Baselines3 zoo PPO shapes (64x64 tanh networks, minibatch of
256) for the network passes, as in ``benchmarks/test_nets.py``. A sample is the
fastest of ``number`` calls, each timed alone; ``number`` is chosen so that one
sample takes 5-15 ms on the 2-core machine the gate was written on, short
enough that the two sides of a round are timed within a fraction of a second of
each other. Parallel kernels split the episodes into blocks of
``pgbench.kernels.cpu.LANES * EPISODES_PER_LANE`` (1024): the parallel
streaming case has two blocks, one per core; the rollout case has one block
(of 128 stored episodes, the size of a policy-gradient batch), as a user's
``pgbench.rollout`` on the CPU backend runs it.

This module must not import pgbench (or numba) at import time: the gate's
parent process reads ``CASES`` without loading either side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One gated benchmark: ``setup() -> call``; ``number`` calls per timed sample."""

    name: str
    setup: Callable[[], Callable[[], object]]
    number: int
    summary: str


CASES: dict[str, Case] = {}


def case(name: str, number: int, summary: str):
    """Register the decorated setup function as case ``name``."""

    def register(setup):
        CASES[name] = Case(name, setup, number, summary)
        return setup

    return register


# ---------------------------------------------------------------- CartPole kernels

EPISODES_SERIAL = 1024
EPISODES_PARALLEL = 2048  # two blocks of 1024: both cores busy
EPISODES_ROLLOUT = 128
# A moderately good policy: episodes of ~70 steps on average, lengths vary widely.
THETA = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 5.0, 1.0, 0.0)


def _cartpole_kernels(target: str):
    import numpy as np

    import pgbench
    from pgbench.kernels import build

    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("linear-softmax", env)
    return env, build(env, policy, target), np.array(THETA)


def _stream(target: str, episodes: int) -> Callable[[], object]:
    env, k, theta = _cartpole_kernels(target)

    def call():
        return k.stream(env.params, theta, 1, episodes, env.horizon, env.gamma)

    return call


@case("stream-serial", 6, f"streaming kernel, {EPISODES_SERIAL} CartPole episodes, one thread")
def stream_serial():
    return _stream("serial", EPISODES_SERIAL)


@case("stream-parallel", 8, f"streaming kernel, {EPISODES_PARALLEL} CartPole episodes, prange")
def stream_parallel():
    return _stream("parallel", EPISODES_PARALLEL)


@case("rollout-parallel", 8, f"rollout kernel (stored), {EPISODES_ROLLOUT} CartPole episodes")
def rollout_parallel():
    env, k, theta = _cartpole_kernels("parallel")

    def call():
        return k.rollout(env.params, theta, 1, EPISODES_ROLLOUT, env.horizon)

    return call


# ---------------------------------------------------------------- network passes (PPO shapes)

BATCH = 256


def _ppo_case():
    """(policy, value, theta, phi, obs, actions, adv, returns) as in benchmarks/test_nets.py."""
    import numpy as np

    import pgbench
    from pgbench.values import make_value

    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[64, 64])
    value = make_value("mlp", env, hidden=(64, 64))
    rng = np.random.default_rng(0)
    theta, phi = policy.init(0), value.init(1)
    obs = rng.normal(scale=[1.0, 1.0, 0.1, 1.0], size=(BATCH, 4))
    actions = rng.integers(0, 2, size=BATCH)
    adv = rng.normal(size=BATCH)
    returns = rng.normal(size=BATCH)
    return policy, value, theta, phi, obs, actions, adv, returns


@case("policy-forward", 40, f"mlp-softmax 64x64: probabilities, log-prob, entropy, batch {BATCH}")
def policy_forward():
    policy, _, theta, _, obs, actions, _, _ = _ppo_case()

    def call():
        dist = policy.distributions(theta, obs)
        return dist.log_prob(actions), dist.entropy()

    return call


@case("policy-backward", 40, f"mlp-softmax 64x64: surrogate + entropy gradient, batch {BATCH}")
def policy_backward():
    policy, _, theta, _, obs, actions, adv, _ = _ppo_case()
    dist = policy.distributions(theta, obs)

    def call():
        return dist.grad(actions, adv / BATCH, 0.01)

    return call


@case("value-forward-backward", 20, f"mlp value 64x64: forward and gradient, batch {BATCH}")
def value_forward_backward():
    _, value, _, phi, obs, _, _, returns = _ppo_case()

    def call():
        out = value.forward(phi, obs)
        return out.grad(returns - out.values)

    return call


@case("ppo-update", 10, f"one PPO minibatch: policy and value forward + backward, {BATCH}")
def ppo_update():
    import numpy as np

    policy, value, theta, phi, obs, actions, adv, returns = _ppo_case()
    n = obs.shape[0]

    def call():
        """The model-layer work of one PPO minibatch step (clip 0.2, ent 0, vf 0.5)."""
        dist = policy.distributions(theta, obs)
        logp = dist.log_prob(actions)
        ratio = np.exp(logp - logp)  # stands in for the ratio to the rollout policy
        w_logp = np.where((ratio < 1.2) & (ratio > 0.8), adv / n, 0.0) * ratio
        dist.entropy()
        g_theta = dist.grad(actions, w_logp, w_ent=0.0)
        out = value.forward(phi, obs)
        return g_theta, out.grad(0.5 * 2.0 * (returns - out.values) / n)

    return call
