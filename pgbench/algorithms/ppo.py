"""Proximal policy optimization (Schulman, Wolski, Dhariwal, Radford & Klimov 2017).

Each iteration of :func:`_ppo` is Algorithm 1 of the paper, in the order CleanRL's
``ppo.py`` writes it:

1. collect a segment of ``n_envs`` x ``n_steps`` transitions under pi_old = pi_theta and
   score it with GAE(gamma, lambda) advantages and returns from a learned state-value
   critic (:func:`~pgbench.algorithms.segments.collect_segment`, Stable-Baselines3's
   ``collect_rollouts``);
2. ``n_epochs`` passes over the segment in random minibatches of ``batch_size``; on each,
   the gradient of the objective (eq. 9)

       L(theta, phi) = L^policy(theta) - c1 L^VF(phi) + c2 S[pi_theta]

   written term by term in :func:`objective_gradient`, then one optimizer step on
   (theta, phi) together (one optimizer and one gradient-norm clip, as in the reference
   implementations: OpenAI baselines, Stable-Baselines3);
3. the update's statistics (mean KL(pi_old || pi_theta), entropy) on the whole segment.

The two variants differ in L^policy only, with r = pi_theta(a|s) / pi_old(a|s):

* ``ppo-clip`` (eq. 7): L^CLIP = E[min(r A, clip(r, 1 - eps, 1 + eps) A)];
* ``ppo-kl`` (eq. 8): L^KLPEN = E[r A] - beta KL(pi_old || pi_theta), beta doubled when
  the KL after the epochs exceeds 1.5 x ``target_kl`` and halved when it is below
  ``target_kl`` / 1.5 (:func:`adapt_beta`).

The code differentiates by hand: each term contributes weights on the per-row
gradients that the policy's distributions and the critic's forward pass back-propagate
(``dist.grad(actions, w_logp, w_ent, old, w_kl)`` = sum_n w_logp_n grad log pi(a_n|s_n)
+ w_ent grad sum_n H_n + w_kl grad sum_n KL_n; ``out.grad(d)`` = sum_n d_n grad V(s_n)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.algorithms.fused import (
    Float32Moments,
    Float32Values,
    check_float32,
    fused_nets,
    fused_ppo_epochs,
    fused_ppo_epochs32,
)
from pgbench.algorithms.normalize import NormalizeParams
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.algorithms.segments import (
    CriticParams,
    Transitions,
    collect_segment,
    discount,
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
    value_clip_range: float | None = Field(
        None,
        gt=0,
        description="clip the value loss around the old values (OpenAI baselines, CleanRL's "
        "clip_vloss; None: unclipped)",
    )
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    normalize: NormalizeParams = Field(
        NormalizeParams(), description="observation / reward normalisation (VecNormalize)"
    )
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=3e-4, eps=1e-5, max_grad_norm=0.5),
        description="optimizer of policy and critic together",
    )
    fused: bool = Field(
        True,
        description="all epochs of an update in one compiled call where the networks allow "
        "(false: the per-minibatch reference path)",
    )
    precision: Literal["float64", "float32"] = Field(
        "float64",
        description="arithmetic of the fused update (float32: MLP softmax or Gaussian "
        "policy, adam, and the critic's values for GAE; rollouts stay float64)",
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


@dataclass(frozen=True)
class Minibatch:
    """Rows ``idx`` (n,) of a segment's transitions.

    obs (n, OD); actions (n,); advantages (n,) A_n, standardized within the minibatch
    when ``normalize_advantage``; returns (n,) R_n, the critic's targets; old_logp (n,)
    log pi_old(a_n | s_n) under the policy that collected the segment; old_values (n,)
    V_old(s_n), the critic's values before the update.
    """

    obs: np.ndarray
    actions: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    old_logp: np.ndarray
    old_values: np.ndarray

    @classmethod
    def rows(cls, tr: Transitions, idx: np.ndarray, old_logp: np.ndarray, normalize: bool):
        adv = normalized(tr.advantages[idx]) if normalize else tr.advantages[idx]
        return cls(
            tr.obs[idx], tr.actions[idx], adv, tr.returns[idx], old_logp[idx], tr.values[idx]
        )

    @property
    def n(self) -> int:
        return int(self.actions.shape[0])


def objective_gradient(
    policy,
    critic,
    theta: np.ndarray,
    phi: np.ndarray,
    mb: Minibatch,
    hp: PPOParams,
    clip: float | None,
    beta: float,
    theta_old: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ascent direction (d L / d theta (P,), d L / d phi (Q,)) of the PPO objective
    L = L^policy - c1 L^VF + c2 S (Schulman et al. 2017, eq. 9) on minibatch ``mb``.

    L^policy is L^CLIP with epsilon ``clip``, or L^KLPEN with coefficient ``beta`` where
    ``clip`` is None (pi_old = pi_{theta_old}); c1 = ``vf_coef``, c2 = ``ent_coef``; every
    expectation is the mean over the n rows. With ``value_clip_range`` L^VF is clipped
    around the old values as in OpenAI baselines' ppo2 (not a term of the paper).
    """
    n = mb.n
    dist = policy.distributions(theta, mb.obs)
    ratio = np.exp(dist.log_prob(mb.actions) - mb.old_logp)  # r_n = pi_theta / pi_old
    # c2 S = c2 mean_n H[pi_theta(.|s_n)]: weight c2 / n on grad H_n
    w_ent = hp.ent_coef / n
    if clip is not None:
        # L^CLIP = mean_n min(r_n A_n, clip(r_n, 1 - eps, 1 + eps) A_n): weights on grad log pi
        w_logp = clipped_surrogate_weights(ratio, mb.advantages, clip)
        g_theta = dist.grad(mb.actions, w_logp, w_ent=w_ent)
    else:
        # L^KLPEN = mean_n r_n A_n - beta KL(pi_old(.|s_n) || pi_theta(.|s_n)): weights
        # r_n A_n / n on grad log pi (d r / d log pi = r) and -beta / n on grad KL_n
        old = policy.distributions(theta_old, mb.obs)
        w_logp = ratio * mb.advantages / n
        g_theta = dist.grad(mb.actions, w_logp, w_ent=w_ent, old=old, w_kl=-beta / n)
    # -c1 L^VF, L^VF = mean_n (V_phi(s_n) - R_n)^2: output gradient c1 2 (R_n - V(s_n)) / n
    out = critic.forward(phi, mb.obs)
    d = hp.vf_coef * 2.0 * (mb.returns - out.values) / n
    if hp.value_clip_range is not None:
        # clipped (baselines' ppo2): L^VF = mean_n max((V - R)^2, (V_clip - R)^2) with
        # V_clip = V_old + clip(V - V_old, -eps_v, eps_v); where the clipped term is the
        # larger one the clip binds and the term is constant in phi: weight 0
        eps_v = hp.value_clip_range
        v_clip = mb.old_values + np.clip(out.values - mb.old_values, -eps_v, eps_v)
        d = np.where((v_clip - mb.returns) ** 2 > (out.values - mb.returns) ** 2, 0.0, d)
    g_phi = out.grad(d)
    return g_theta, g_phi


