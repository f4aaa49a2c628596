"""The public Python API (re-exported by :mod:`pgbench`).

A contract later capabilities extend; documented in the README.
"""

from __future__ import annotations

import inspect
import time

import numpy as np
from pydantic import ValidationError

from pgbench import envs, estimators, exact, policies, results  # noqa: F401  (registration)
from pgbench.errors import InvalidSpecError
from pgbench.games import learners as _learners  # noqa: F401  (registration)
from pgbench.games.exact import Game, as_game, check_thetas, derivatives
from pgbench.games.playing import play as _play
from pgbench.registry import ENVS, ESTIMATORS, POLICIES
from pgbench.sampling import Batch, Sampler, check_count, check_theta


def _call_factory(kind: str, name: str, factory, *args, **params):
    sig = inspect.signature(factory)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if not accepts_any:
        unknown = [k for k in params if k not in sig.parameters]
        if unknown:
            known = [k for k in sig.parameters if k != "env"]
            raise InvalidSpecError(
                f"{kind} {name!r} has no parameter {unknown[0]!r}; parameters: {', '.join(known)}"
            )
    return factory(*args, **params)


def make_env(name: str, **params):
    """An environment by registry name, e.g. ``make_env("cartpole-v1")`` or
    ``make_env("tabular", P=P, R=R, mu0=mu0, gamma=0.9, horizon=10)``."""
    return _call_factory("environment", name, ENVS.get(name), **params)


def make_policy(name: str, env, **params):
    """A policy for ``env`` by registry name, e.g. ``make_policy("linear-softmax", env)``."""
    return _call_factory("policy", name, POLICIES.get(name), env, **params)


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
    """The validated hyperparameter model of estimator ``name`` (one-line errors)."""
    est = ESTIMATORS.get(name)
    try:
        return est.params(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        raise InvalidSpecError(f"estimator {name!r}: {where}: {err['msg']}") from None


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
    hp = estimator_params(name, **params)
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
