"""Two-agent experiment kinds: learners playing each other, and estimator quality.

``two-agent`` (one cell = one game, one pairing, one seed): :func:`pgbench.games.play`
for ``iterations`` updates; rows with ``x_name = "iteration"``:

* ``reward_1``, ``reward_2``: exact per-step reward (1 - gamma) V^k at iteration x
  (infinite horizon; LOLA's R), x = 0 .. iterations;
* ``sampled_reward_1``, ``_2``: the played batch's mean (1 - gamma) sum_t gamma^t r_t
  (sampling learners only);
* ``p_<state>_<k>``: agent k's P(cooperate) in its own-view state (start, CC, CD, DC, DD);
* at x = iterations: ``tft_<k>`` (1 if agent k's final policy is tit-for-tat by
  :func:`pgbench.games.is_tit_for_tat`, else 0), ``tft_soft_<k>``
  (:func:`pgbench.games.tft_score`), ``env_steps`` and ``seconds``.

``game-estimators`` (one cell = one game, point, estimator, seed): for each batch
size N, R = ``repeats`` estimates from batches seeded ``derive_seed(seed,
"estimate", N, r)`` (common random numbers across estimators), compared with
the exact derivative of the same H-round value (:func:`pgbench.games.exact.derivatives`):

* ``pg-gradient``: grad_x V^1 (10,), the causal score-function / DiCE first derivative;
* ``lola-pg-cross-term``: grad_{th1} grad_{th2} V^2 (5, 5), LOLA-PG's second-order term;
* ``dice-hessian``: the DiCE Hessian of V^1 (10, 10);

each with param ``baseline`` (``none``, ``time``, or ``value`` = Loaded DiCE with the
exact state values of the infinite game as b(s); the cross term takes none / time), as
registered in :data:`pgbench.registry.GAME_ESTIMATORS`
(:mod:`pgbench.games.estimator_registry`).
Metrics at x = N (means over the R repeats): ``cosine`` (cosine similarity of the
flattened estimate and exact value), ``correlation`` (Pearson correlation of their
entries), ``rel_error`` (||est - exact|| / ||exact||, Frobenius), ``pairwise_cosine``
(mean cosine between distinct repeats, Ilyas et al. 2020), ``env_steps`` per estimate.
"""

from __future__ import annotations

import time

import numpy as np

from pgbench.errors import NonFiniteGradientError
from pgbench.experiments.output import CellOutput, MetricRow
from pgbench.games import (
    estimator_registry,  # noqa: F401  (registration)
    is_tit_for_tat,
    play,
    tft_score,
)
from pgbench.games.exact import derivatives, joint_table, make_game
from pgbench.games.joint import GameSampler
from pgbench.registry import GAME_ESTIMATORS
from pgbench.seeding import GAME_THETA, derive_seed, keyed_rng

STATES = ("start", "CC", "CD", "DC", "DD")


def run_cell(cell) -> CellOutput:
    """Rows of a ``two-agent`` cell (see the module docstring)."""
    settings = cell.settings
    game = game_of(cell.env)
    l1, l2 = cell.method.learners
    iterations = cell.method.iterations or settings["iterations"]
    result = play(
        game,
        {"name": l1.name, "params": l1.params},
        {"name": l2.name, "params": l2.params},
        iterations,
        cell.seed,
        episodes=settings["episodes"],
        init_scale=settings["init_scale"],
        backend=settings["backend"],
    )
    rows: list[MetricRow] = []
    h = result.history
    for rec in h.itertuples(index=False):
        k, it = rec.agent, int(rec.iteration)
        rows.append(MetricRow("iteration", it, f"reward_{k}", rec.reward))
        if not np.isnan(rec.sampled_reward):
            rows.append(MetricRow("iteration", it, f"sampled_reward_{k}", rec.sampled_reward))
        for s in STATES:
            rows.append(MetricRow("iteration", it, f"p_{s}_{k}", getattr(rec, f"p_{s}")))
    final = h[h["iteration"] == iterations].sort_values("agent")
    for rec in final.itertuples(index=False):
        p = np.array([getattr(rec, f"p_{s}") for s in STATES])
        rows.append(
            MetricRow("iteration", iterations, f"tft_{rec.agent}", float(is_tit_for_tat(p)))
        )
        rows.append(MetricRow("iteration", iterations, f"tft_soft_{rec.agent}", tft_score(p)))
    rows.append(MetricRow("iteration", iterations, "env_steps", float(result.info["env_steps"])))
    rows.append(MetricRow("iteration", iterations, "seconds", result.info["seconds"]))
    return CellOutput(rows=rows)


