"""Policies: each module registers its constructor ``(env, **params) -> Policy``."""

from pgbench.policies import (  # noqa: F401  (registration)
    gaussian,
    linear_softmax,
    mlp,
    tabular_softmax,
)
from pgbench.policies.base import Policy, PolicyCores

__all__ = ["Policy", "PolicyCores"]
