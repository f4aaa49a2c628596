"""Environments: one module per family, each registering its constructors."""

from pgbench.envs import cartpole, games, pendulum, tabular, zoo  # noqa: F401  (registration)
from pgbench.envs.base import Env, EnvCores

__all__ = ["Env", "EnvCores"]
