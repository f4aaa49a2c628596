"""Named tabular MDPs: ``chain`` (a far-sighted trap) and ``garnet`` (seeded random MDPs).

Both are built with :func:`pgbench.envs.tabular.tabular_env`, so they share the
tabular kernels and have exact objectives and gradients (:mod:`pgbench.exact`).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from pgbench.envs.base import Env
from pgbench.envs.checks import Gamma, Horizon, at_least, check_table_size, within
from pgbench.envs.tabular import tabular_env
from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

LEFT = 0
RIGHT = 1
BIG_REWARD = 1.0


class ChainParams(HyperParams):
    """Parameters of ``chain`` (see :func:`make_chain`)."""

    n: Annotated[int, at_least("chain n", 2)] = Field(5, description="number of states")
    slip: Annotated[float, within("chain slip", 0.0, 1.0)] = Field(
        0.1, description="probability that the opposite move happens"
    )
    gamma: Gamma = Field(0.95, description="discount in (0, 1]")
    horizon: Horizon = Field(20, description="actions per episode")
    small_reward: float = Field(0.01, description="the reward for 'left' at the left end")

    @model_validator(mode="after")
    def _fits_in_memory(self) -> ChainParams:
        check_table_size("chain", "n", self.n, 2)
        return self


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

    Args (validated by :class:`ChainParams`):
        n: number of states, >= 2 (and P (n, 2, n) float64 within 2 GiB: n <= 11585).
        slip: probability in [0, 1] that the opposite move happens.
        gamma: discount in (0, 1].
        horizon: actions per episode H, >= 1.
        small_reward: the reward for 'left' at the left end (finite; any sign).
    """
    P, R, mu0 = chain_arrays(n, slip, small_reward)
    spec = {"n": n, "slip": slip, "small_reward": small_reward}
    return tabular_env("chain", P, R, mu0, gamma, horizon, spec=spec)


class GarnetParams(HyperParams):
    """Parameters of ``garnet`` (see :func:`make_garnet`)."""

    n_states: Annotated[int, at_least("garnet n_states", 1)] = Field(10, description="S")
    n_actions: Annotated[int, at_least("garnet n_actions", 1)] = Field(3, description="A")
    branching: Annotated[int, at_least("garnet branching", 1)] = Field(
        3, description="successors per (s, a), at most n_states"
    )
    seed: Annotated[int, at_least("garnet seed", 0)] = Field(0, description="seed of the arrays")
    gamma: Gamma = Field(0.95, description="discount in (0, 1]")
    horizon: Horizon = Field(20, description="actions per episode")

    @model_validator(mode="after")
    def _consistent(self) -> GarnetParams:
        S, b = self.n_states, self.branching
        if b > S:
            raise InvalidSpecError(f"garnet branching must be <= n_states = {S}, got {b}")
        check_table_size("garnet", "n_states", S, self.n_actions)
        return self


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

    Args (validated by :class:`GarnetParams`):
        n_states: S >= 1; P (S, A, S) float64 must fit in
            :data:`~pgbench.envs.checks.MAX_TABLE_BYTES` (2 GiB: S A S <= 2^28).
        n_actions: A >= 1.
        branching: successors per (s, a), 1 <= branching <= n_states.
        seed: non-negative integer seed.
        gamma: discount in (0, 1].
        horizon: actions per episode H, >= 1.
    """
    P, R, mu0 = garnet_arrays(n_states, n_actions, branching, seed)
    spec = {"branching": branching, "seed": seed}
    return tabular_env("garnet", P, R, mu0, gamma, horizon, spec=spec)


ENVS.add(
    Component(
        name="chain",
        fn=make_chain,
        params=ChainParams,
        summary="an n-state chain whose myopic optimum (stay left) is not the far-sighted one",
    )
)
ENVS.add(
    Component(
        name="garnet",
        fn=make_garnet,
        params=GarnetParams,
        citation="Archibald, McKinnon & Thomas (1995), JORS 46; Bhatnagar et al. (2009), "
        "Automatica 45",
        summary="a seeded random MDP: `branching` successors per (s, a), uniform rewards",
    )
)
