"""Run one algorithm on one (env, policy, seed): the function behind ``pgbench.train``."""

from __future__ import annotations

import math

import numpy as np
from pydantic import ValidationError

from pgbench.algorithms.trainer import TrainRun
from pgbench.errors import InvalidSpecError
from pgbench.registry import ALGORITHMS


def algorithm_params(name: str, **params):
    """The validated hyperparameter model of algorithm ``name`` (one-line errors)."""
    algo = ALGORITHMS.get(name)
    try:
        return algo.params(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        raise InvalidSpecError(f"algorithm {name!r}: {where}: {err['msg']}") from None


def train_run(
    name: str,
    env,
    policy,
    env_steps: int,
    seed: int,
    theta0: np.ndarray | None = None,
    backend: str = "cpu",
    log_every: int | None = None,
    eval_episodes: int = 10,
    **params,
) -> TrainRun:
    """Train ``policy`` in ``env`` with algorithm ``name`` for ``env_steps`` env steps.

    Returns the finished :class:`TrainRun` (``run.theta`` the final parameters,
    ``run.rows`` the learning-curve points (env_steps, metric, value)). A
    gradient that became NaN or inf is a one-line error.
    """
    algo = ALGORITHMS.get(name)
    hp = algorithm_params(name, **params)
    if env_steps < 1:
        raise InvalidSpecError(f"env_steps must be at least 1, got {env_steps}")
    if policy.distributions is None:
        raise InvalidSpecError(f"policy {policy.name} has no batched distributions")
    if theta0 is None:
        theta0 = policy.init(seed)
    every = log_every if log_every is not None else max(1, env_steps // 20)
    run = TrainRun(env, policy, theta0, env_steps, seed, backend, every, eval_episodes)
    with np.errstate(over="ignore", invalid="ignore"):
        theta = algo.fn(run, hp)
    if not np.all(np.isfinite(theta)):
        raise InvalidSpecError(
            f"{name} diverged: theta has non-finite entries after {run.env_steps} env steps"
        )
    run.theta = np.asarray(theta, dtype=np.float64)
    if any(m == "eval_return" and not math.isfinite(v) for _, m, v in run.rows if eval_episodes):
        raise InvalidSpecError(f"{name} produced a non-finite evaluation return")
    return run
