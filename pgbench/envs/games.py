"""Iterated 2x2 games against a fixed memory-1 opponent: ``ipd`` and ``matching-pennies``.

The two-agent games of LOLA (Foerster et al., AAMAS 2018, arXiv 1709.04326, Sec. 4)
become ordinary finite MDPs once the opponent's policy is held fixed, so they
run on the tabular kernels and have exact objectives and gradients
(:mod:`pgbench.exact`).

Conventions (the LOLA paper's, used everywhere in this module):

* Actions: 0 = cooperate, 1 = defect (matching pennies: 0 = heads, 1 = tails).
* States: 0 = start (no previous round), then the previous joint action
  ``1 + 2 * own + other`` seen from the LEARNING agent's view, own action first:
  1 = CC, 2 = CD, 3 = DC, 4 = DD (matching pennies: HH, HT, TH, TT).
* A memory-1 policy is 5 logits, one per state in the order above *from that
  player's own view*; P(cooperate) = sigmoid(logit). The opponent sees state
  CD as DC and DC as CD (:data:`OPPONENT_VIEW`), exactly as LOLA's exact value
  function reorders the second agent's logits.
* Payoffs (:func:`ipd_payoffs`, :func:`matching_pennies_payoffs`) are arrays
  ``payoffs[k, a, b]``: the payoff to player k (0 = learning agent, 1 = opponent)
  when the learning agent plays a and the opponent plays b. Prisoner's dilemma,
  to the learning agent: CC -1, CD -3, DC 0, DD -2 (symmetric for the opponent).
  Matching pennies is zero-sum and the LEARNING agent is the matcher: +1 to it
  when the two coins show the same face (HH, TT), -1 when they differ, and the
  opponent receives the negative.

One round of the game is one MDP step. In state s the learning agent takes a;
the opponent's action b ~ sigmoid(opponent_logits[OPPONENT_VIEW[s]]) is drawn
inside the transition, which moves to s' = 1 + 2a + b with probability
P(b | s). Episodes start in state 0 and last ``horizon`` rounds; the objective
is J = E[sum_{t<H} gamma^t payoff_t].

Rewards are EXPECTED payoffs. The tabular framework's reward is R[s, a], fixed
before s' is drawn, while the sampled payoff payoff[a, b] depends on the
opponent's action b, i.e. on s'. So R[s, a] = sum_b P(b | s) payoff[a, b]. J,
its gradient and the distribution of states and actions are exactly those of
the game with sampled payoffs (tower property: E[payoff_t | s_t, a_t] =
R[s_t, a_t], and b_t is recorded in s_{t+1}); what is NOT represented is the
payoff noise: rollout rewards here are conditional means, so Monte Carlo
estimators on this env see the variance of the expected-payoff game, not the
extra noise of the payoffs that an agent playing the real game would receive.
An exact sampled-payoff encoding would need the opponent's
current action in the state before the agent acts (R[s, a] deterministic),
which would show the learning agent its opponent's move, a different game.

Another convention in circulation (the IPD environments of the public LOLA and
LOLA-DiCE reference code, ``payout_mat = [[-2, 0], [-3, -1]]``, ``states =
[[1, 2], [3, 4]]``) indexes actions 0 = defect, 1 = cooperate, joint states by
action index own first (1 = DD, 2 = DC, 3 = CD, 4 = CC), and takes
sigmoid(logit) as the probability of action 0, i.e. of defecting. Convert with
:func:`to_other_convention`, :func:`from_other_convention` and
:func:`payoffs_to_other_convention`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import Field, WrapValidator
from scipy.special import expit

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_gamma, check_horizon, checked
from pgbench.envs.tabular import tabular_env
from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component, suggest

COOPERATE, DEFECT = 0, 1
HEADS, TAILS = 0, 1
START = 0
N_STATES = 5
N_LOGITS = 5
# OPPONENT_VIEW[s] is state s as the other player sees it (own action first): CD <-> DC.
OPPONENT_VIEW = np.array([0, 1, 3, 2, 4])
# Logit magnitude of the named deterministic-looking policies: sigmoid(10) = 0.99995.
NAMED_LOGIT = 10.0

_L = NAMED_LOGIT
_COMMON_OPPONENTS = {
    "uniform": (0.0, 0.0, 0.0, 0.0, 0.0),
    # cooperate first, then repeat the other player's last action (own view: CC, CD, DC, DD)
    "tit-for-tat": (_L, _L, -_L, _L, -_L),
    "always-cooperate": (_L, _L, _L, _L, _L),
    "always-defect": (-_L, -_L, -_L, -_L, -_L),
}
NAMED_OPPONENTS = {
    "ipd": dict(_COMMON_OPPONENTS),
    # action 0 = heads: "tit-for-tat" repeats the learning agent's last face
    "matching-pennies": {
        **_COMMON_OPPONENTS,
        "always-heads": _COMMON_OPPONENTS["always-cooperate"],
        "always-tails": _COMMON_OPPONENTS["always-defect"],
    },
}

# Other convention: its state i is our state _OTHER_ORDER[i] (start, DD, DC, CD, CC).
_OTHER_ORDER = np.array([0, 4, 3, 2, 1])


def ipd_payoffs() -> np.ndarray:
    """Prisoner's dilemma payoffs, shape (2, 2, 2): ``[player, own_1, own_2]``.

    ``payoffs[0, a, b]`` is the learning agent's payoff when it plays a and the
    opponent plays b (0 = cooperate): CC -1, CD -3, DC 0, DD -2;
    ``payoffs[1] = payoffs[0].T`` (symmetric game). Units: reward per round.
    """
    p1 = np.array([[-1.0, -3.0], [0.0, -2.0]])
    return np.stack([p1, p1.T])


def matching_pennies_payoffs() -> np.ndarray:
    """Matching pennies payoffs, shape (2, 2, 2), indexed like :func:`ipd_payoffs`.

    Zero-sum; player 0 (the learning agent) is the matcher: +1 when both show the
    same face (0 = heads, 1 = tails), -1 otherwise; player 1 gets the negative.
    """
    p1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    return np.stack([p1, -p1])


def own_view_payoff(payoffs, player: int) -> np.ndarray:
    """Player ``player``'s (0 or 1) payoff as a (2, 2) matrix ``[own action, other's action]``."""
    payoffs = np.asarray(payoffs, dtype=np.float64)
    return payoffs[0] if player == 0 else payoffs[1].T


def opponent_logits(opponent, game: str = "ipd") -> np.ndarray:
    """The opponent's 5 memory-1 logits, shape (5,), from a name or a sequence of 5 numbers.

    Names (``game`` "ipd" or "matching-pennies"): "uniform" (all 0), "tit-for-tat",
    "always-cooperate", "always-defect" (matching pennies also "always-heads",
    "always-tails"), with logits of +-:data:`NAMED_LOGIT`. Logits are ordered
    start, CC, CD, DC, DD from the opponent's own view; P(cooperate) = sigmoid.

    Raises:
        InvalidSpecError: unknown name (with a suggestion), wrong length or non-finite values.
    """
    named = NAMED_OPPONENTS[game]
    if isinstance(opponent, str):
        if opponent not in named:
            hint = suggest(opponent, list(named))
            raise InvalidSpecError(f"{game} opponent {opponent!r} is not a named policy{hint}")
        return np.array(named[opponent], dtype=np.float64)
    try:
        logits = np.array(opponent, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidSpecError(
            f"{game} opponent must be a policy name or {N_LOGITS} logits, got {opponent!r}"
        ) from None
    if logits.shape != (N_LOGITS,):
        raise InvalidSpecError(
            f"{game} opponent must have {N_LOGITS} logits (start, CC, CD, DC, DD), "
            f"got shape {logits.shape}"
        )
    if not np.all(np.isfinite(logits)):
        raise InvalidSpecError(f"{game} opponent logits must be finite, got {logits.tolist()}")
    return logits


def memory1_mdp(payoff, opponent_logits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The iterated game against a fixed memory-1 opponent as (P, R, mu0).

    Args:
        payoff: the learning agent's payoffs, (2, 2) ``[own action, opponent action]``, or
            both players' (2, 2, 2) as :func:`ipd_payoffs` returns (only ``[0]`` is used).
        opponent_logits: (5,) opponent logits, start, CC, CD, DC, DD from its own view;
            P(opponent plays action 0) = sigmoid(logit).

    Returns:
        P (5, 2, 5) with ``P[s, a, 1 + 2a + b] = P(opponent plays b | s)``;
        R (5, 2), ``R[s, a] = sum_b P(b | s) payoff[a, b]`` (expected payoff, see module
        docstring); mu0 (5,) = one-hot on the start state 0.
    """
    payoff = np.asarray(payoff, dtype=np.float64)
    if payoff.shape == (2, 2, 2):
        payoff = payoff[0]
    if payoff.shape != (2, 2):
        raise InvalidSpecError(f"payoff must have shape (2, 2) or (2, 2, 2), got {payoff.shape}")
    logits = np.asarray(opponent_logits, dtype=np.float64)
    if logits.shape != (N_LOGITS,):
        raise InvalidSpecError(f"opponent logits must have shape (5,), got {logits.shape}")
    seen = logits[OPPONENT_VIEW]  # (5,): the opponent's logit in each of OUR states
    q = np.stack([expit(seen), expit(-seen)], axis=1)  # (5, 2): P(b | s), b = 0, 1
    P = np.zeros((N_STATES, 2, N_STATES))
    for a in (0, 1):
        for b in (0, 1):
            P[:, a, 1 + 2 * a + b] = q[:, b]
    R = q @ payoff.T  # R[s, a] = sum_b q[s, b] payoff[a, b]
    mu0 = np.zeros(N_STATES)
    mu0[START] = 1.0
    return P, R, mu0