def _ppo(run, hp: PPOParams, clip_fn=None, kl_target: float | None = None, beta0: float = 0.0):
    """Schulman et al. 2017, Algorithm 1: L^CLIP with epsilon ``clip_fn(progress)``, or
    (``clip_fn`` None) L^KLPEN with beta from ``beta0`` adapted towards ``kl_target``."""
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic)
    theta = run.theta0.copy()
    P = theta.shape[0]
    step = _Epochs(run, hp, critic, P + phi.shape[0], "ppo-clip" if clip_fn else "ppo-kl")
    scoring = Float32Values(step.nets) if step.moments32 is not None else critic
    lanes = run.lanes(hp.n_envs, normalize=hp.normalize, gamma=gamma)
    beta = beta0
    run.log(theta)
    while not run.done():
        # 1. a segment under pi_old = pi_theta, with GAE advantages and returns
        tr = collect_segment(run, theta, lanes, hp.n_steps, scoring, phi, gamma, hp.gae_lambda)
        clip = clip_fn(run.progress) if clip_fn is not None else None
        theta_old = theta
        # 2. n_epochs x minibatches: the objective's gradient, then an optimizer step
        theta, phi, grad_norm = step(tr, theta, phi, clip, beta)
        # 3. the update's statistics on the segment; ppo-kl adapts beta to its KL
        if kl_target is not None or run.due():
            stats = policy_stats(policy, theta_old, theta, tr.obs)
            if kl_target is not None:
                beta = adapt_beta(beta, stats["kl"], kl_target)
            run.log(theta, grad_norm=grad_norm, **stats)
        else:
            run.log(theta)
    run.finish(theta)
    return theta


