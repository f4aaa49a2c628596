"""Finite MDPs given as arrays: ``make_env("tabular", P=P, R=R, mu0=mu0, gamma=g, horizon=H)``.

P[s, a, s'] is the transition probability, R[s, a] the deterministic reward
received on taking a in s, mu0[s] the start distribution. An episode takes
H actions (t = 0 .. H-1) and the objective is J(theta) = E[sum_{t<H} gamma^t r_t];
:mod:`pgbench.exact` computes it and its gradient in closed form. The
observation is the state index (obs_dim 1), read by ``tabular-softmax``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_gamma, check_horizon
from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

PROB_ATOL = 1e-9


def validate_mdp(P, R, mu0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 copies of (P, R, mu0) after checking shapes, signs and sums."""
    try:
        P = np.array(P, dtype=np.float64)
        R = np.array(R, dtype=np.float64)
        mu0 = np.array(mu0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"P, R and mu0 must be numeric arrays: {exc}") from None
    if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] < 1 or P.shape[1] < 1:
        raise InvalidSpecError(f"P must have shape (S, A, S), got {P.shape}")
    S, A = P.shape[:2]
    if R.shape != (S, A):
        raise InvalidSpecError(f"R must have shape (S, A) = ({S}, {A}), got {R.shape}")
    if mu0.shape != (S,):
        raise InvalidSpecError(f"mu0 must have shape (S,) = ({S},), got {mu0.shape}")
    for name, arr in (("P", P), ("R", R), ("mu0", mu0)):
        if not np.all(np.isfinite(arr)):
            raise InvalidSpecError(f"{name} has non-finite entries")
    if np.any(P < 0):
        s, a, s2 = np.argwhere(P < 0)[0]
        raise InvalidSpecError(f"P has a negative entry: P[{s}, {a}, {s2}] = {P[s, a, s2]}")
    if np.any(mu0 < 0):
        s = int(np.argmax(mu0 < 0))
        raise InvalidSpecError(f"mu0 has a negative entry: mu0[{s}] = {mu0[s]}")
    sums = P.sum(axis=2)
    bad = np.abs(sums - 1.0) > PROB_ATOL
    if np.any(bad):
        s, a = np.argwhere(bad)[0]
        raise InvalidSpecError(f"P[{s}, {a}, :] sums to {sums[s, a]!r}, not 1")
    if abs(mu0.sum() - 1.0) > PROB_ATOL:
        raise InvalidSpecError(f"mu0 sums to {mu0.sum()!r}, not 1")
    return P, R, mu0


def inverse_cdf_table(p: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis, exactly 1.0 from the last nonzero entry on.

    An index drawn as ``count(u >= cdf[:-1])`` for u in [0, 1) then never lands
    on a zero-probability outcome.
    """
    cdf = np.cumsum(p, axis=-1)
    n = p.shape[-1]
    last = n - 1 - np.argmax(p[..., ::-1] > 0, axis=-1)
    cdf[np.arange(n) >= last[..., None]] = 1.0
    return cdf


def _make_cores_factory(S: int, A: int):
    P_OFF = 0
    R_OFF = S * A * S
    MU_OFF = R_OFF + S * A

    def make_cores(lib) -> EnvCores:
        uniform = lib.uniform
        step_counter = lib.step_counter

        def reset(ep, key, state, j):
            u = uniform(key, np.uint64(0))
            s = 0
            for i in range(S - 1):
                s += u >= ep[MU_OFF + i]
            state[0, j] = s

        def step(ep, key, t, state, j, a):
            s = np.int64(state[0, j])
            r = ep[R_OFF + s * A + a]
            u = uniform(key, step_counter(t, 1))
            row = P_OFF + (s * A + a) * S
            s2 = 0
            for i in range(S - 1):
                s2 += u >= ep[row + i]
            state[0, j] = s2
            return r, False

        def observe(ep, state, j, obs):
            obs[0, j] = state[0, j]

        return EnvCores(reset, step, observe)

    return make_cores


def tabular_env(name: str, P, R, mu0, gamma: float, horizon: int, spec: dict | None = None) -> Env:
    """An :class:`Env` for the MDP (P, R, mu0) after validation."""
    P, R, mu0 = validate_mdp(P, R, mu0)
    S, A = R.shape
    params = np.concatenate([inverse_cdf_table(P).ravel(), R.ravel(), inverse_cdf_table(mu0)])
    return Env(
        name=name,
        n_actions=A,
        state_dim=1,
        obs_dim=1,
        n_states=S,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=params,
        make_cores=_make_cores_factory(S, A),
        spec={"S": S, "A": A, "gamma": float(gamma), "horizon": int(horizon), **(spec or {})},
        tabular=(P, R, mu0),
    )


class TabularParams(HyperParams):
    """Parameters of ``tabular``: the arrays (any array-like; their shapes, signs and sums
    are checked when the env is built, :func:`validate_mdp`), the discount and horizon."""

    P: Any = Field(None, description="transition probabilities (S, A, S)")
    R: Any = Field(None, description="rewards (S, A)")
    mu0: Any = Field(None, description="start distribution (S,)")
    gamma: Gamma = Field(0.95, description="discount in (0, 1]")
    horizon: Horizon = Field(20, description="actions per episode")

    @model_validator(mode="after")
    def _arrays_given(self) -> TabularParams:
        if self.P is None or self.R is None or self.mu0 is None:
            raise InvalidSpecError("tabular environment needs P, R and mu0")
        return self


def make_tabular(P=None, R=None, mu0=None, gamma: float = 0.95, horizon: int = 20) -> Env:
    """A user-defined finite MDP (see module docstring)."""
    return tabular_env("tabular", P, R, mu0, gamma, horizon)


ENVS.add(
    Component(
        name="tabular",
        fn=make_tabular,
        params=TabularParams,
        summary="a user-defined finite MDP: arrays P (S, A, S), R (S, A), mu0 (S,)",
    )
)
