"""Features and least squares shared by baselines and critics.

Value functions of a finite-horizon problem depend on time. For tabular
environments the features are one-hot over (t, s) (or (t, s, a)), which
represent V_t(s) and Q_t(s, a) exactly; for vector observations they are
``(x, 1, tau, tau^2)`` with tau = t / H the elapsed fraction of the horizon
(linear in the observation, quadratic in time, since the discounted value of a
truncated episode shrinks as the horizon nears), per action for Q.
"""

from __future__ import annotations

import numpy as np


def value_features(env, obs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, k) features of states ``obs`` (N, obs_dim) at times ``t`` (N,) int."""
    obs = np.asarray(obs, dtype=np.float64).reshape(len(t), -1)
    if env.discrete_obs:
        S = env.n_states
        X = np.zeros((len(t), env.horizon * S))
        X[np.arange(len(t)), np.asarray(t) * S + obs[:, 0].astype(np.int64)] = 1.0
        return X
    tau = np.asarray(t, dtype=np.float64)[:, None] / env.horizon
    return np.concatenate([obs, np.ones((len(t), 1)), tau, tau * tau], axis=1)


def action_value_features(env, obs: np.ndarray, t: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """(N, k * A) features of (state, action): the value features in the action's block."""
    base = value_features(env, obs, t)
    N, k = base.shape
    X = np.zeros((N, k * env.n_actions))
    cols = np.asarray(actions)[:, None] * k + np.arange(k)[None, :]
    X[np.arange(N)[:, None], cols] = base
    return X


def least_squares(X: np.ndarray, y: np.ndarray, ridge: float = 1e-8) -> np.ndarray:
    """argmin_w ||X w - y||^2 + ridge ||w||^2, (k,), by a stable solve."""
    k = X.shape[1]
    return np.linalg.solve(X.T @ X + ridge * np.eye(k), X.T @ y)


def live_steps(batch):
    """(e, t) index arrays of the live steps of a :class:`pgbench.Batch`."""
    return np.nonzero(batch.mask > 0)