# ---------------------------------------------------------------- estimator quality


def point(spec) -> np.ndarray:
    """x (10,) of a :class:`~pgbench.experiments.two_agent.suite.PointSpec`."""
    rng = keyed_rng(spec.seed, GAME_THETA)
    return spec.scale * rng.standard_normal(10)


def state_values(game, x: np.ndarray) -> np.ndarray:
    """(2, 5) exact infinite-horizon values of both agents from each agent-1-view state
    before acting: V^k(s) = J(s) (r^k + gamma P v^k) with v^k = (I - gamma P)^{-1} r^k."""
    J = joint_table(x)[0]
    v = np.linalg.solve(np.eye(4) - game.gamma * J[1:], game.payoffs.T)  # (4, 2)
    return (J @ v).T


def quality_metrics(estimates: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """cosine, correlation, rel_error, pairwise_cosine of estimates (R, P) vs exact (P,)."""
    norm_e = np.linalg.norm(estimates, axis=1)
    norm_x = np.linalg.norm(exact)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = estimates @ exact / (norm_e * norm_x)
        ce = estimates - estimates.mean(axis=1, keepdims=True)
        cx = exact - exact.mean()
        corr = ce @ cx / (np.linalg.norm(ce, axis=1) * np.linalg.norm(cx))
        unit = estimates / norm_e[:, None]
        gram = unit @ unit.T
        R = len(estimates)
        pair = (gram.sum() - np.trace(gram)) / (R * (R - 1))
    return {
        "cosine": float(np.mean(cos)),
        "correlation": float(np.mean(corr)),
        "rel_error": float(np.mean(np.linalg.norm(estimates - exact, axis=1)) / norm_x),
        "pairwise_cosine": float(pair),
    }


def run_estimator_cell(cell) -> CellOutput:
    """Rows of a ``game-estimators`` cell (see the module docstring)."""
    settings = cell.settings
    game = game_of(cell.env)
    estimator = GAME_ESTIMATORS.get(cell.method.name)
    hp = GAME_ESTIMATORS.params(cell.method.name, **cell.method.params)
    x = point(cell.theta)
    d = derivatives(game, x, game.horizon)
    exact = estimator.exact_target(d)
    values = state_values(game, x)
    sampler = GameSampler(game, settings["backend"])
    rows: list[MetricRow] = []
    for N in settings["batch_sizes"]:
        ests = []
        start = time.perf_counter()
        for r in range(settings["repeats"]):
            batch = sampler.batch(x, N, derive_seed(cell.seed, "estimate", N, r))
            ests.append(estimator.fn(batch, hp, values))
        seconds = (time.perf_counter() - start) / settings["repeats"]
        ests = np.array(ests)
        if not np.all(np.isfinite(ests)):
            raise NonFiniteGradientError(f"{cell.method.display}: non-finite estimate at N={N}")
        for metric, value in quality_metrics(ests, exact).items():
            rows.append(MetricRow("batch_size", N, metric, value))
        rows.append(MetricRow("batch_size", N, "env_steps", float(N * game.horizon)))
        rows.append(MetricRow("batch_size", N, "seconds", seconds))
    return CellOutput(rows=rows, columns={"reference": f"exact-H{game.horizon}"})


def game_of(spec):
    """The :class:`~pgbench.games.exact.Game` of an env entry (raises PgbenchError)."""
    return make_game(spec.name, spec.params.get("gamma"), spec.params.get("horizon"))
