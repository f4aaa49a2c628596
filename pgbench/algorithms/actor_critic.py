"""Actor-critic methods on segments of parallel environments.

* ``a2c``: advantage actor-critic, the synchronous form of A3C (Mnih et al.
  2016, "Asynchronous methods for deep reinforcement learning", Algorithm S3):
  n-step advantages (``gae_lambda = 1``) or GAE(lambda) (Schulman et al. 2016),
  one gradient step per segment on E[A grad log pi] + ent_coef E[grad H], the
  critic regressed on the n-step / lambda returns.
* ``td-ac``: one-step actor-critic with the TD error as the advantage (Sutton
  & Barto 2018, section 13.5: delta = r + gamma V(s') - V(s); theta +=
  alpha_theta delta grad log pi; w += alpha_w delta grad V), separate step sizes.
* ``q-ac``: Q actor-critic: the actor follows E[Q_w(s, a) grad log pi(a|s)]
  (the policy gradient theorem with a learned action value, Sutton et al.
  2000), the critic Q_w learns by TD(0) towards the expected-SARSA target
  r + gamma sum_a' pi(a'|s') Q_w(s', a') (0 after a terminal step).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.algorithms.fused import fused_a2c_step, fused_nets
from pgbench.algorithms.normalize import NormalizeParams
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.algorithms.segments import (
    CriticParams,
    collect_segment,
    discount,
    log_update,
    make_critic,
    normalized,
    require_discrete,
)
from pgbench.registry import ALGORITHMS


class A2CParams(AlgoParams):
    n_envs: int = Field(8, ge=1, description="parallel environments (lanes)")
    n_steps: int = Field(5, ge=1, description="steps per environment per update")
    gamma: float | None = Field(None, gt=0, le=1, description="discount (None: the env's)")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="1: n-step returns; <1: GAE")
    normalize_advantage: bool = Field(False, description="standardize advantages per update")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="critic loss weight")
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    normalize: NormalizeParams = Field(
        NormalizeParams(), description="observation / reward normalisation (VecNormalize)"
    )
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="rmsprop", lr=7e-4, alpha=0.99, eps=1e-5, max_grad_norm=0.5),
        description="optimizer of policy and critic together",
    )
    fused: bool = Field(
        True,
        description="the whole update in one compiled call where the networks allow "
        "(false: the step by step reference path)",
    )

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one update: a segment of n_envs x n_steps."""
        return self.n_envs * self.n_steps, self.n_envs * self.n_steps


def a2c(run, hp: A2CParams) -> np.ndarray:
    """Advantage actor-critic (Mnih et al. 2016, Algorithm S3, synchronous). Each update
    runs in one compiled call (:func:`pgbench.algorithms.fused.fused_a2c_step`) where the
    networks allow and ``hp.fused``, else step by step as written here."""
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic)
    nets = fused_nets(policy, critic) if hp.fused else None
    P = run.theta0.shape[0]
    params = np.concatenate([run.theta0, phi])  # one optimizer over (theta, phi)
    opt = Optimizer(hp.optimizer, params.shape[0])
    grad = np.empty_like(params)
    lanes = run.lanes(hp.n_envs, normalize=hp.normalize, gamma=gamma)
    run.log(params[:P])
    while not run.done():
        theta, phi = params[:P], params[P:]
        if nets is not None:
            seg = run.segment(theta, lanes, hp.n_steps)
            theta_old = theta.copy()  # params is stepped in place
            g_theta = fused_a2c_step(nets, params, P, opt, run.progress, seg, gamma, hp)
            obs = seg.obs.reshape(-1, seg.obs.shape[-1])
            log_update(run, policy, theta_old, params[:P], obs, g_theta)
            continue
        tr = collect_segment(run, theta, lanes, hp.n_steps, critic, phi, gamma, hp.gae_lambda)
        adv = normalized(tr.advantages) if hp.normalize_advantage else tr.advantages
        n = tr.n
        dist = policy.distributions(theta, tr.obs)
        grad[:P] = dist.grad(tr.actions, adv / n, w_ent=hp.ent_coef / n)
        grad[P:] = tr.value_regression_grad(hp.vf_coef)
        params = opt.step(params, grad, run.progress)
        log_update(run, policy, theta, params[:P], tr.obs, grad[:P])
    run.finish(params[:P])
    return params[:P].copy()


