"""Named tabular MDPs: ``chain`` (a far-sighted trap) and ``garnet`` (seeded random MDPs).

Both are built with :func:`pgbench.envs.tabular.tabular_env`, so they share the
tabular kernels and have exact objectives and gradients (:mod:`pgbench.exact`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from pgbench.envs.base import Env
from pgbench.envs.checks import check_table_size
from pgbench.envs.tabular import tabular_env
from pgbench.errors import InvalidSpecError
from pgbench.registry import ENVS

LEFT = 0
RIGHT = 1
BIG_REWARD = 1.0


def _check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools and non-integers rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidSpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(name: str, value, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite float in [low, high]."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or not low <= v <= high:
        raise InvalidSpecError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")
    return v


def chain_arrays(n: int, slip: float, small_reward: float):
    """(P (n, 2, n), R (n, 2), mu0 (n,)) of the chain; see :func:`make_chain`."""
    P = np.zeros((n, 2, n))
    for s in range(n):
        left, right = max(s - 1, 0), min(s + 1, n - 1)
        P[s, LEFT, left] += 1.0 - slip
        P[s, LEFT, right] += slip
        P[s, RIGHT, right] += 1.0 - slip
        P[s, RIGHT, left] += slip
    R = np.zeros((n, 2))
    R[0, LEFT] = small_reward
    R[n - 1, RIGHT] = BIG_REWARD
    mu0 = np.zeros(n)
    mu0[0] = 1.0
    return P, R, mu0


@ENVS.register("chain")
def make_chain(
    n: int = 5,
    slip: float = 0.1,
    gamma: float = 0.95,
    horizon: int = 20,
    small_reward: float = 0.01,
) -> Env:
    """An n-state chain whose myopic optimum (stay left) is not the far-sighted one (go right).

    States 0 .. n-1 in a row; every episode starts in state 0. Actions: 0 = left,
    1 = right. The intended move happens with probability 1 - ``slip``, the
    opposite move with probability ``slip``; a move past either end stays put
    (so ``P[0, left, 0] = 1 - slip``, ``P[0, left, 1] = slip``). Rewards are
    deterministic and received on taking the action, whatever the move:
    R[0, left] = ``small_reward`` (default 0.01), R[n-1, right] = 1.0, and 0
    elsewhere. A policy that only looks one step ahead keeps collecting the small
    reward at the left end; the optimal one walks n-1 steps right and collects
    1.0 per step from then on (with the defaults J is about 7.6 against 0.12).

    Args:
        n: number of states, >= 2 (and P (n, 2, n) float64 within 2 GiB: n <= 11585).
        slip: probability in [0, 1] that the opposite move happens.
        gamma: discount in (0, 1].
        horizon: actions per episode H, >= 1.
        small_reward: the reward for 'left' at the left end (finite; any sign).
    """
    n = _check_int("chain n", n, 2)
    check_table_size("chain", "n", n, 2)
    slip = _check_float("chain slip", slip, 0.0, 1.0)
    small_reward = _check_float("chain small_reward", small_reward)
    P, R, mu0 = chain_arrays(n, slip, small_reward)
    spec = {"n": n, "slip": slip, "small_reward": small_reward}
    return tabular_env("chain", P, R, mu0, gamma, horizon, spec=spec)


def garnet_arrays(n_states: int, n_actions: int, branching: int, seed: int):
    """(P (S, A, S), R (S, A), mu0 (S,)) of a Garnet MDP, a pure function of the arguments.

    Draws, in this order, from ``numpy.random.default_rng(seed)``: the successor
    sets (the first ``branching`` entries of a uniform random permutation of
    the states, per (s, a)), the ``branching - 1`` uniform cut points per (s, a)
    that split [0, 1] into the successor probabilities (uniform on the simplex),
    and the rewards R[s, a] uniform in [0, 1).
    """
    S, A, b = n_states, n_actions, branching
    rng = np.random.default_rng(seed)
    successors = np.argsort(rng.random((S, A, S)), axis=2)[:, :, :b]
    cuts = np.sort(rng.random((S, A, b - 1)), axis=2)
    edges = np.concatenate([np.zeros((S, A, 1)), cuts, np.ones((S, A, 1))], axis=2)
    probs = np.diff(edges, axis=2)
    R = rng.random((S, A))
    P = np.zeros((S, A, S))
    np.put_along_axis(P, successors, probs, axis=2)
    P /= P.sum(axis=2, keepdims=True)
    mu0 = np.full(S, 1.0 / S)
    return P, R, mu0


@ENVS.register("garnet")
def make_garnet(
    n_states: int = 10,
    n_actions: int = 3,
    branching: int = 3,
    seed: int = 0,
    gamma: float = 0.95,
    horizon: int = 20,
) -> Env:
    """A random Garnet MDP (Archibald, McKinnon & Thomas 1995; Bhatnagar et al. 2009).

    Each (s, a) leads to ``branching`` distinct next states chosen uniformly at
    random, with probabilities uniform on the simplex (random cut points of
    [0, 1]); R[s, a] is uniform in [0, 1) and deterministic; mu0 is uniform over
    the states. Everything is drawn from ``numpy.random.default_rng(seed)``
    (see :func:`garnet_arrays`), so the same arguments give identical arrays.

    Args:
        n_states: S >= 1; P (S, A, S) float64 must fit in
            :data:`~pgbench.envs.checks.MAX_TABLE_BYTES` (2 GiB: S A S <= 2^28).
        n_actions: A >= 1.
        branching: successors per (s, a), 1 <= branching <= n_states.
        seed: non-negative integer seed.
        gamma: discount in (0, 1].
        horizon: actions per episode H, >= 1.
    """
    S = _check_int("garnet n_states", n_states, 1)
    A = _check_int("garnet n_actions", n_actions, 1)
    b = _check_int("garnet branching", branching, 1)
    if b > S:
        raise InvalidSpecError(f"garnet branching must be <= n_states = {S}, got {b}")
    check_table_size("garnet", "n_states", S, A)
    seed = _check_int("garnet seed", seed, 0)
    P, R, mu0 = garnet_arrays(S, A, b, seed)
    return tabular_env("garnet", P, R, mu0, gamma, horizon, spec={"branching": b, "seed": seed})
