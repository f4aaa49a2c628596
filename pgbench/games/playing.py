"""``play``: two learners on an iterated game, simultaneous updates, tidy history.

Per iteration i = 0 .. iterations-1 at x_i = concat(theta^1_i, theta^2_i):

1. if either learner samples, both agents play ``episodes`` episodes of
   ``horizon`` rounds at x_i (seed ``derive_seed(seed, "play", i)``), the batch
   both PG learners learn from (as in the LOLA authors' code);
2. the history records, for each agent, the exact per-step reward (1 - gamma) V^k
   (infinite horizon, LOLA's R), the sampled one when a batch was drawn, and the
   probability of cooperating in each of its own-view states;
3. both learners compute their step from x_i; x_{i+1} = x_i + (delta^1, delta^2).

The final point x_iterations is recorded too (iteration = ``iterations``).
Initial logits: N(0, init_scale^2), agent k's from the stream
``SeedSequence([seed, k])`` (the same start for every pairing of one seed), unless
``theta1`` / ``theta2`` are given.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pgbench.errors import InvalidSpecError, NonFiniteGradientError
from pgbench.games.exact import as_game, check_thetas, cooperation_probs, derivatives
from pgbench.games.joint import GameSampler
from pgbench.games.learners import Context
from pgbench.registry import LEARNERS
from pgbench.seeding import derive_seed, keyed_rng

STATE_NAMES = ("start", "CC", "CD", "DC", "DD")  # own view
HISTORY_COLUMNS = (
    "iteration",
    "agent",
    "reward",
    "sampled_reward",
    *(f"p_{s}" for s in STATE_NAMES),
)
TFT_THRESHOLD = 0.5


class PlayResult(NamedTuple):
    """theta1, theta2 (5,) final logits; history: tidy DataFrame, one row per
    (iteration, agent) with :data:`HISTORY_COLUMNS`; info: env steps and seconds."""

    theta1: np.ndarray
    theta2: np.ndarray
    history: pd.DataFrame
    info: dict


def _spec(learner) -> tuple[str, dict]:
    if isinstance(learner, str):
        return learner, {}
    if isinstance(learner, dict) and "name" in learner:
        extra = set(learner) - {"name", "params"}
        if extra:
            raise InvalidSpecError(f"learner spec has unknown key {sorted(extra)[0]!r}")
        return learner["name"], dict(learner.get("params") or {})
    if isinstance(learner, (tuple, list)) and len(learner) == 2:
        return learner[0], dict(learner[1])
    raise InvalidSpecError(
        f"a learner is a name, {{name, params}} or (name, params), got {learner!r}"
    )


def own_view_coop(x: np.ndarray) -> np.ndarray:
    """(2, 5) P(cooperate) of each agent in its own-view states start, CC, CD, DC, DD."""
    from scipy.special import expit

    return np.stack([expit(x[:5]), expit(x[5:])])


def is_tit_for_tat(p_coop: np.ndarray, threshold: float = TFT_THRESHOLD) -> bool:
    """The %TFT classifier: a memory-1 policy (own-view P(cooperate) (5,)) is tit-for-tat
    when, in the four memory states, its more likely action copies the other's last
    move: P(C | CC) > t, P(C | DC) > t, P(C | CD) < t, P(C | DD) < t (t = 0.5; the
    start state is not judged). The LOLA paper does not state its classifier."""
    p = np.asarray(p_coop)
    return bool(p[1] > threshold and p[3] > threshold and p[2] < threshold and p[4] < threshold)


def tft_score(p_coop: np.ndarray) -> float:
    """Soft %TFT: mean over the four memory states of the probability of the TFT action."""
    p = np.asarray(p_coop)
    return float((p[1] + p[3] + (1 - p[2]) + (1 - p[4])) / 4)


def play(
    game,
    learner1,
    learner2,
    iterations: int,
    seed: int,
    *,
    gamma: float | None = None,
    horizon: int | None = None,
    episodes: int = 4000,
    init_scale: float = 1.0,
    theta1=None,
    theta2=None,
    backend: str = "cpu",
) -> PlayResult:
    """Two learners playing ``game`` for ``iterations`` simultaneous updates.

    Args:
        game: "ipd" or "matching-pennies" (or a :class:`~pgbench.games.exact.Game`).
        learner1, learner2: a learner name (``pgbench list``), ``{name, params}`` or
            ``(name, params)``.
        iterations: updates (>= 1).
        seed: run seed (initial logits and every sampled batch).
        gamma: discount (default LOLA's: 0.96 IPD, 0.9 matching pennies).
        horizon: rounds per sampled episode (needed by sampling learners; 150 in LOLA-PG
            and LOLA-DiCE).
        episodes: episodes of the batch both agents play each iteration (sampling only).
        init_scale: std of the initial logits; theta1, theta2: explicit initial logits (5,).
        backend: kernel backend of the rollouts.

    Returns:
        :class:`PlayResult` (theta1, theta2, history, info).
    """
    g = as_game(game, gamma, horizon)
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 1
    ):
        raise InvalidSpecError(f"iterations must be a positive integer, got {iterations!r}")
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 2:
        raise InvalidSpecError(f"episodes must be an integer >= 2, got {episodes!r}")
    if not isinstance(init_scale, (int, float)) or not init_scale >= 0:
        raise InvalidSpecError(f"init_scale must be a non-negative number, got {init_scale!r}")
    names, fns, hps = [], [], []
    for spec in (learner1, learner2):
        name, params = _spec(spec)
        fns.append(LEARNERS.get(name))
        hps.append(LEARNERS.params(name, **params))
        names.append(name)
    sampled = any(fn.sampled for fn in fns)
    if sampled and g.horizon is None:
        raise InvalidSpecError(
            f"learners {names[0]!r} / {names[1]!r} sample episodes: give a horizon (e.g. 150)"
        )
    starts = []
    for k, given in enumerate((theta1, theta2)):
        if given is None:
            rng = keyed_rng(seed, k)  # agent k's start: SeedSequence([seed, k])
            given = init_scale * rng.standard_normal(5)
        starts.append(given)
    x = check_thetas(*starts)
    sampler = GameSampler(g, backend) if sampled else None

    rows: list[tuple] = []
    states: list[Any] = [None, None]
    start = time.perf_counter()
    for it in range(iterations + 1):
        batch = None
        if sampler is not None and it < iterations:
            batch = sampler.batch(x, episodes, derive_seed(seed, "play", it))
        reward = derivatives(g, x).per_step(g.gamma)
        sampled_r = batch.per_step_reward() if batch is not None else np.full(2, np.nan)
        coop = own_view_coop(x)
        for k in (0, 1):
            rows.append((it, k + 1, float(reward[k]), float(sampled_r[k]), *map(float, coop[k])))
        if it == iterations:
            break
        ctx = Context(g, it, x, sampler, batch, int(seed))
        steps = []
        for k in (0, 1):
            delta, states[k] = fns[k].fn(ctx, k, states[k], hps[k])
            steps.append(np.asarray(delta, dtype=np.float64))
        x = x + np.concatenate(steps)
        if not np.all(np.isfinite(x)):
            raise NonFiniteGradientError(
                f"{names[0]} vs {names[1]}: parameters became non-finite at iteration {it}"
            )
    history = pd.DataFrame.from_records(rows, columns=list(HISTORY_COLUMNS))
    info = {
        "env_steps": sampler.env_steps if sampler is not None else 0,
        "seconds": time.perf_counter() - start,
        "learners": names,
    }
    return PlayResult(x[:5].copy(), x[5:].copy(), history, info)


__all__ = ["PlayResult", "cooperation_probs", "is_tit_for_tat", "play", "tft_score"]
