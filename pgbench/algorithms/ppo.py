"""Proximal policy optimization (Schulman, Wolski, Dhariwal, Radford & Klimov 2017).

Both variants collect a segment of ``n_envs`` x ``n_steps`` transitions,
compute GAE advantages with a learned state-value critic, then run
``n_epochs`` passes of minibatch stochastic gradient ascent on a surrogate:

* ``ppo-clip`` (eq. 7): L = E[min(r A, clip(r, 1 - eps, 1 + eps) A)], with
  r = pi_theta(a|s) / pi_old(a|s);
* ``ppo-kl`` (eq. 8): L = E[r A] - beta KL(pi_old || pi_theta), beta doubled
  when the KL after the epochs exceeds 1.5 x ``target_kl`` and halved when it
  is below ``target_kl`` / 1.5.

The critic is fitted in the same steps, minimising vf_coef E[(R - V(s))^2]
(eq. 9, with an entropy bonus ent_coef E[H]); policy and critic parameters
share one optimizer and one gradient-norm clip, as in the reference
implementations (OpenAI baselines, Stable-Baselines3).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.algorithms.segments import (
    CriticParams,
    discount,
    gae_transitions,
    make_critic,
    minibatches,
    normalized,
    policy_stats,
)
from pgbench.registry import ALGORITHMS


class PPOParams(AlgoParams):
    n_envs: int = Field(8, ge=1, description="parallel environments (lanes)")
    n_steps: int = Field(128, ge=1, description="steps per environment per update")
    batch_size: int = Field(256, ge=1, description="minibatch size")
    n_epochs: int = Field(10, ge=1, description="passes over each segment")
    gamma: float | None = Field(None, gt=0, le=1, description="discount (None: the env's)")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    normalize_advantage: bool = Field(True, description="standardize advantages per minibatch")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="critic loss weight")
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=3e-4, eps=1e-5, max_grad_norm=0.5),
        description="optimizer of policy and critic together",
    )

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one update: a segment of n_envs x n_steps."""
        return self.n_envs * self.n_steps, self.n_envs * self.n_steps


class PPOClipParams(PPOParams):
    clip_range: float = Field(0.2, gt=0, lt=1, description="epsilon of the clipped ratio")
    clip_schedule: Literal["constant", "linear"] = Field(
        "constant", description="linear: epsilon decays to 0 over the budget"
    )


class PPOKLParams(PPOParams):
    target_kl: float = Field(0.01, gt=0, description="KL target d_targ")
    beta: float = Field(1.0, gt=0, description="initial KL penalty coefficient")


def clipped_surrogate_weights(ratio, adv, clip: float) -> np.ndarray:
    """d/d log pi of mean_n min(r_n A_n, clip(r_n, 1 - clip, 1 + clip) A_n): (N,).

    Where the clipped term is the smaller one and the ratio is outside the
    clip range, the term is constant in theta, so its weight is 0; elsewhere
    it is r A / N (d r / d log pi = r).
    """
    unclipped = ratio * adv
    clipped = np.clip(ratio, 1.0 - clip, 1.0 + clip) * adv
    active = unclipped <= clipped
    return np.where(active, unclipped, 0.0) / adv.shape[0]


def clipped_surrogate(ratio, adv, clip: float) -> float:
    """mean_n min(r_n A_n, clip(r_n, 1 - clip, 1 + clip) A_n)."""
    return float(np.minimum(ratio * adv, np.clip(ratio, 1.0 - clip, 1.0 + clip) * adv).mean())


def adapt_beta(beta: float, kl: float, target: float) -> float:
    """The KL-penalty coefficient after an update with mean KL ``kl`` (Schulman et al.
    2017, sec. 4): doubled above 1.5 ``target``, halved below ``target`` / 1.5."""
    if kl > 1.5 * target:
        return beta * 2.0
    if kl < target / 1.5:
        return beta / 2.0
    return beta


def _ppo(run, hp: PPOParams, clip_fn=None, kl_target: float | None = None, beta0: float = 0.0):
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic)
    theta = run.theta0.copy()
    P = theta.shape[0]
    opt = Optimizer(hp.optimizer, P + phi.shape[0])
    lanes = run.lanes(hp.n_envs)
    beta = beta0
    run.log(theta)
    while not run.done():
        seg = run.segment(theta, lanes, hp.n_steps)
        progress = run.progress
        tr = gae_transitions(run, seg, critic, phi, gamma, hp.gae_lambda)
        old = policy.distributions(theta, tr.obs)
        old_logp = old.log_prob(tr.actions)
        clip = clip_fn(progress) if clip_fn is not None else None
        theta_old = theta
        grad_norm = 0.0
        for _ in range(hp.n_epochs):
            for idx in minibatches(run.rng, tr.n, hp.batch_size):
                obs, actions = tr.obs[idx], tr.actions[idx]
                adv = (
                    normalized(tr.advantages[idx]) if hp.normalize_advantage else tr.advantages[idx]
                )
                n = idx.shape[0]
                dist = policy.distributions(theta, obs)
                ratio = np.exp(dist.log_prob(actions) - old_logp[idx])
                if clip is not None:
                    w_logp = clipped_surrogate_weights(ratio, adv, clip)
                    g_theta = dist.grad(actions, w_logp, w_ent=hp.ent_coef / n)
                else:
                    old_mb = policy.distributions(theta_old, obs)
                    g_theta = dist.grad(
                        actions, ratio * adv / n, w_ent=hp.ent_coef / n, old=old_mb, w_kl=-beta / n
                    )
                out = critic.forward(phi, obs)
                g_phi = out.grad(hp.vf_coef * 2.0 * (tr.returns[idx] - out.values) / n)
                grad_norm = float(np.sqrt(g_theta @ g_theta))
                params = opt.step(
                    np.concatenate([theta, phi]), np.concatenate([g_theta, g_phi]), progress
                )
                theta, phi = params[:P], params[P:]
        stats = policy_stats(policy, theta_old, theta, tr.obs)
        if kl_target is not None:
            beta = adapt_beta(beta, stats["kl"], kl_target)
        run.log(theta, grad_norm=grad_norm, **stats)
    run.finish(theta)
    return theta


def ppo_clip(run, hp: PPOClipParams) -> np.ndarray:
    """PPO with the clipped surrogate objective (Schulman et al. 2017, Algorithm 1, eq. 7)."""

    def clip_at(progress: float) -> float:
        if hp.clip_schedule == "linear":
            return hp.clip_range * max(1.0 - progress, 0.0)
        return hp.clip_range

    return _ppo(run, hp, clip_fn=clip_at)


def ppo_kl(run, hp: PPOKLParams) -> np.ndarray:
    """PPO with the adaptive KL penalty (Schulman et al. 2017, section 4, eq. 8)."""
    return _ppo(run, hp, kl_target=hp.target_kl, beta0=hp.beta)


ALGORITHMS.add(
    Algorithm(
        name="ppo-clip",
        fn=ppo_clip,
        params=PPOClipParams,
        citation="Schulman et al. 2017, Proximal Policy Optimization Algorithms, eq. 7, Alg. 1",
        summary="PPO, clipped surrogate, minibatch epochs, GAE critic",
    )
)
ALGORITHMS.add(
    Algorithm(
        name="ppo-kl",
        fn=ppo_kl,
        params=PPOKLParams,
        citation="Schulman et al. 2017, Proximal Policy Optimization Algorithms, eq. 8",
        summary="PPO, adaptive KL penalty (beta x2 above 1.5 d_targ, /2 below d_targ/1.5)",
    )
)
