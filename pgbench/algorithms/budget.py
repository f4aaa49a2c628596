"""How many env steps one update of an algorithm consumes, and whether a budget buys enough.

Every algorithm's hyperparameter model answers ``steps_per_update(env, n_params)``
with the (fewest, most) env steps one of its updates can spend on ``env``:

* segment-based (``a2c``, ``td-ac``, ``q-ac``, ``ppo-*``, ``npg``, ``trpo``):
  ``n_envs * n_steps``, both;
* ``a3c``: the same for one actor-learner update (each of ``n_workers`` threads
  makes its own);
* ``reinforce``: ``episodes`` episodes of 1 to ``env.horizon`` steps;
* finite differences: every evaluation's episodes, ``(episodes // k) * k`` of
  1 to ``env.horizon`` steps, k the number of utility evaluations (P + 1, 2P or
  m + 1). Without the parameter count P, the least any k can spend,
  ``episodes // 2 + 1``, bounds it from below.

A budget of ``env_steps`` buys at most ``env_steps // fewest`` updates; fewer than
:data:`MIN_UPDATES` rarely make progress, so :func:`budget_warning` says so.
"""

from __future__ import annotations

from pgbench.registry import ALGORITHMS

MIN_UPDATES = 5  # "a handful": below this many updates a budget is worth a warning


def steps_per_update(name: str, env, *, policy=None, **params) -> tuple[int, int]:
    """(fewest, most) env steps one update of algorithm ``name`` can spend on ``env``.

    ``params`` are validated with the algorithm's model (defaults filled in;
    one-line :class:`~pgbench.errors.InvalidSpecError` otherwise). ``policy``
    (optional) gives the parameter count P that the finite-difference methods
    need for an exact count; an ``episodes`` too small for P is the same one-line
    error the estimator would raise at its first update.
    """
    hp = ALGORITHMS.params(name, **params)
    return hp.steps_per_update(env, None if policy is None else policy.n_params)


def budget_warning(name: str, env_steps: int, fewest: int, most: int) -> str | None:
    """A one-line warning when ``env_steps`` buys fewer than :data:`MIN_UPDATES` updates
    of ``fewest`` to ``most`` env steps each, else None."""
    if env_steps >= MIN_UPDATES * fewest:
        return None
    cost = f"{fewest}" if fewest == most else f"{fewest}-{most}"
    return (
        f"{name}: a budget of {env_steps} env steps buys at most {env_steps // fewest} "
        f"complete updates ({cost} env steps each); fewer than {MIN_UPDATES} rarely make progress"
    )
