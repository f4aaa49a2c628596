"""Two-agent learners: naive learner (NL), LOLA and LOLA-DiCE, exact and sampled.

A learner is a function ``step(ctx, agent, state, hp) -> (delta, state)``: given the
current joint parameters ``ctx.x = concat(theta^1, theta^2)`` (10,) it returns the
change (5,) of its own logits (agent 0 or 1) and its updated private state (a value
table, an opponent model, ...). Both agents step simultaneously from the same x.
Each learner is a :class:`Learner` component in :data:`pgbench.registry.LEARNERS`: the
step function, its frozen hyperparameter model, and whether it samples episodes.

Notation of the papers: V^k the discounted value of agent k, delta the learner's
own step size, eta the opponent's assumed step size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from pgbench.errors import InvalidSpecError
from pgbench.games.estimators import dice_derivatives, fit_values, lola_cross_term
from pgbench.games.exact import AGENT1_INDEX, AGENT2_INDEX, Game, derivatives, lola_exact_update
from pgbench.games.joint import GameBatch, GameSampler
from pgbench.params import HyperParams
from pgbench.registry import LEARNERS, Component
from pgbench.seeding import derive_seed

MODEL_CLIP = 10.0  # |logit| cap of an opponent model estimated from counts


@dataclass
class Context:
    """What every learner sees at one iteration.

    game: the game. iteration: 0-based. x (10,): concat(theta^1, theta^2).
    sampler: episodes of the game (None for exact-only play). batch: the episodes
    both agents just played at x (None for exact-only play). seed: the run's seed.
    horizon: rounds per episode of sampled estimates (None: exact play).
    """

    game: Game
    iteration: int
    x: np.ndarray
    sampler: GameSampler | None = None
    batch: GameBatch | None = None
    seed: int = 0
    _exact: dict = field(default_factory=dict)

    def exact(self):
        """Exact derivatives of both values at x (infinite horizon), computed once."""
        if "d" not in self._exact:
            self._exact["d"] = derivatives(self.game, self.x)
        return self._exact["d"]

    def need_batch(self, who: str) -> GameBatch:
        if self.batch is None:
            raise InvalidSpecError(
                f"learner {who!r} needs sampled episodes: give the game a horizon"
            )
        return self.batch

    def draw(self, x: np.ndarray, episodes: int, *key) -> GameBatch:
        """A fresh batch at x with seed derive_seed(run seed, iteration, *key)."""
        if self.sampler is None:
            raise InvalidSpecError("this learner needs sampled episodes: give the game a horizon")
        return self.sampler.batch(
            x, episodes, derive_seed(self.seed, "learner", self.iteration, *key)
        )


def blocks(agent: int) -> tuple[slice, slice]:
    """(own, other) slices of x (10,) for agent 0 or 1."""
    first, second = slice(0, 5), slice(5, 10)
    return (first, second) if agent == 0 else (second, first)


class Hyper(HyperParams):
    """Base of every learner's hyperparameter model."""


@dataclass(frozen=True, kw_only=True)
class Learner(Component):
    """A registered two-agent learner (a :class:`~pgbench.registry.Component`).

    Attributes:
        fn: ``step(ctx, agent, state, hp) -> (delta (5,), state)`` (module docstring).
        sampled: whether it learns from sampled episodes (the game then needs a horizon).
    """

    kind: ClassVar[str] = "learner"

    sampled: bool


# ---------------------------------------------------------------- exact


class NLExactParams(Hyper):
    lr: float = Field(1.0, gt=0, description="step size delta (authors' code: 1.0)")


def nl_exact(ctx: Context, agent: int, state: Any, hp: NLExactParams):
    """Naive learner, exact gradient: theta^k += delta grad_{theta^k} V^k (LOLA, Sec. 4.1)."""
    me, _ = blocks(agent)
    return hp.lr * ctx.exact().grad[agent, me], state


class LolaExactParams(Hyper):
    lr: float = Field(1.0, gt=0, description="own step size delta (authors' code: 1.0)")
    eta: float = Field(
        1.0,
        ge=0,
        description="opponent step size eta (scripts/run_lola.py passes 1; train_exact.py's "
        "own default is 0.5)",
    )


def lola_exact(ctx: Context, agent: int, state: Any, hp: LolaExactParams):
    """LOLA, exact: delta [grad V^1 + eta (grad_{th2} V^1)^T grad_{th1} grad_{th2} V^2].

    First-order Taylor LOLA (Foerster et al., AAMAS 2018, Sec. 4.2); see
    :func:`pgbench.games.exact.lola_exact_update`.
    """
    return hp.lr * lola_exact_update(ctx.exact(), agent, hp.eta), state


