"""What every environment hands to the kernels and to the exact solvers.

An environment is data plus a factory of undecorated *cores*
(``make_cores(lib)``); :mod:`pgbench.kernels.build` compiles the cores for a
target. The cores follow one calling convention, shared by all targets:

``reset(ep, key, state, j)``
    write the initial state of lane ``j`` into ``state[:, j]``; random draws use
    ``lib.uniform(key, np.uint64(k))`` for ``k < RESET_DRAWS``.
``step(ep, key, t, state, j, a) -> (reward, terminated)``
    take action ``a`` (int, or float for a continuous-action env) at step ``t``
    in lane ``j``, update ``state[:, j]`` in place; random draws use
    ``lib.uniform(key, lib.step_counter(t, k))`` for ``1 <= k < DRAWS_PER_STEP``
    (``k = 0`` belongs to the policy).
``observe(ep, state, j, obs)``
    write the observation of lane ``j`` into ``obs[:, j]``.

``ep`` is :attr:`Env.params`, a flat float64 array; shapes and sizes are
closure constants of the cores, so the compiler can unroll small loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class EnvCores(NamedTuple):
    reset: Callable
    step: Callable
    observe: Callable


@dataclass(frozen=True, eq=False)
class Env:
    """An environment instance.

    Attributes:
        name: registry name (``"cartpole-v1"``, ``"tabular"``, ``"chain"``, ...).
        n_actions: number of discrete actions A.
        state_dim: floats in the internal state vector (``init_states`` columns).
        obs_dim: floats in an observation (``obs`` last axis).
        n_states: number of states S for discrete-state (tabular) environments, else None.
        horizon: maximum number of actions per episode T (truncation).
        gamma: discount of the objective J = E[sum_t gamma^t r_t].
        params: flat float64 array handed to the cores as ``ep``.
        make_cores: ``lib -> EnvCores`` (undecorated functions).
        spec: the user-facing parameters, for results tables and reprs.
        tabular: ``(P, R, mu0)`` for tabular environments (exact solvers), else None.
        action_dim: 0 for discrete actions; K >= 1 for a continuous action of K float64
            components (then ``n_actions`` is 0). Native cores take K = 1 only.
        action_low, action_high: bounds of a continuous action: floats (K = 1, the env
            clips), or (K,) arrays for an environment driven from Python.
        make_drivers: ``(policy, target) -> drivers`` for an environment stepped from
            Python (a Gymnasium env, a batched numpy env: :mod:`pgbench.envs.external`),
            with the interface of :class:`pgbench.kernels.build.Kernels`; None for native
            cores (then ``make_cores`` is set).
        exact: closed-form objective and gradient of a non-tabular env (LQR), an object
            with ``objective(policy, theta) -> float`` and ``gradient(policy, theta) ->
            (P,)``, or None.
    """

    name: str
    n_actions: int
    state_dim: int
    obs_dim: int
    n_states: int | None
    horizon: int
    gamma: float
    params: np.ndarray
    make_cores: Callable[[Any], EnvCores] | None
    spec: dict = field(default_factory=dict)
    tabular: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    action_dim: int = 0
    action_low: float | np.ndarray = 0.0
    action_high: float | np.ndarray = 0.0
    make_drivers: Callable[[Any, str], Any] | None = None
    exact: Any = None

    @property
    def native(self) -> bool:
        """True for an environment of Numba cores (``make_cores``), False for one stepped
        from Python (``make_drivers``)."""
        return self.make_cores is not None

    @property
    def continuous(self) -> bool:
        """True for a continuous (float64) action."""
        return self.action_dim > 0

    @property
    def discrete_obs(self) -> bool:
        return self.n_states is not None

    def describe(self) -> str:
        """A short label, e.g. ``cartpole-v1`` or ``chain(n=5)``."""
        shown = {k: v for k, v in self.spec.items() if np.isscalar(v)}
        if not shown:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in shown.items())
        return f"{self.name}({inner})"

    def __repr__(self) -> str:
        return (
            f"Env({self.describe()}, S={self.n_states}, A={self.n_actions}, "
            f"obs_dim={self.obs_dim}, horizon={self.horizon}, gamma={self.gamma})"
        )
