"""Sampled two-agent play through the one-agent kernel machinery.

Both agents of an iterated 2x2 game run as ONE joint environment
(:func:`pgbench.envs.games.joint_game_env`: action z = 2 a1 + a2, reward = agent
1's payoff) driven by a *joint memory-1 policy* with theta = concat(theta^1,
theta^2) (10 logits, each agent's in its own view). In agent 1's view state s
the policy draws z from the product distribution

    P(z | s) = pi^1(a1 | s) pi^2(a2 | s),   pi^1(C | s) = sigmoid(theta^1[s]),
                                             pi^2(C | s) = sigmoid(theta^2[OPPONENT_VIEW[s]]),

by inverse CDF of the step's one uniform over the 4 joint actions. The two
agents' parameters are disjoint and log P(z | s) = log pi^1(a1|s) + log pi^2(a2|s),
so the stored score of the joint policy is exactly
[grad_{th1} log pi^1(a1|s); grad_{th2} log pi^2(a2|s)]. Every kernel target
(serial, parallel, CUDA) therefore samples two-agent games with no new driver,
and the same seed gives the same episodes on each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from pgbench.envs.games import joint_game_env
from pgbench.errors import InvalidSpecError
from pgbench.games.exact import AGENT1_INDEX, AGENT2_INDEX, N_PARAMS, Game
from pgbench.kernels import build
from pgbench.policies.base import Policy, PolicyCores
from pgbench.sampling import kernel_target

N_JOINT = 4


def _make_joint_cores(lib) -> PolicyCores:
    exp = lib.exp
    categorical = lib.categorical

    @lib.jit
    def _coop(theta, s):
        """(P(agent 1 cooperates), P(agent 2 cooperates), agent 2's logit index) in state s."""
        s2 = s if (s == 0 or s == 1 or s == 4) else 5 - s  # OPPONENT_VIEW: CD <-> DC
        p1 = 1.0 / (1.0 + exp(-theta[s]))
        p2 = 1.0 / (1.0 + exp(-theta[5 + s2]))
        return p1, p2, 5 + s2

    @lib.jit
    def _fill(theta, obs, j, probs):
        s = np.int64(obs[0, j])
        p1, p2, i2 = _coop(theta, s)
        probs[0, j] = p1 * p2
        probs[1, j] = p1 * (1.0 - p2)
        probs[2, j] = (1.0 - p1) * p2
        probs[3, j] = (1.0 - p1) * (1.0 - p2)
        return s, p1, p2, i2

    def sample(theta, obs, j, u, probs):
        _fill(theta, obs, j, probs)
        return categorical(probs, j, N_JOINT, u)  # never a zero-probability joint action

    def log_prob(theta, obs, j, a, probs):
        _fill(theta, obs, j, probs)
        return math.log(probs[a, j])

    def score(theta, obs, j, a, probs, g):
        for p in range(10):
            g[p, j] = 0.0
        s = np.int64(obs[0, j])
        p1, p2, i2 = _coop(theta, s)
        a1 = a >> 1
        a2 = a & 1
        g[s, j] = (1.0 - a1) - p1  # d log pi^1(a1|s) / d theta^1[s]
        g[i2, j] = (1.0 - a2) - p2  # d log pi^2(a2|s) / d theta^2[view(s)]

    return PolicyCores(sample, log_prob, score)


def joint_probs(x: np.ndarray, states: np.ndarray) -> np.ndarray:
    """(N, 4) P(z | s) of the joint policy at x (10,) for agent-1-view states (N,)."""
    s = np.asarray(states, dtype=np.int64).reshape(-1)
    p1, p2 = expit(x[AGENT1_INDEX])[s], expit(x[AGENT2_INDEX])[s]
    return np.stack([p1 * p2, p1 * (1 - p2), (1 - p1) * p2, (1 - p1) * (1 - p2)], axis=1)


def joint_scores(x: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """(N, 10) grad_x log P(z | s) (numpy reference of the score core)."""
    s = np.asarray(states, dtype=np.int64).reshape(-1)
    z = np.asarray(actions, dtype=np.int64).reshape(-1)
    p1, p2 = expit(x[AGENT1_INDEX])[s], expit(x[AGENT2_INDEX])[s]
    g = np.zeros((len(s), N_PARAMS))
    rows = np.arange(len(s))
    g[rows, AGENT1_INDEX[s]] = (1 - (z >> 1)) - p1
    g[rows, AGENT2_INDEX[s]] = (1 - (z & 1)) - p2
    return g


def joint_policy(env) -> Policy:
    """The joint memory-1 policy (10 parameters) for a joint game env."""
    return Policy(
        name="joint-memory-1",
        n_actions=N_JOINT,
        obs_dim=1,
        n_params=N_PARAMS,
        theta_shape=(N_PARAMS,),
        init_scale=0.0,
        make_cores=_make_joint_cores,
        probs_ref=joint_probs,
        score_ref=joint_scores,
    )


@dataclass(frozen=True)
class GameBatch:
    """E sampled episodes of T rounds of both agents at x = (theta1, theta2).

    states (E, T) int64: agent 1's view state before round t (0 = start).
    actions (E, T, 2) int64: (a1, a2), 0 = cooperate.
    rewards (E, T, 2): payoff of agent 1 and agent 2 in round t (undiscounted).
    score (E, T, 10): [grad_{th1} log pi^1(a1_t|s_t); grad_{th2} log pi^2(a2_t|s_t)] as
    the kernel stored it, or (E, T, 0) when not asked for (estimators rebuild the two
    non-zeros of each step from states and actions, :func:`.estimators.sparse_scores`).
    gamma: the game's discount.
    """

    x: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    score: np.ndarray
    gamma: float

    @property
    def episodes(self) -> int:
        return int(self.states.shape[0])

    @property
    def discounts(self) -> np.ndarray:
        """(T,) gamma^t."""
        return self.gamma ** np.arange(self.states.shape[1], dtype=np.float64)

    def per_step_reward(self) -> np.ndarray:
        """(2,) batch mean of (1 - gamma) sum_t gamma^t r^k_t, each agent."""
        ret = np.einsum("t,etk->k", self.discounts, self.rewards) / self.episodes
        return (1.0 - self.gamma) * ret


class GameSampler:
    """Batches of two-agent episodes of ``game`` on one kernel backend.

    ``game.horizon`` rounds per episode; episode e of a batch with seed s uses the
    stream keyed by (s, e) (common random numbers across learners and backends).
    """

    def __init__(self, game: Game, backend: str = "cpu"):
        if game.horizon is None:
            raise InvalidSpecError(f"sampling {game.name} needs a horizon (rounds per episode)")
        self.game = game
        self.env = joint_game_env(game.name, game.payoffs[0], game.gamma, game.horizon)
        self.policy = joint_policy(self.env)
        self.kernels = build(self.env, self.policy, kernel_target(backend))
        self.env_steps = 0

    def batch(self, x: np.ndarray, episodes: int, seed: int, scores: bool = False) -> GameBatch:
        """``episodes`` episodes at x = concat(theta1, theta2) (10,); ``scores``: also store
        the kernel's per-step scores (E, T, 10)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        tr = self.kernels.rollout(
            self.env.params, x, int(seed), int(episodes), self.game.horizon, scores
        )
        z = tr.actions
        actions = np.stack([z >> 1, z & 1], axis=-1)
        rewards = self.game.payoffs.T[z]  # (E, T, 2)
        self.env_steps += int(tr.lengths.sum())
        return GameBatch(
            x=x.copy(),
            states=tr.obs[..., 0].astype(np.int64),
            actions=actions,
            rewards=rewards,
            score=tr.score,
            gamma=self.game.gamma,
        )
