"""Tabular softmax policy: pi(a | s) proportional to exp(theta[s, a]).

theta has shape (S, A), row-major and flat (P = S A). Score:
d log pi(a | s) / d theta[s', b] = 1[s' = s] (1[b = a] - pi(b | s)).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import TabularLogits
from pgbench.registry import POLICIES, Component


def _make_cores_factory(S: int, A: int):
    P = S * A

    def make_cores(lib) -> PolicyCores:
        exp = lib.exp
        categorical = lib.categorical

        @lib.jit
        def _probs(theta, obs, j, probs):
            """probs[:, j] = softmax(theta[s]); returns (max logit, sum of exps)."""
            base = np.int64(obs[0, j]) * A
            m = -np.inf
            for a in range(A):
                m = max(m, theta[base + a])
            s = 0.0
            for a in range(A):
                w = exp(theta[base + a] - m)
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
            return theta[np.int64(obs[0, j]) * A + a] - m - math.log(s)

        def score(theta, obs, j, a, probs, g):
            for p in range(P):
                g[p, j] = 0.0
            base = np.int64(obs[0, j]) * A
            for b in range(A):
                g[base + b, j] = (1.0 if b == a else 0.0) - probs[b, j]

        return PolicyCores(sample, log_prob, score)

    return make_cores


def probs_table(theta: np.ndarray, S: int, A: int) -> np.ndarray:
    """pi as an (S, A) table (numpy)."""
    z = theta.reshape(S, A)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class TabularSoftmaxParams(HyperParams):
    """Parameters of ``tabular-softmax``."""

    init_scale: float = Field(0.0, description="std of the Gaussian initial logits")


def make_tabular_softmax(env, init_scale: float = 0.0) -> Policy:
    """One logit per (state, action) of a discrete-state ``env``."""
    if env.continuous:
        raise InvalidSpecError(
            f"tabular-softmax needs discrete actions; {env.describe()} has a continuous action "
            "(use gaussian)"
        )
    if not env.discrete_obs:
        raise InvalidSpecError(
            f"tabular-softmax needs discrete states; {env.describe()} has vector observations "
            "(use linear-softmax)"
        )
    S, A = env.n_states, env.n_actions

    def probs_ref(theta, obs):
        return probs_table(theta, S, A)[np.asarray(obs, dtype=np.int64).reshape(-1)]

    def score_ref(theta, obs, actions):
        s = np.asarray(obs, dtype=np.int64).reshape(-1)
        g = np.zeros((len(s), S, A))
        g[np.arange(len(s)), s, :] = -probs_table(theta, S, A)[s]
        g[np.arange(len(s)), s, actions] += 1.0
        return g.reshape(len(s), S * A)

    return Policy(
        name="tabular-softmax",
        n_actions=A,
        obs_dim=1,
        n_params=S * A,
        theta_shape=(S, A),
        init_scale=float(init_scale),
        make_cores=_make_cores_factory(S, A),
        probs_ref=probs_ref,
        score_ref=score_ref,
        distributions=TabularLogits(S, A),
        exact_form=True,
    )


POLICIES.add(
    Component(name="tabular-softmax", fn=make_tabular_softmax, params=TabularSoftmaxParams)
)