def memory1_to_tabular_theta(logits) -> np.ndarray:
    """tabular-softmax theta (10,) for a memory-1 policy: row s = (logits[s], 0).

    Then pi(action 0 | s) = sigmoid(logits[s]), and d J / d logits[s] is the
    gradient component of theta[s, 0] (the action-1 logit held at 0).
    """
    logits = np.asarray(logits, dtype=np.float64)
    return np.stack([logits, np.zeros_like(logits)], axis=-1).reshape(-1)


def tabular_theta_to_memory1(theta) -> np.ndarray:
    """The 5 sigmoid logits of a tabular-softmax theta (10,): theta[s, 0] - theta[s, 1]."""
    theta = np.asarray(theta, dtype=np.float64).reshape(N_STATES, 2)
    return theta[:, 0] - theta[:, 1]


def to_other_convention(logits) -> np.ndarray:
    """Memory-1 logits (5,) in this module's convention -> the other convention.

    The other convention (module docstring) orders states start, DD, DC, CD, CC
    and takes logit = log-odds of DEFECTING; so ``other[i] = -ours[_OTHER_ORDER[i]]``.
    Also converts gradients with respect to the logits.
    """
    return -np.asarray(logits, dtype=np.float64)[_OTHER_ORDER]


def from_other_convention(logits) -> np.ndarray:
    """Inverse of :func:`to_other_convention` (the map is its own inverse)."""
    return -np.asarray(logits, dtype=np.float64)[np.argsort(_OTHER_ORDER)]


