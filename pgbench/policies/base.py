"""What every policy hands to the kernels, and its numpy reference.

Policy cores (``make_cores(lib)``), shared by all targets:

``sample(theta, obs, j, u, probs) -> a``
    action probabilities of lane ``j`` into ``probs[:, j]``; return the action
    drawn by inverse CDF from the uniform ``u`` in [0, 1).
``log_prob(theta, obs, j, a, probs) -> float``
    log pi(a | obs[:, j]); also fills ``probs[:, j]``.
``score(theta, obs, j, a, probs, g)``
    ``g[:, j] = grad_theta log pi(a | obs[:, j])``, given ``probs[:, j]`` for the
    same observation.

``theta`` is flat float64 of length :attr:`Policy.n_params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


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

    def init(self, seed: int) -> np.ndarray:
        """Initial parameters: N(0, init_scale^2) from ``seed``; flat float64 (P,)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
        return self.init_scale * rng.standard_normal(self.n_params)

    def __repr__(self) -> str:
        return f"Policy({self.name}, theta_shape={self.theta_shape})"