# ---------------------------------------------------------------- policy gradient


class NLPGParams(Hyper):
    lr: float = Field(1.0, gt=0, description="step size delta")
    baseline: Literal["none", "time"] = Field(
        "time", description="'time': leave-one-out per-round batch-mean baseline"
    )


def nl_pg(ctx: Context, agent: int, state: Any, hp: NLPGParams):
    """Naive learner, policy gradient: delta E[sum_t gamma^t r^k_t sum_{l<=t} grad log pi^k].

    NL-PG of LOLA (Foerster et al., AAMAS 2018, Sec. 4.3), from the played batch.
    """
    me, _ = blocks(agent)
    g, _ = dice_derivatives(ctx.need_batch("nl-pg"), agent, hp.baseline, order=1)
    return hp.lr * g[me], state


class LolaPGParams(Hyper):
    lr: float = Field(1.0, gt=0, description="own step size delta")
    eta: float = Field(1.0, ge=0, description="opponent's assumed step size eta")
    baseline: Literal["none", "time"] = Field(
        "time", description="'time': leave-one-out per-round batch-mean baseline"
    )


def lola_pg(ctx: Context, agent: int, state: Any, hp: LolaPGParams):
    """LOLA with policy-gradient estimates, incl. E[R^2 grad log pi^1 (grad log pi^2)^T].

    LOLA-PG (Foerster et al., AAMAS 2018, Sec. 4.3; seed 000):
    f^1 = grad_{th1} V^1 + eta (grad_{th2} V^1)^T grad_{th1} grad_{th2} V^2 with every
    term estimated from the played batch: the first-order terms by the causal score
    function form, the cross term by sum_t gamma^t r^2_t c^1_t (c^2_t)^T (the
    (theta^1, theta^2) block of the DiCE Hessian of the opponent's return).
    """
    me, other = blocks(agent)
    batch = ctx.need_batch("lola-pg")
    g_own, _ = dice_derivatives(batch, agent, hp.baseline, order=1)
    cross = lola_cross_term(batch, 1 - agent, hp.baseline)  # d2 V^o / d th1 d th2 (5, 5)
    cross = cross if agent == 0 else cross.T  # rows: own logits
    f = g_own[me] + hp.eta * cross @ g_own[other]
    return hp.lr * f, state


# ---------------------------------------------------------------- LOLA-DiCE


class LolaDiceParams(Hyper):
    lr: float = Field(0.2, gt=0, description="outer step size (authors: 0.2, SGD)")
    inner_lr: float = Field(
        0.3,
        gt=0,
        description="opponent lookahead step (authors' run_lola_dice.py: 0.1 with batch 64, "
        "0.3 with batch 512; see RESULTS.md)",
    )
    lookahead: int = Field(1, ge=0, le=10, description="opponent lookahead steps k (0: naive)")
    episodes: int = Field(64, ge=2, description="episodes per inner and outer batch (authors: 64)")
    baseline: Literal["none", "time", "value"] = Field(
        "time", description="'time': authors' per-round centering; 'value': Loaded DiCE"
    )
    value_lr: float = Field(0.1, gt=0, le=1, description="value-table step ('value' baseline)")
    opponent_model: bool = Field(
        False, description="estimate the opponent's logits from its played actions"
    )


@dataclass
class DiceState:
    """Private state of a LOLA-DiCE agent: value tables (2, 5) of both payoffs over agent
    1's view states, and its model (5,) of the opponent's logits (opponent modelling)."""

    values: np.ndarray = field(default_factory=lambda: np.zeros((2, 5)))
    model: np.ndarray = field(default_factory=lambda: np.zeros(5))


def opponent_model(batch: GameBatch, agent: int, previous: np.ndarray) -> np.ndarray:
    """The opponent's logits (5,, its own view) from its actions in ``batch``: per state the
    Krichevsky-Trofimov estimate logit((n_C + 1/2) / (n + 1)) (the smoothed maximum-likelihood
    fit of a memory-1 policy), clipped to +-MODEL_CLIP; unvisited states keep ``previous``
    (LOLA, Sec. 4.4, opponent modelling by maximum likelihood of observed actions)."""
    opp = 1 - agent
    index = (AGENT2_INDEX if opp == 1 else AGENT1_INDEX) - 5 * opp  # its logit per state
    logit = index[batch.states].reshape(-1)
    coop = (batch.actions[..., opp] == 0).reshape(-1)
    n = np.bincount(logit, minlength=5)
    n_c = np.bincount(logit, weights=coop, minlength=5)
    out = np.array(previous, dtype=np.float64)
    seen = n > 0
    p = (n_c[seen] + 0.5) / (n[seen] + 1.0)
    out[seen] = np.clip(np.log(p / (1 - p)), -MODEL_CLIP, MODEL_CLIP)
    return out


