"""The public Python API (re-exported by :mod:`pgbench`).

A contract later capabilities extend; documented in the README.
"""

from __future__ import annotations

import time

import numpy as np

from pgbench import envs, estimators, exact, policies, results  # noqa: F401  (registration)
from pgbench.errors import InvalidSpecError
from pgbench.games import estimator_registry as _game_estimators  # noqa: F401  (registration)
from pgbench.games import learners as _learners  # noqa: F401  (registration)
from pgbench.games.exact import Game, as_game, check_thetas, derivatives
from pgbench.games.playing import play as _play
from pgbench.registry import ENVS, ESTIMATORS, POLICIES, Registry
from pgbench.sampling import Batch, Sampler, check_count, check_theta


def _factory_params(registry: Registry, name: str, params: dict) -> dict:
    """The validated keyword arguments of factory ``name`` of ``registry`` (an env or a
    policy): one-line errors, an unknown key named with the parameters there are."""
    fields = registry.get(name).params.model_fields
    unknown = [k for k in params if k not in fields]
    if unknown:
        raise InvalidSpecError(
            f"{registry.kind} {name!r} has no parameter {unknown[0]!r}; "
            f"parameters: {', '.join(fields)}"
        )
    return dict(registry.params(name, **params))


def make_env(name: str, **params):
    """An environment by registry name, e.g. ``make_env("cartpole-v1")`` or
    ``make_env("tabular", P=P, R=R, mu0=mu0, gamma=0.9, horizon=10)``; ``params`` are
    validated with the env's Params model (``pgbench list`` names them)."""
    kwargs = _factory_params(ENVS, name, params)
    return ENVS.get(name).fn(**kwargs)


def make_policy(name: str, env, **params):
    """A policy for ``env`` by registry name, e.g. ``make_policy("linear-softmax", env)``;
    ``params`` are validated with the policy's Params model."""
    kwargs = _factory_params(POLICIES, name, params)
    return POLICIES.get(name).fn(env, **kwargs)


def rollout(
    env, policy, theta, episodes: int, seed: int, horizon: int | None = None, backend: str = "cpu"
) -> Batch:
    """``episodes`` stored episodes of ``policy(theta)`` in ``env`` (see :class:`Batch`).

    Episode ``e`` uses the random stream keyed by ``(seed, e)``: the same seed
    gives the same arrays bit for bit on every backend and thread count.
    """
    theta = check_theta(policy, theta)
    episodes = check_count("episodes", episodes)
    return Sampler(env, policy, backend).batch(theta, episodes, int(seed), horizon)


def estimator_params(name: str, **params):
    """The validated hyperparameter model of estimator ``name`` (one-line errors):
    ``ESTIMATORS.params(name, **params)``."""
    return ESTIMATORS.params(name, **params)


def estimate(
    name: str,
    env,
    policy,
    theta,
    episodes: int,
    seed: int,
    info: bool = False,
    backend: str = "cpu",
    **params,
):
    """Gradient estimate (P,) of J at ``theta`` by estimator ``name`` from ``episodes`` episodes.

    With ``info=True`` returns ``(gradient, info)``; ``info`` holds ``env_steps``,
    ``episodes`` (spent), ``seconds`` (wall time, compile excluded once warm)
    and ``unbiased``.
    """
    est = ESTIMATORS.get(name)
    hp = ESTIMATORS.params(name, **params)
    theta = check_theta(policy, theta)
    episodes = check_count("episodes", episodes)
    if episodes < 1:
        raise InvalidSpecError("episodes must be at least 1")
    sampler = Sampler(env, policy, backend)
    start = time.perf_counter()
    grad = np.asarray(est.fn(sampler, theta, episodes, int(seed), hp), dtype=np.float64)
    seconds = time.perf_counter() - start
    if not info:
        return grad
    return grad, {
        "env_steps": sampler.env_steps,
        "episodes": sampler.episodes,
        "seconds": seconds,
        "unbiased": est.is_unbiased(hp),
    }


def _is_game(obj) -> bool:
    return isinstance(obj, (str, Game))


def exact_objective(env, policy, theta, **game_params):
    """J(theta) in closed form (tabular MDPs); NoExactFormError elsewhere.

    Two-agent form: ``exact_objective(game, theta1, theta2, horizon=None, gamma=None)``
    with ``game`` "ipd" / "matching-pennies" (or a :class:`pgbench.games.Game`) and each
    agent's 5 memory-1 logits returns both values (V^1, V^2), shape (2,) (infinite
    horizon unless ``horizon`` is given; LOLA, Foerster et al. 2018, Sec. 4.2).
    """
    if _is_game(env):
        return _game_derivatives(env, policy, theta, **game_params).value
    return exact.exact_objective(env, policy, check_theta(policy, theta))


def exact_gradient(env, policy, theta, **game_params):
    """grad J(theta) in closed form (tabular MDPs); NoExactFormError elsewhere.

    Two-agent form: ``exact_gradient(game, theta1, theta2, horizon=None, gamma=None)``
    returns each agent's naive-learner gradient (grad_{theta1} V^1, grad_{theta2} V^2),
    two arrays of shape (5,); :func:`pgbench.games.exact.derivatives` gives all first
    and second derivatives of both values.
    """
    if _is_game(env):
        d = _game_derivatives(env, policy, theta, **game_params)
        return d.grad[0, :5].copy(), d.grad[1, 5:].copy()
    return exact.exact_gradient(env, policy, check_theta(policy, theta))


def _game_derivatives(game, theta1, theta2, horizon=None, gamma=None):
    g = as_game(game, gamma)
    bad = isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1
    if horizon is not None and bad:
        raise InvalidSpecError(f"horizon must be a positive integer, got {horizon!r}")
    return derivatives(g, check_thetas(theta1, theta2), horizon)


def play(game, learner1, learner2, iterations: int, seed: int, **params):
    """Two learners (``pgbench list`` names, or ``{name, params}``) playing ``game`` for
    ``iterations`` simultaneous updates; returns ``(theta1, theta2, history, info)``
    (:class:`pgbench.games.PlayResult`). See :func:`pgbench.games.playing.play` for params
    (gamma, horizon, episodes, init_scale, theta1, theta2, backend)."""
    return _play(game, learner1, learner2, iterations, seed, **params)


def exact_natural_gradient(env, policy, theta) -> np.ndarray:
    """F^+ grad J in closed form (tabular MDPs), F the exact Fisher of :mod:`pgbench.exact`."""
    return exact.exact_natural_gradient(env, policy, check_theta(policy, theta))


def load_results(path):
    """The tidy results table of a run directory (or one Parquet file) as a DataFrame."""
    return results.load_results(path)
