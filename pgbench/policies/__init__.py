"""Policies: each module registers its constructor ``(env, **params) -> Policy``."""

from pgbench.policies import linear_softmax, tabular_softmax  # noqa: F401  (registration)
from pgbench.policies.base import Policy, PolicyCores

__all__ = ["Policy", "PolicyCores"]