class TDACParams(AlgoParams):
    n_envs: int = Field(8, ge=1, description="parallel environments (lanes)")
    n_steps: int = Field(1, ge=1, description="steps per environment per update")
    gamma: float | None = Field(None, gt=0, le=1, description="discount (None: the env's)")
    actor: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=3e-4), description="actor step (alpha_theta)"
    )
    critic_optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=1e-3), description="critic step (alpha_w)"
    )
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    normalize: NormalizeParams = Field(
        NormalizeParams(), description="observation / reward normalisation (VecNormalize)"
    )

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one update: a segment of n_envs x n_steps."""
        return self.n_envs * self.n_steps, self.n_envs * self.n_steps


def td_ac(run, hp: TDACParams) -> np.ndarray:
    """One-step actor-critic (Sutton & Barto 2018, sec. 13.5), averaged over lanes and steps."""
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic)
    theta = run.theta0.copy()
    actor_opt = Optimizer(hp.actor, theta.shape[0])
    critic_opt = Optimizer(hp.critic_optimizer, phi.shape[0])
    lanes = run.lanes(hp.n_envs, normalize=hp.normalize, gamma=gamma)
    run.log(theta)
    while not run.done():
        # lambda = 0: the advantages are the TD errors
        tr = collect_segment(run, theta, lanes, hp.n_steps, critic, phi, gamma, 0.0)
        n = tr.n
        dist = policy.distributions(theta, tr.obs)
        g_theta = dist.grad(tr.actions, tr.advantages / n)
        g_phi = tr.critic_grad(tr.advantages / n)  # semi-gradient TD(0)
        theta_old = theta
        theta = actor_opt.step(theta, g_theta, run.progress)
        phi = critic_opt.step(phi, g_phi, run.progress)
        log_update(run, policy, theta_old, theta, tr.obs, g_theta)
    run.finish(theta)
    return theta


class QACParams(TDACParams):
    n_steps: int = Field(5, ge=1, description="steps per environment per update")


def q_ac(run, hp: QACParams) -> np.ndarray:
    """Q actor-critic: actor on Q_w(s, a) grad log pi, critic TD(0) (expected SARSA)."""
    require_discrete(run, "q-ac")
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic, action_value=True)
    theta = run.theta0.copy()
    actor_opt = Optimizer(hp.actor, theta.shape[0])
    critic_opt = Optimizer(hp.critic_optimizer, phi.shape[0])
    lanes = run.lanes(hp.n_envs, normalize=hp.normalize, gamma=gamma)
    run.log(theta)
    while not run.done():
        seg = run.segment(theta, lanes, hp.n_steps)
        L, T, OD = seg.obs.shape
        obs = seg.obs.reshape(-1, OD)
        actions = seg.actions.reshape(-1)
        n = actions.shape[0]
        targets = seg.rewards + gamma * _expected_next_q(policy, critic, theta, phi, seg)
        out = critic.forward(phi, obs)
        q_taken = out.values[np.arange(n), actions]
        td = targets.reshape(-1) - q_taken
        d = np.zeros_like(out.values)
        d[np.arange(n), actions] = td / n
        g_phi = out.grad(d)
        dist = policy.distributions(theta, obs)
        g_theta = dist.grad(actions, q_taken / n)
        theta_old = theta
        theta = actor_opt.step(theta, g_theta, run.progress)
        phi = critic_opt.step(phi, g_phi, run.progress)
        log_update(run, policy, theta_old, theta, obs, g_theta)
    run.finish(theta)
    return theta


def _expected_next_q(policy, critic, theta, phi, seg) -> np.ndarray:
    """(L, T) sum_a' pi(a'|s') Q(s', a') of the state each step led to (0 if terminal)."""
    L, T, OD = seg.obs.shape
    nxt = np.empty((L, T, OD))
    nxt[:, :-1] = seg.obs[:, 1:]
    nxt[:, -1] = seg.last_obs
    truncated = seg.truncated > 0
    nxt[truncated] = seg.final_obs[truncated]
    flat = nxt.reshape(-1, OD)
    q = critic.forward(phi, flat).values
    probs = np.exp(_all_log_probs(policy, theta, flat, q.shape[1]))
    v = (probs * q).sum(axis=1).reshape(L, T)
    v[seg.terminated > 0] = 0.0
    return v


def _all_log_probs(policy, theta, obs, A: int) -> np.ndarray:
    """(N, A) log pi(a | s_n) for every action a."""
    dist = policy.distributions(theta, obs)
    n = obs.shape[0]
    return np.stack([dist.log_prob(np.full(n, a, dtype=np.int64)) for a in range(A)], axis=1)


ALGORITHMS.add(
    Algorithm(
        name="a2c",
        fn=a2c,
        params=A2CParams,
        citation="Mnih et al. 2016, Asynchronous methods for deep RL, Alg. S3 (synchronous)",
        summary="advantage actor-critic, n-step or GAE(lambda) advantages, one step per segment",
    )
)
ALGORITHMS.add(
    Algorithm(
        name="td-ac",
        fn=td_ac,
        params=TDACParams,
        citation="Sutton & Barto 2018, Reinforcement Learning, sec. 13.5",
        summary="one-step actor-critic: TD error as advantage, semi-gradient TD(0) critic",
    )
)
ALGORITHMS.add(
    Algorithm(
        name="q-ac",
        fn=q_ac,
        params=QACParams,
        citation="Sutton et al. 2000, Policy gradient methods with function approximation",
        summary="Q actor-critic: actor on Q_w(s,a), TD(0) expected-SARSA action-value critic",
    )
)