class _Epochs:
    """Step 2 of Algorithm 1 on one segment: ``(tr, theta, phi, clip, beta) -> (theta,
    phi, |d L / d theta| of the last minibatch)``, with one optimizer over (theta, phi).

    Minibatch by minibatch as written in :func:`objective_gradient` (``fused: false``, or
    networks the fused kernels do not know), else every epoch in one compiled call
    (:func:`pgbench.algorithms.fused.fused_ppo_epochs`; in float32 with ``precision``).
    Each epoch's row order is one permutation from the run's ``rng`` on every path.
    """

    def __init__(self, run, hp: PPOParams, critic, n_params: int, name: str):
        self.run, self.hp, self.critic = run, hp, critic
        self.nets = fused_nets(run.policy, critic) if hp.fused else None
        self.opt = Optimizer(hp.optimizer, n_params)
        self.moments32 = None
        if hp.precision == "float32":
            check_float32(name, self.nets, hp.optimizer)
            self.moments32 = Float32Moments(n_params)

    def __call__(self, tr: Transitions, theta, phi, clip: float | None, beta: float):
        run, hp, P = self.run, self.hp, theta.shape[0]
        progress = run.progress
        if self.nets is None:
            return self._reference(tr, theta, phi, clip, beta, progress)
        perms = np.stack([run.rng.permutation(tr.n) for _ in range(hp.n_epochs)])
        params = np.concatenate([theta, phi])
        if self.moments32 is not None:
            grad_norm = fused_ppo_epochs32(
                self.nets, params, P, self.opt, self.moments32, progress, tr, perms, hp,
                clip, beta,
            )  # fmt: skip
        else:
            old = run.policy.distributions(theta, tr.obs)
            grad_norm = fused_ppo_epochs(
                self.nets, params, P, self.opt, progress, tr, old, perms, hp, clip, beta
            )
        return params[:P], params[P:], grad_norm

    def _reference(self, tr, theta, phi, clip, beta, progress):
        run, hp, P = self.run, self.hp, theta.shape[0]
        theta_old = theta
        old_logp = run.policy.distributions(theta, tr.obs).log_prob(tr.actions)
        grad_norm = 0.0
        for _ in range(hp.n_epochs):
            for idx in minibatches(run.rng, tr.n, hp.batch_size):
                mb = Minibatch.rows(tr, idx, old_logp, hp.normalize_advantage)
                g_theta, g_phi = objective_gradient(
                    run.policy, self.critic, theta, phi, mb, hp, clip, beta, theta_old
                )
                grad_norm = float(np.sqrt(g_theta @ g_theta))
                params = self.opt.step(
                    np.concatenate([theta, phi]), np.concatenate([g_theta, g_phi]), progress
                )
                theta, phi = params[:P], params[P:]
        return theta, phi, grad_norm


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