def lola_dice(ctx: Context, agent: int, state: DiceState | None, hp: LolaDiceParams):
    """LOLA-DiCE: differentiate own return through k opponent DiCE steps.

    Foerster et al., "DiCE: The Infinitely Differentiable Monte Carlo Estimator",
    ICML 2018, Sec. 5.2 (seed 002).
    Inner loop (the opponent o "learns" k steps from the agent's point of view), m = 0..k-1:
    sample a batch at (theta^me, theta^o_m), take the DiCE gradient g_m and Hessian of
    the opponent's return, and step theta^o_{m+1} = theta^o_m + alpha g_m[o]. Its
    Jacobian D_m = d theta^o_m / d theta^me follows the chain rule through the magic
    box (D_0 = 0):  D_{m+1} = D_m + alpha (H_m[o, me] + H_m[o, o] D_m).
    Outer: sample at (theta^me, theta^o_k), take the DiCE gradient G of the agent's
    own return and step theta^me += beta (G[me] + D_k^T G[o]) -- what backpropagation
    through the unrolled inner steps computes, written out for tabular policies.
    """
    state = state if state is not None else DiceState()
    me, other = blocks(agent)
    opp = 1 - agent
    if hp.opponent_model:
        state.model = opponent_model(ctx.need_batch("lola-dice"), agent, state.model)
    x = ctx.x.copy()
    if hp.opponent_model:
        x[other] = state.model
    D = np.zeros((5, 5))
    for m in range(hp.lookahead):
        inner = ctx.draw(x, hp.episodes, agent, "inner", m)
        g, H = dice_derivatives(inner, opp, hp.baseline, state.values[opp])
        D = D + hp.inner_lr * (H[other, me] + H[other, other] @ D)
        x[other] = x[other] + hp.inner_lr * g[other]
    outer = ctx.draw(x, hp.episodes, agent, "outer")
    G, _ = dice_derivatives(outer, agent, hp.baseline, state.values[agent], order=1)
    delta = hp.lr * (G[me] + D.T @ G[other])
    if hp.baseline == "value":
        for k in (0, 1):
            state.values[k] = fit_values(outer, k, state.values[k], hp.value_lr)
    return delta, state


def learner_names() -> list[str]:
    return LEARNERS.names()


LOLA = "Foerster et al. (2018), LOLA: Learning with Opponent-Learning Awareness, AAMAS"
DICE = "Foerster et al. (2018), DiCE: The Infinitely Differentiable Monte Carlo Estimator, ICML"
LEARNERS.add(
    Learner(
        name="nl-exact",
        fn=nl_exact,
        params=NLExactParams,
        sampled=False,
        citation=LOLA + ", Sec. 4.1",
        summary="naive learner, exact gradient of its own value",
    )
)
LEARNERS.add(
    Learner(
        name="lola-exact",
        fn=lola_exact,
        params=LolaExactParams,
        sampled=False,
        citation=LOLA + ", Sec. 4.2",
        summary="LOLA, exact: first-order Taylor lookahead through the opponent's step",
    )
)
LEARNERS.add(
    Learner(
        name="nl-pg",
        fn=nl_pg,
        params=NLPGParams,
        sampled=True,
        citation=LOLA + ", Sec. 4.3",
        summary="naive learner, policy-gradient estimate from the played batch",
    )
)
LEARNERS.add(
    Learner(
        name="lola-pg",
        fn=lola_pg,
        params=LolaPGParams,
        sampled=True,
        citation=LOLA + ", Sec. 4.3",
        summary="LOLA with policy-gradient estimates, incl. the second-order cross term",
    )
)
LEARNERS.add(
    Learner(
        name="lola-dice",
        fn=lola_dice,
        params=LolaDiceParams,
        sampled=True,
        citation=DICE + ", Sec. 5.2",
        summary="LOLA-DiCE: differentiate own return through k opponent DiCE steps",
    )
)
