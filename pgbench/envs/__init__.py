"""Environments: one module per family, each registering its constructors."""

from pgbench.envs import (  # noqa: F401  (registration)
    acrobot,
    cartpole,
    games,
    gymnasium_env,
    lqr,
    mountain_car,
    pendulum,
    tabular,
    zoo,
)
from pgbench.envs.base import Env, EnvCores

__all__ = ["Env", "EnvCores"]