def payoffs_to_other_convention(payoffs) -> np.ndarray:
    """Payoff arrays ``[..., a, b]`` with 0 = cooperate -> 0 = defect (both action axes
    reversed); also the inverse map. ``ipd_payoffs()[0]`` becomes [[-2, 0], [-3, -1]]."""
    return np.asarray(payoffs, dtype=np.float64)[..., ::-1, ::-1].copy()


def _check_gamma(game: str, gamma) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"{game} gamma must be a number in (0, 1], got {gamma!r}") from None
    if math.isnan(g):
        raise InvalidSpecError(f"{game} gamma must be a number in (0, 1], got {gamma!r}")
    return check_gamma(g)


def _game_env(game: str, payoffs: np.ndarray, opponent, gamma, horizon) -> Env:
    logits = opponent_logits(opponent, game)
    gamma = _check_gamma(game, gamma)
    P, R, mu0 = memory1_mdp(payoffs, logits)
    spec = {
        "opponent": opponent if isinstance(opponent, str) else "custom",
        "opponent_logits": tuple(float(x) for x in logits),
    }
    return tabular_env(game, P, R, mu0, gamma, horizon, spec=spec)


def _valid_opponent(game: str) -> WrapValidator:
    """Field validator: a named opponent of ``game`` or 5 finite logits (kept as given)."""

    def check(opponent):
        opponent_logits(opponent, game)
        return opponent

    return checked(check)


class IPDParams(HyperParams):
    """Parameters of ``ipd`` (see :func:`make_ipd`)."""

    opponent: Annotated[Any, _valid_opponent("ipd")] = Field(
        "uniform", description="a named memory-1 policy or its 5 logits"
    )
    gamma: Gamma = Field(0.96, description="discount in (0, 1] (LOLA's)")
    horizon: Horizon = Field(150, description="rounds per episode")


class MatchingPenniesParams(HyperParams):
    """Parameters of ``matching-pennies`` (see :func:`make_matching_pennies`)."""

    opponent: Annotated[Any, _valid_opponent("matching-pennies")] = Field(
        "uniform", description="a named memory-1 policy or its 5 logits"
    )
    gamma: Gamma = Field(0.9, description="discount in (0, 1] (LOLA's)")
    horizon: Horizon = Field(150, description="rounds per episode")


