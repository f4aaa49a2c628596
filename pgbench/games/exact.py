"""Exact values, gradients and Hessians of both agents in an iterated 2x2 game.

Setting (LOLA, Foerster et al., AAMAS 2018, arXiv 1709.04326, Sec. 4.2): two
memory-1 agents, each with 5 logits theta^k (start, CC, CD, DC, DD from ITS OWN
view, P(cooperate) = sigmoid(logit); :mod:`pgbench.envs.games` conventions).
The joint parameter is x = concat(theta^1, theta^2), shape (10,).

The play is a Markov chain over the previous joint action z in {CC, CD, DC, DD}
(agent 1's action first; z = 2 a1 + a2). In agent 1's view state s (0 = start,
1 + z otherwise) the joint action distribution is the product

    J(s) = [p1 p2, p1 (1 - p2), (1 - p1) p2, (1 - p1)(1 - p2)],
    p1 = sigmoid(theta^1[s]),  p2 = sigmoid(theta^2[OPPONENT_VIEW[s]]),

so p0 = J(0) (4,) is the first round's distribution and P = J(1..4) (4, 4) the
transition matrix between joint actions. With r^k (4,) agent k's payoff per
joint action the discounted value is (LOLA, Sec. 4.2)

    V^k = sum_{t >= 0} gamma^t p0^T P^t r^k = p0^T (I - gamma P)^{-1} r^k     (horizon None)
    V^k_H = sum_{t < H} gamma^t p0^T P^t r^k                                   (horizon H)

and the per-step reward is (1 - gamma) V^k. Derivatives are analytic (no
autodiff, no finite differences): J, dJ and d2J are closed forms of the
sigmoid; the infinite-horizon value differentiates M = (I - gamma P)^{-1}
(dM = gamma M dP M), the finite-horizon value propagates first and second
derivatives of p_t = p0 P^t forward in t. The two routes are independent and
agree as H grows (tests). Units: reward units (payoff per round, discounted
sum); gradients per unit of logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from pgbench.envs.games import OPPONENT_VIEW, ipd_payoffs, matching_pennies_payoffs
from pgbench.errors import InvalidSpecError
from pgbench.registry import suggest

N_LOGITS = 5
N_PARAMS = 2 * N_LOGITS
GAMES = ("ipd", "matching-pennies")
DEFAULT_GAMMA = {"ipd": 0.96, "matching-pennies": 0.9}  # LOLA, Sec. 5
# index of the logit each agent uses in agent 1's view state s: (5,) each, into x (10,)
AGENT1_INDEX = np.arange(N_LOGITS)
AGENT2_INDEX = N_LOGITS + OPPONENT_VIEW


@dataclass(frozen=True)
class Game:
    """An iterated 2x2 game of two memory-1 agents.

    name: ``ipd`` or ``matching-pennies``. payoffs (2, 4): ``payoffs[k, z]`` is agent
    k's payoff (k = 0 first agent) for joint action z = 2 a1 + a2 (CC, CD, DC, DD;
    0 = cooperate / heads). gamma: discount in (0, 1). horizon: rounds per sampled
    episode (None: infinite, exact values only).
    """

    name: str
    payoffs: np.ndarray
    gamma: float
    horizon: int | None = None

    def describe(self) -> str:
        h = "inf" if self.horizon is None else self.horizon
        return f"{self.name}(gamma={self.gamma}, horizon={h})"


def make_game(name: str, gamma: float | None = None, horizon: int | None = None) -> Game:
    """The game ``name`` ("ipd" or "matching-pennies") with the LOLA payoffs and discount.

    Args:
        name: game name.
        gamma: discount in (0, 1); default 0.96 (IPD) or 0.9 (matching pennies).
        horizon: rounds per sampled episode (>= 1), or None for exact-only use.

    Raises:
        InvalidSpecError: unknown game (with a suggestion), gamma or horizon out of range.
    """
    if name not in GAMES:
        raise InvalidSpecError(f"unknown game {name!r}" + suggest(str(name), list(GAMES)))
    g = DEFAULT_GAMMA[name] if gamma is None else gamma
    if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0.0 < float(g) < 1.0:
        raise InvalidSpecError(f"{name} gamma must be a number in (0, 1), got {gamma!r}")
    if horizon is not None and (
        isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1
    ):
        raise InvalidSpecError(f"{name} horizon must be a positive integer, got {horizon!r}")
    pay = ipd_payoffs() if name == "ipd" else matching_pennies_payoffs()
    payoffs = np.stack([pay[0].ravel(), pay[1].ravel()])  # (2, 4) over z = 2 a1 + a2
    return Game(name, payoffs, float(g), None if horizon is None else int(horizon))


def as_game(game, gamma: float | None = None, horizon: int | None = None) -> Game:
    """``game`` itself if it is a :class:`Game`, else :func:`make_game` of the name."""
    if isinstance(game, Game):
        return game
    return make_game(game, gamma, horizon)


def check_thetas(theta1, theta2) -> np.ndarray:
    """x = concat(theta1, theta2) (10,) float64 after checking shapes and finiteness."""
    out = []
    for k, th in ((1, theta1), (2, theta2)):
        try:
            arr = np.asarray(th, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSpecError(f"theta{k} must be 5 numbers, got {th!r}") from None
        if arr.shape != (N_LOGITS,):
            raise InvalidSpecError(
                f"theta{k} must have shape (5,) (start, CC, CD, DC, DD), got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidSpecError(f"theta{k} has non-finite entries")
        out.append(arr)
    return np.concatenate(out)


# ---------------------------------------------------------------- the chain and its derivatives


def cooperation_probs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p1, p2), each (5,): P(cooperate) of agent 1 and agent 2 in agent 1's view states."""
    return expit(x[AGENT1_INDEX]), expit(x[AGENT2_INDEX])


