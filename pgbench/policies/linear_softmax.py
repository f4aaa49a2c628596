"""Linear softmax policy: pi(a | x) proportional to exp(theta[a, :d] . x + theta[a, d]).

theta has shape (A, d + 1), row-major and flat (P = A (d + 1)); the last column
is a bias. Score (Sutton et al. 2000; Williams 1992):
d log pi(a | x) / d theta[b, k] = (1[a = b] - pi(b | x)) * phi_k, phi = (x, 1).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import LinearLogits
from pgbench.registry import POLICIES, Component


def _make_cores_factory(A: int, D: int):
    D1 = D + 1

    def make_cores(lib) -> PolicyCores:
        exp = lib.exp
        categorical = lib.categorical

        @lib.jit
        def _probs(theta, obs, j, probs):
            """probs[:, j] = softmax of the logits; returns (max logit, sum of exps)."""
            m = -np.inf
            for a in range(A):
                z = 0.0
                for k in range(D):
                    z += theta[a * D1 + k] * obs[k, j]
                z += theta[a * D1 + D]
                probs[a, j] = z
                m = max(m, z)
            if A == 2:
                # Two actions: one exponential, p1 = 1 / (1 + e^(z0 - z1)).
                e = exp(min(probs[0, j], probs[1, j]) - m)
                s = 1.0 + e
                hi = 1.0 / s
                lo = e * hi
                first_high = probs[0, j] >= probs[1, j]
                probs[0, j] = hi if first_high else lo
                probs[1, j] = lo if first_high else hi
                return m, s
            s = 0.0
            for a in range(A):
                w = exp(probs[a, j] - m)
                probs[a, j] = w
                s += w
            inv = 1.0 / s
            for a in range(A):
                probs[a, j] *= inv
            return m, s

        def sample(theta, obs, j, u, probs):
            _probs(theta, obs, j, probs)
            return categorical(probs, j, A, u)

        def log_prob(theta, obs, j, a, probs):
            m, s = _probs(theta, obs, j, probs)
            z = theta[a * D1 + D]
            for k in range(D):
                z += theta[a * D1 + k] * obs[k, j]
            return z - m - math.log(s)

        def score(theta, obs, j, a, probs, g):
            for b in range(A):
                w = (1.0 if b == a else 0.0) - probs[b, j]
                for k in range(D):
                    g[b * D1 + k, j] = w * obs[k, j]
                g[b * D1 + D, j] = w

        return PolicyCores(sample, log_prob, score)

    return make_cores


def probs_ref(theta: np.ndarray, obs: np.ndarray, A: int) -> np.ndarray:
    """numpy reference: (N, obs_dim) observations -> (N, A) probabilities."""
    W = theta.reshape(A, -1)
    z = obs @ W[:, :-1].T + W[:, -1]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def score_ref(theta: np.ndarray, obs: np.ndarray, actions: np.ndarray, A: int) -> np.ndarray:
    """numpy reference: (N, P) rows of grad log pi(a_n | x_n)."""
    p = probs_ref(theta, obs, A)
    w = np.eye(A)[actions] - p  # (N, A)
    phi = np.concatenate([obs, np.ones((len(obs), 1))], axis=1)  # (N, d + 1)
    return (w[:, :, None] * phi[:, None, :]).reshape(len(obs), -1)


class LinearSoftmaxParams(HyperParams):
    """Parameters of ``linear-softmax``."""

    init_scale: float = Field(0.0, description="std of the Gaussian initial weights")


def make_linear_softmax(env, init_scale: float = 0.0) -> Policy:
    """Linear softmax over ``env``'s observation vector, theta (A, d + 1)."""
    if env.continuous:
        raise InvalidSpecError(
            f"linear-softmax needs discrete actions; {env.describe()} has a continuous action "
            "(use gaussian)"
        )
    if env.discrete_obs:
        raise InvalidSpecError(
            f"linear-softmax needs vector observations; {env.describe()} has discrete states "
            "(use tabular-softmax)"
        )
    A, D = env.n_actions, env.obs_dim
    return Policy(
        name="linear-softmax",
        n_actions=A,
        obs_dim=D,
        n_params=A * (D + 1),
        theta_shape=(A, D + 1),
        init_scale=float(init_scale),
        make_cores=_make_cores_factory(A, D),
        probs_ref=lambda theta, obs: probs_ref(theta, obs, A),
        score_ref=lambda theta, obs, actions: score_ref(theta, obs, actions, A),
        distributions=LinearLogits(D, A),
    )


POLICIES.add(
    Component(name="linear-softmax", fn=make_linear_softmax, params=LinearSoftmaxParams)
)