def make_ipd(opponent="uniform", gamma: float = 0.96, horizon: int = 150) -> Env:
    """Iterated prisoner's dilemma against a fixed memory-1 opponent (LOLA, Foerster et al. 2018).

    States 0 = start, 1..4 = previous CC, CD, DC, DD (own action first); actions
    0 = cooperate, 1 = defect; reward = expected payoff CC -1, CD -3, DC 0, DD -2
    over the opponent's move (see the module docstring). With both players
    uniform, J = -1.5 (1 - gamma^H) / (1 - gamma) (-37.5 as H -> inf, gamma 0.96).

    Args:
        opponent: a name ("uniform", "tit-for-tat", "always-cooperate",
            "always-defect"; logits +-10) or 5 logits (start, CC, CD, DC, DD from the
            opponent's own view; P(cooperate) = sigmoid).
        gamma: discount in (0, 1]; 0.96 as in LOLA.
        horizon: rounds per episode H >= 1; 150 as LOLA's policy-gradient experiments.
    """
    return _game_env("ipd", ipd_payoffs(), opponent, gamma, horizon)


def make_matching_pennies(opponent="uniform", gamma: float = 0.9, horizon: int = 150) -> Env:
    """Iterated matching pennies against a fixed memory-1 opponent (LOLA, Foerster et al. 2018).

    Same structure as ``ipd``: actions 0 = heads, 1 = tails; states 0 = start,
    1..4 = previous HH, HT, TH, TT (own face first). The learning agent is the
    matcher: expected payoff of +1 on a match and -1 on a mismatch.

    Args:
        opponent: a name ("uniform", "tit-for-tat" (repeats the learning agent's last
            face), "always-heads" / "always-cooperate", "always-tails" /
            "always-defect"; logits +-10) or 5 logits (P(heads) = sigmoid).
        gamma: discount in (0, 1]; 0.9 as in LOLA.
        horizon: rounds per episode H >= 1.
    """
    return _game_env("matching-pennies", matching_pennies_payoffs(), opponent, gamma, horizon)


LOLA = "Foerster et al. (2018), LOLA: Learning with Opponent-Learning Awareness, AAMAS"
ENVS.add(
    Component(
        name="ipd",
        fn=make_ipd,
        params=IPDParams,
        citation=LOLA,
        summary="iterated prisoner's dilemma against a fixed memory-1 opponent",
    )
)
ENVS.add(
    Component(
        name="matching-pennies",
        fn=make_matching_pennies,
        params=MatchingPenniesParams,
        citation=LOLA,
        summary="iterated matching pennies against a fixed memory-1 opponent",
    )
)


# ---------------------------------------------------------------- the two-agent joint game


def _make_joint_cores_factory():
    def make_cores(lib) -> EnvCores:
        def reset(ep, key, state, j):
            state[0, j] = 0.0  # the start state: no previous round

        def step(ep, key, t, state, j, a):
            # a = 2 a1 + a2 (agent 1's action first); the next state is the round just played
            state[0, j] = 1.0 + a
            return ep[a], False

        def observe(ep, state, j, obs):
            obs[0, j] = state[0, j]

        return EnvCores(reset, step, observe)

    return make_cores


def joint_game_env(name: str, payoff1, gamma: float, horizon: int) -> Env:
    """Both agents of an iterated 2x2 game as ONE environment with joint actions.

    The action is the joint action z = 2 a1 + a2 in {0, 1, 2, 3} (CC, CD, DC, DD;
    0 = cooperate), drawn by a joint policy (:mod:`pgbench.games.joint`); the state
    is agent 1's view (0 = start, 1 + z = previous joint action); the reward is
    agent 1's payoff ``payoff1[z]`` (payoff1 (4,)); agent 2's payoff is a
    deterministic function of the stored joint action. The dynamics are
    deterministic given the joint action, so no env randomness is drawn.
    Not registered: it only fits the joint memory-1 policy.
    """
    payoff1 = np.ascontiguousarray(payoff1, dtype=np.float64)
    if payoff1.shape != (4,):
        raise InvalidSpecError(f"payoff1 must have shape (4,), got {payoff1.shape}")
    return Env(
        name=f"{name}-joint",
        n_actions=4,
        state_dim=1,
        obs_dim=1,
        n_states=N_STATES,
        horizon=check_horizon(horizon),
        gamma=_check_gamma(name, gamma),
        params=payoff1,
        make_cores=_make_joint_cores_factory(),
        spec={"game": name, "gamma": float(gamma), "horizon": int(horizon)},
    )
