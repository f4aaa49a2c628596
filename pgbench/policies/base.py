"""What every policy hands to the kernels, and its numpy reference.

Policy cores (``make_cores(lib)``), shared by all targets:

``sample(theta, obs, j, u, probs) -> a``
    action probabilities of lane ``j`` into ``probs[:, j]``; return the action
    drawn by inverse CDF from the uniform ``u`` in [0, 1) (an int, or a float
    for a continuous-action policy).
``log_prob(theta, obs, j, a, probs) -> float``
    log pi(a | obs[:, j]); also fills ``probs[:, j]``.
``score(theta, obs, j, a, probs, g)``
    ``g[:, j] = grad_theta log pi(a | obs[:, j])``, given ``probs[:, j]`` for the
    same observation.

``theta`` is flat float64 of length :attr:`Policy.n_params`. ``probs`` is the
lane scratch: ``max(n_actions, scratch_rows)`` rows the cores may use freely
(a network keeps its hidden activations there).

Training code works on batches instead: ``policy.distributions(theta, obs)``
(obs (N, obs_dim)) returns a :class:`Distributions`, the N action
distributions with their log-probabilities, entropies, KLs, gradients and
Fisher-vector products (numpy / CPU Numba).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from pgbench.seeding import POLICY_INIT, keyed_rng


class Distributions(Protocol):
    """pi_theta(. | obs_n) for a batch of N observations (one forward pass).

    Actions are (N,) int64 (discrete), (N,) float64 (continuous, K = 1) or (N, K)
    float64 (continuous, K > 1).
    """

    n: int

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """(N,) log pi(a_n | s_n)."""

    def entropy(self) -> np.ndarray:
        """(N,) entropy of pi(. | s_n) in nats."""

    def kl(self, other: Distributions) -> np.ndarray:
        """(N,) KL(self_n || other_n), both at the same observations."""

    def mode(self) -> np.ndarray:
        """(N,) the greedy action (argmax probability) or the mean action."""

    def grad(
        self,
        actions: np.ndarray,
        w_logp: np.ndarray,
        w_ent: float = 0.0,
        old: Distributions | None = None,
        w_kl: float = 0.0,
    ) -> np.ndarray:
        """(P,) gradient w.r.t. theta of
        sum_n w_logp[n] log pi(a_n|s_n) + w_ent sum_n H(pi(.|s_n))
        + w_kl sum_n KL(old_n || pi(.|s_n))."""

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Actions drawn by inverse CDF from uniforms u in [0, 1): (N,), or (N, K) for a
        K > 1 action; the lane cores draw the same action from the same u."""

    def scores(self, actions: np.ndarray) -> np.ndarray:
        """(N, P) rows grad_theta log pi(a_n | s_n)."""

    def fvp(self, v: np.ndarray) -> np.ndarray:
        """(P,) F v, F = (1/N) sum_n E_{a~pi}[grad log pi grad log pi^T] at these s_n
        (the Hessian of the mean KL(pi_theta || pi_theta') at theta' = theta)."""


class PolicyCores(NamedTuple):
    sample: Callable
    log_prob: Callable
    score: Callable


@dataclass(frozen=True, eq=False)
class Policy:
    """A parametric stochastic policy for one environment.

    Attributes:
        name: registry name.
        n_actions: A.
        obs_dim: observation length it reads.
        n_params: length P of the flat theta.
        theta_shape: the shape theta has when reshaped (row-major), e.g. (S, A).
        init_scale: standard deviation of the Gaussian initial parameters.
        make_cores: ``lib -> PolicyCores``.
        probs_ref: numpy reference ``(theta (P,), obs (N, obs_dim)) -> (N, A)``.
        score_ref: numpy reference ``(theta, obs (N, obs_dim), actions (N,)) -> (N, P)``.
        action_dim: 0 for discrete actions, 1 for a scalar continuous action.
        scratch_rows: lane scratch rows the cores need beyond ``n_actions``.
        distributions: ``(theta (P,), obs (N, obs_dim)) -> Distributions``, or None.
        init_fn: ``seed -> theta (P,)``, replacing the Gaussian default of :meth:`init`.
        exact_form: True where :mod:`pgbench.exact` has this policy's J, grad J and Fisher
            in closed form on a tabular env (tabular softmax: theta the (S, A) logit table).
        deterministic: True for the greedy / mean-action version (:func:`greedy`): drivers
            that sample from ``distributions`` take its ``mode()`` instead.
    """

    name: str
    n_actions: int
    obs_dim: int
    n_params: int
    theta_shape: tuple[int, ...]
    init_scale: float
    make_cores: Callable[[Any], PolicyCores]
    probs_ref: Callable[[np.ndarray, np.ndarray], np.ndarray]
    score_ref: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    action_dim: int = 0
    scratch_rows: int = 0
    distributions: Callable[[np.ndarray, np.ndarray], Distributions] | None = None
    init_fn: Callable[[int], np.ndarray] | None = None
    exact_form: bool = False
    deterministic: bool = False

    @property
    def continuous(self) -> bool:
        return self.action_dim > 0

    def init(self, seed: int) -> np.ndarray:
        """Initial parameters, flat float64 (P,): ``init_fn(seed)`` where the policy
        has one, else N(0, init_scale^2) from ``seed``."""
        if self.init_fn is not None:
            return np.asarray(self.init_fn(int(seed)), dtype=np.float64)
        rng = keyed_rng(seed, POLICY_INIT)
        return self.init_scale * rng.standard_normal(self.n_params)

    def __repr__(self) -> str:
        return f"Policy({self.name}, theta_shape={self.theta_shape})"


def greedy(policy: Policy) -> Policy:
    """The deterministic policy that takes ``policy``'s most probable action
    (discrete; first of ties) or its mean action (continuous, sampled at u = 1/2,
    the median of the symmetric Gaussian), for evaluation runs."""
    inner_make = policy.make_cores
    A = policy.n_actions
    continuous = policy.continuous

    def make_cores(lib) -> PolicyCores:
        inner = inner_make(lib)
        inner_sample = lib.jit(inner.sample)

        if continuous:

            def sample(theta, obs, j, u, probs):
                return inner_sample(theta, obs, j, 0.5, probs)

        else:

            def sample(theta, obs, j, u, probs):
                inner_sample(theta, obs, j, 0.0, probs)
                best = 0
                for a in range(1, A):
                    if probs[a, j] > probs[best, j]:
                        best = a
                return best

        return PolicyCores(sample, inner.log_prob, inner.score)

    return dataclasses.replace(
        policy,
        name=f"greedy({policy.name})",
        make_cores=make_cores,
        exact_form=False,
        deterministic=True,
    )