def joint_table(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The joint action distribution per state and its first and second derivatives.

    Returns:
        J (5, 4): J[s, z] = P(joint action z | agent 1's view state s).
        dJ (10, 5, 4): d J[s, z] / d x_i.
        d2J (10, 10, 5, 4): d^2 J[s, z] / d x_i d x_j (symmetric in i, j).

    J(s) = outer([p1, 1 - p1], [p2, 1 - p2]).ravel(); sigmoid'(u) = p (1 - p),
    sigmoid''(u) = p (1 - p)(1 - 2p).
    """
    p1, p2 = cooperation_probs(x)
    sign = np.array([1.0, -1.0])
    u1 = np.stack([p1, 1 - p1], axis=1)  # (5, 2)
    u2 = np.stack([p2, 1 - p2], axis=1)
    d1 = (p1 * (1 - p1))[:, None] * sign  # (5, 2): d u1 / d theta1[s]
    d2 = (p2 * (1 - p2))[:, None] * sign
    dd1 = (p1 * (1 - p1) * (1 - 2 * p1))[:, None] * sign
    dd2 = (p2 * (1 - p2) * (1 - 2 * p2))[:, None] * sign

    def outer(a, b):  # (5, 2), (5, 2) -> (5, 4)
        return np.einsum("sa,sb->sab", a, b).reshape(-1, 4)

    J = outer(u1, u2)
    dJ = np.zeros((N_PARAMS, 5, 4))
    d2J = np.zeros((N_PARAMS, N_PARAMS, 5, 4))
    for s in range(5):
        i, j = AGENT1_INDEX[s], AGENT2_INDEX[s]
        dJ[i, s] = np.outer(d1[s], u2[s]).ravel()
        dJ[j, s] = np.outer(u1[s], d2[s]).ravel()
        d2J[i, i, s] = np.outer(dd1[s], u2[s]).ravel()
        d2J[j, j, s] = np.outer(u1[s], dd2[s]).ravel()
        cross = np.outer(d1[s], d2[s]).ravel()
        d2J[i, j, s] = cross
        d2J[j, i, s] = cross
    return J, dJ, d2J


@dataclass(frozen=True)
class Derivatives:
    """Both agents' values and their derivatives at x = (theta1, theta2).

    value (2,): V^k. grad (2, 10): d V^k / d x. hess (2, 10, 10): d^2 V^k / d x d x^T
    (symmetric). Blocks: ``grad[k, :5]`` is w.r.t. theta^1, ``grad[k, 5:]`` w.r.t.
    theta^2 (agent 2's own-view logits); ``hess[1, :5, 5:]`` is d^2 V^2 / d theta^1 d theta^2.
    """

    value: np.ndarray
    grad: np.ndarray
    hess: np.ndarray

    def per_step(self, gamma: float) -> np.ndarray:
        """(2,) per-step rewards (1 - gamma) V^k."""
        return (1.0 - gamma) * self.value


def derivatives(game: Game, x: np.ndarray, horizon: int | None = None) -> Derivatives:
    """V^k, grad V^k and Hess V^k for both agents at x (10,), in closed form.

    horizon None: the infinite-horizon value p0^T (I - gamma P)^{-1} r^k;
    an int H: the value of the first H rounds (what an H-round rollout estimates).
    """
    J, dJ, d2J = joint_table(x)
    p0, P = J[0], J[1:]
    dp0, dP = dJ[:, 0], dJ[:, 1:]
    d2p0, d2P = d2J[:, :, 0], d2J[:, :, 1:]
    R = game.payoffs.T  # (4, 2)
    g = game.gamma
    if horizon is None:
        return _infinite(p0, P, dp0, dP, d2p0, d2P, R, g)
    return _finite(p0, P, dp0, dP, d2p0, d2P, R, g, int(horizon))


def _infinite(p0, P, dp0, dP, d2p0, d2P, R, g) -> Derivatives:
    """V = p0 M R with M = (I - g P)^-1; dM/dx_j = g M dP_j M.

    With v = M R (4, 2) and a = p0 M (4,):
    dV_i = dp0_i v + g a dP_i v;
    d2V_ij = d2p0_ij v + dp0_i dv_j + g da_j dP_i v + g a d2P_ij v + g a dP_i dv_j,
    dv_j = g M dP_j v, da_j = dp0_j M + g a dP_j M.
    """
    M = np.linalg.inv(np.eye(4) - g * P)
    v = M @ R  # (4, 2)
    a = p0 @ M  # (4,)
    value = p0 @ v
    dPv = dP @ v  # (n, 4, 2)
    grad = dp0 @ v + g * np.einsum("z,izk->ik", a, dPv)  # (n, 2)
    dv = g * np.einsum("yz,jzk->jyk", M, dPv)  # (n, 4, 2)
    da = dp0 @ M + g * np.einsum("z,jzy,yw->jw", a, dP, M)  # (n, 4)
    hess = (
        np.einsum("ijz,zk->ijk", d2p0, v)
        + np.einsum("iz,jzk->ijk", dp0, dv)
        + g * np.einsum("jz,izk->ijk", da, dPv)
        + g * np.einsum("z,ijzy,yk->ijk", a, d2P, v)
        + g * np.einsum("z,izy,jyk->ijk", a, dP, dv)
    )
    return Derivatives(value, grad.T.copy(), np.moveaxis(hess, 2, 0).copy())


def _finite(p0, P, dp0, dP, d2p0, d2P, R, g, H: int) -> Derivatives:
    """V_H = sum_{t<H} g^t p_t R with p_{t+1} = p_t P, differentiated forward in t:
    dp_{t+1,i} = dp_{t,i} P + p_t dP_i;
    d2p_{t+1,ij} = d2p_{t,ij} P + dp_{t,i} dP_j + dp_{t,j} dP_i + p_t d2P_ij."""
    p, dp, d2p = p0.copy(), dp0.copy(), d2p0.copy()
    acc_p, acc_dp, acc_d2p = np.zeros(4), np.zeros_like(dp), np.zeros_like(d2p)
    w = 1.0
    for t in range(H):
        acc_p += w * p
        acc_dp += w * dp
        acc_d2p += w * d2p
        w *= g
        if t == H - 1:
            break
        pdP = np.einsum("z,izy->iy", p, dP)  # (n, 4)
        cross = np.einsum("iz,jzy->ijy", dp, dP)  # (n, n, 4)
        d2p = d2p @ P + cross + cross.transpose(1, 0, 2) + np.einsum("z,ijzy->ijy", p, d2P)
        dp = dp @ P + pdP
        p = p @ P
    value = acc_p @ R
    grad = (acc_dp @ R).T.copy()
    hess = np.moveaxis(acc_d2p @ R, 2, 0).copy()
    return Derivatives(value, grad, hess)


# ---------------------------------------------------------------- public helpers


def values(game, theta1, theta2, horizon: int | None = None) -> np.ndarray:
    """(2,) V^1, V^2 at (theta1, theta2); ``game`` a :class:`Game` or a name."""
    game = as_game(game)
    x = check_thetas(theta1, theta2)
    if horizon is None:
        J = joint_table(x)[0]
        M = np.linalg.inv(np.eye(4) - game.gamma * J[1:])
        return J[0] @ M @ game.payoffs.T
    return derivatives(game, x, horizon).value


def lola_exact_update(d: Derivatives, agent: int, eta: float) -> np.ndarray:
    """The first-order Taylor LOLA update direction of ``agent`` (0 or 1), shape (5,).

    LOLA (Foerster et al. 2018, Sec. 4.2, eq. for f_lola): for agent 1
        f^1 = grad_{th1} V^1 + eta (grad_{th2} V^1)^T grad_{th1} grad_{th2} V^2,
    i.e. grad_{th1} of V^1 + eta (grad_{th2} V^1)_stop . grad_{th2} V^2, the term
    through which agent 1 shapes the opponent's naive step Delta th2 = eta grad_{th2} V^2;
    the term through grad_{th2} V^1 itself is dropped, as in the paper and its code
    (``stop_gradient`` in ``lola/train_exact.py``). Symmetric for agent 2.
    """
    me = slice(0, 5) if agent == 0 else slice(5, 10)
    other = slice(5, 10) if agent == 0 else slice(0, 5)
    k, o = agent, 1 - agent
    own = d.grad[k, me]
    cross = d.hess[o][me, other]  # d^2 V^o / d th_me d th_other  (5, 5)
    return own + eta * cross @ d.grad[k, other]
