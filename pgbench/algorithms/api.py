"""Run one algorithm on one (env, policy, seed): the function behind ``pgbench.train``."""

from __future__ import annotations

import gc
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from pgbench.algorithms.budget import budget_warning
from pgbench.algorithms.evaluation import evaluate_returns
from pgbench.algorithms.trainer import TrainRun
from pgbench.errors import InvalidSpecError, PgbenchWarning
from pgbench.kernels import serial_calls
from pgbench.kernels.timing import compile_seconds
from pgbench.registry import ALGORITHMS
from pgbench.results import COLUMNS, conform
from pgbench.sampling import check_count, check_theta
from pgbench.seeding import canonical_json


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
    ``run.rows`` the learning-curve points (env_steps, metric, value),
    ``run.compile_seconds_total`` the Numba compile (or cache load) seconds of the
    warm-up and the run). A gradient that became NaN or inf is a one-line error.

    Before the run's clock starts, :func:`warm_up` compiles every kernel the run
    will call, so its ``seconds`` are training time only.
    """
    algo = ALGORITHMS.get(name)
    hp = ALGORITHMS.params(name, **params)
    if env_steps < 1:
        raise InvalidSpecError(f"env_steps must be at least 1, got {env_steps}")
    if policy.distributions is None:
        raise InvalidSpecError(f"policy {policy.name} has no batched distributions")
    fewest, most = hp.steps_per_update(env, policy.n_params)
    if (message := budget_warning(name, env_steps, fewest, most)) is not None:
        warnings.warn(message, PgbenchWarning, stacklevel=2)
    if theta0 is None:
        theta0 = policy.init(seed)
    every = log_every if log_every is not None else max(1, env_steps // 20)
    compiled = compile_seconds()
    # The batched network passes are small GEMMs: one BLAS thread per training run is
    # fastest, and parallel runs (sweep workers, A3C threads) must not oversubscribe.
    with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(1, user_api="blas"):
        warm_up(algo, hp, env, policy, theta0, seed, backend, eval_episodes)
        run = TrainRun(env, policy, theta0, env_steps, seed, backend, every, eval_episodes)
        theta = algo.fn(run, hp)
    run.compile_seconds_total = compile_seconds() - compiled
    if not np.all(np.isfinite(theta)):
        raise InvalidSpecError(
            f"{name} diverged: theta has non-finite entries after {run.env_steps} env steps"
        )
    run.theta = np.asarray(theta, dtype=np.float64)
    if any(m == "eval_return" and not math.isfinite(v) for _, m, v in run.rows if eval_episodes):
        raise InvalidSpecError(f"{name} produced a non-finite evaluation return")
    return run


def warm_up(algo, hp, env, policy, theta0, seed, backend, eval_episodes) -> None:
    """Run ``algo`` for one update on a throwaway :class:`TrainRun` (a budget of one env
    step, a point after every update, one evaluation episode), so that the kernels of
    its segments, network passes, optimizer and evaluation are compiled, or loaded from
    Numba's cache, before the timed run starts its clock.

    The throwaway run has its own lanes, streams and ``rng``; the timed run shares
    nothing with it but compiled code, so its results are those of a cold start.
    """
    warm = TrainRun(env, policy, theta0, 1, seed, backend, 1, min(eval_episodes, 1))
    algo.fn(warm, hp)
    if warm.compile_seconds > 0:
        # compiling leaves many new objects behind: a full collection now, instead of
        # one the allocator would soon trigger inside the timed run
        gc.collect()


def history_frame(run: TrainRun, algorithm: str, params: dict) -> pd.DataFrame:
    """``run.rows`` as a tidy table with the columns of a suite's results table."""
    env, policy = run.env, run.policy
    ident = {
        "suite": "",
        "experiment": "learning-curve",
        "cell": "",
        "env": env.name,
        "env_params": canonical_json(_jsonable(env.spec)),
        "env_label": env.describe(),
        "policy": policy.name,
        "policy_params": "{}",
        "policy_label": policy.name,
        "theta": "",
        "theta_params": "",
        "method": algorithm,
        "method_params": canonical_json(_jsonable(params)),
        "method_label": algorithm,
        "unbiased": None,
        "seed": run.seed,
        "x_name": "env_steps",
        "reference": "",
    }
    records = [{**ident, "x": x, "metric": m, "value": v} for x, m, v in run.rows]
    return conform(pd.DataFrame.from_records(records, columns=list(COLUMNS)))


