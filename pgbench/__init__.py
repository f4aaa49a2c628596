"""pgbench: Numba-accelerated benchmarks for policy-gradient estimators and algorithms.

Public API: :func:`make_env`, :func:`make_policy`, :func:`rollout`,
:func:`estimate`, :func:`exact_objective`, :func:`exact_gradient`,
:func:`from_gymnasium` (a user's own ``gymnasium.Env``),
:func:`train`, :func:`train_many` (several seeds at once) and :func:`evaluate`
(learning algorithms), :func:`play`
(two-agent games), :func:`load_results`. See the README for the contract.
"""

from pgbench.algorithms.api import evaluate, train, train_many
from pgbench.api import (
    estimate,
    estimator_params,
    exact_gradient,
    exact_natural_gradient,
    exact_objective,
    load_results,
    make_env,
    make_policy,
    play,
    rollout,
)
from pgbench.envs.gymnasium_env import from_gymnasium
from pgbench.errors import PgbenchError
from pgbench.sampling import Batch
from pgbench.version import __version__  # noqa: F401  (re-exported: pgbench.__version__)

__all__ = [
    "Batch",
    "PgbenchError",
    "estimate",
    "estimator_params",
    "evaluate",
    "exact_gradient",
    "exact_natural_gradient",
    "exact_objective",
    "from_gymnasium",
    "load_results",
    "make_env",
    "make_policy",
    "play",
    "rollout",
    "train",
    "train_many",
]