def _jsonable(obj):
    """Params as JSON types (arrays become lists) for the *_params columns."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def train(
    algorithm: str,
    env,
    policy,
    env_steps: int,
    seed: int,
    *,
    theta0: np.ndarray | None = None,
    backend: str = "cpu",
    log_every: int | None = None,
    eval_episodes: int = 10,
    **params,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Train ``policy`` in ``env`` with ``algorithm`` for ``env_steps`` environment steps.

    Returns ``(theta, history)``: the final (P,) parameters and the learning
    curve as a tidy DataFrame with the columns of a suite's results table
    (``x_name = "env_steps"``; metrics in :mod:`pgbench.algorithms.trainer`).
    ``params`` are the algorithm's hyperparameters (``pgbench list``; one-line
    errors for unknown keys or bad values). ``theta0`` defaults to
    ``policy.init(seed)``; a curve point is logged every ``log_every`` env steps
    (default: a twentieth of the budget) with ``eval_episodes`` greedy episodes.
    """
    run = train_run(
        algorithm,
        env,
        policy,
        env_steps,
        seed,
        theta0,
        backend,
        log_every,
        eval_episodes,
        **params,
    )
    return run.theta, history_frame(run, algorithm, params)


def train_many(
    algorithm: str,
    env,
    policy,
    env_steps: int,
    seeds,
    *,
    threads: int | None = None,
    backend: str = "cpu",
    log_every: int | None = None,
    eval_episodes: int = 10,
    **params,
) -> list[tuple[np.ndarray, pd.DataFrame]]:
    """:func:`train` for each of ``seeds`` (one configuration), several seeds at once in
    this process: one seed per thread on ``threads`` threads (default: one per core).

    Returns ``[(theta, history), ...]`` in the order of ``seeds``; each is bit for bit
    what ``train(algorithm, env, policy, env_steps, seed, ...)`` returns alone (every
    seed has its own parameters, optimizer, lanes and streams; nothing is shared but
    compiled code), except the ``seconds`` metric, the seed's own wall clock. The
    threads run at once because every kernel of a training step releases the GIL; each
    takes the serial drivers (:func:`pgbench.kernels.serial_calls`), whose results are
    the parallel ones' (the cores are shared between seeds instead). An env stepped from Python
    (Gymnasium) keeps one pool of copies, so its seeds run one after another.
    """
    seeds = [int(s) for s in seeds]
    ALGORITHMS.params(algorithm, **params)  # one error for bad params, before any thread
    if not seeds:
        return []
    n = threads if threads is not None else (os.cpu_count() or 1)
    if n < 1:
        raise InvalidSpecError(f"threads must be at least 1, got {n}")
    if not env.native:
        n = 1

    def one(seed: int):
        with serial_calls():
            return train(
                algorithm, env, policy, env_steps, seed, backend=backend,
                log_every=log_every, eval_episodes=eval_episodes, **params,
            )  # fmt: skip

    # one BLAS thread throughout: the threads share the cores (see train_run)
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(min(n, len(seeds))) as pool:
        return list(pool.map(one, seeds))


def evaluate(env, policy, theta, episodes: int, seed: int) -> float:
    """Mean undiscounted return of ``episodes`` episodes of the greedy (discrete) or
    mean-action (continuous) version of ``policy(theta)``; episode e uses the
    stream keyed by (seed, e)."""
    theta = check_theta(policy, theta)
    episodes = check_count("episodes", episodes)
    if episodes < 1:
        raise InvalidSpecError("episodes must be at least 1")
    return float(evaluate_returns(env, policy, theta, episodes, int(seed)).mean())
