"""Natural policy gradient and trust region policy optimization.

Both estimate the policy gradient g = E[A grad log pi] from a segment with GAE
advantages and a learned critic, and solve F x = g for the natural direction
by conjugate gradient on Fisher-vector products (never forming F; Schulman
et al. 2015, Appendix C):

* ``npg``: a fixed KL step: theta += sqrt(2 delta / x^T F x) x (Kakade 2002,
  "A natural policy gradient", with the step of Rajeswaran et al. 2017,
  "Towards generalization and simplicity in continuous control", Alg. 1);
* ``trpo``: the same maximal step, then a backtracking line search that
  accepts the first shrunken step whose surrogate L = E[r A] improves and
  whose mean KL(pi_old || pi_new) <= delta (Schulman et al. 2015, "Trust
  region policy optimization", sec. 6 and Appendix C). No step is taken when
  no candidate passes.

The critic is fitted after the policy step by ``critic_epochs`` passes of
minibatch Adam on the GAE returns.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.algorithms.normalize import NormalizeParams
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.algorithms.segments import (
    CriticParams,
    collect_segment,
    discount,
    make_critic,
    minibatches,
    normalized,
    policy_stats,
    value_regression_grad,
)
from pgbench.registry import ALGORITHMS


class NPGParams(AlgoParams):
    n_envs: int = Field(8, ge=1, description="parallel environments (lanes)")
    n_steps: int = Field(256, ge=1, description="steps per environment per update")
    gamma: float | None = Field(None, gt=0, le=1, description="discount (None: the env's)")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    max_kl: float = Field(0.01, gt=0, description="KL step delta")
    cg_iters: int = Field(10, ge=1, description="conjugate-gradient iterations")
    damping: float = Field(0.1, ge=0, description="F + damping I in the CG solve")
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    normalize: NormalizeParams = Field(
        NormalizeParams(), description="observation / reward normalisation (VecNormalize)"
    )
    critic_epochs: int = Field(5, ge=1, description="critic passes per update")
    critic_batch_size: int = Field(256, ge=1, description="critic minibatch size")
    critic_optimizer: OptimizerParams = Field(
        OptimizerParams(kind="adam", lr=1e-3), description="critic optimizer"
    )

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one update: a segment of n_envs x n_steps."""
        return self.n_envs * self.n_steps, self.n_envs * self.n_steps


class TRPOParams(NPGParams):
    backtrack_iters: int = Field(10, ge=1, description="line-search candidates")
    backtrack_coef: float = Field(0.8, gt=0, lt=1, description="step shrink factor")


def conjugate_gradient(fvp, b: np.ndarray, iters: int, tol: float = 1e-10) -> np.ndarray:
    """x with (F) x = b by conjugate gradient (Hestenes & Stiefel 1952), F given as fvp."""
    x = np.zeros_like(b)
    r = b.copy()
    p = b.copy()
    rr = r @ r
    for _ in range(iters):
        if rr < tol:
            break
        Ap = fvp(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def natural_step(dist, g: np.ndarray, hp: NPGParams) -> tuple[np.ndarray, float]:
    """The maximal step sqrt(2 delta / x^T F x) x, x = (F + damping I)^-1 g; and x^T F x."""

    def fvp(v):
        return dist.fvp(v) + hp.damping * v

    x = conjugate_gradient(fvp, g, hp.cg_iters)
    xFx = float(x @ fvp(x))
    if not np.isfinite(xFx) or xFx <= 0:
        return np.zeros_like(g), 0.0
    return np.sqrt(2.0 * hp.max_kl / xFx) * x, xFx


def _trust_region(run, hp: NPGParams, line_search: bool) -> np.ndarray:
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi = make_critic(run, hp.critic)
    critic_opt = Optimizer(hp.critic_optimizer, phi.shape[0])
    theta = run.theta0.copy()
    lanes = run.lanes(hp.n_envs, normalize=hp.normalize, gamma=gamma)
    run.log(theta)
    while not run.done():
        tr = collect_segment(run, theta, lanes, hp.n_steps, critic, phi, gamma, hp.gae_lambda)
        adv = normalized(tr.advantages)
        n = tr.n
        dist = policy.distributions(theta, tr.obs)
        old_logp = dist.log_prob(tr.actions)
        g = dist.grad(tr.actions, adv / n)
        step, _ = natural_step(dist, g, hp)
        theta_old = theta
        if line_search:
            theta = _line_search(policy, dist, theta, step, tr, adv, old_logp, hp)
        else:
            theta = theta + step
        for _ in range(hp.critic_epochs):
            for idx in minibatches(run.rng, n, hp.critic_batch_size):
                g_phi = value_regression_grad(critic, phi, tr.obs[idx], tr.returns[idx], 1.0)
                phi = critic_opt.step(phi, g_phi, run.progress)
        run.log(
            theta,
            grad_norm=float(np.linalg.norm(g)),
            **policy_stats(policy, theta_old, theta, tr.obs),
        )
    run.finish(theta)
    return theta


def surrogate(policy, theta, obs, actions, adv, old_logp) -> float:
    """L(theta) = mean_n exp(log pi_theta(a_n|s_n) - log pi_old(a_n|s_n)) A_n."""
    logp = policy.distributions(theta, obs).log_prob(actions)
    return float(np.mean(np.exp(logp - old_logp) * adv))


def _line_search(policy, dist, theta, step, tr, adv, old_logp, hp: TRPOParams) -> np.ndarray:
    """First theta + c^k step (k = 0, 1, ...) with L improved and mean KL <= max_kl."""
    base = float(np.mean(adv))  # L(theta_old): every ratio is 1
    for k in range(hp.backtrack_iters):
        candidate = theta + hp.backtrack_coef**k * step
        new = policy.distributions(candidate, tr.obs)
        kl = float(dist.kl(new).mean())
        improved = surrogate(policy, candidate, tr.obs, tr.actions, adv, old_logp) > base
        if improved and kl <= hp.max_kl:
            return candidate
    return theta


def npg(run, hp: NPGParams) -> np.ndarray:
    """Natural policy gradient with a fixed KL step (Kakade 2002; Rajeswaran et al. 2017)."""
    return _trust_region(run, hp, line_search=False)


def trpo(run, hp: TRPOParams) -> np.ndarray:
    """TRPO: natural step with a KL- and improvement-checked line search (Schulman 2015)."""
    return _trust_region(run, hp, line_search=True)


ALGORITHMS.add(
    Algorithm(
        name="npg",
        fn=npg,
        params=NPGParams,
        citation="Kakade 2002, A natural policy gradient; Rajeswaran et al. 2017, Alg. 1",
        summary="natural policy gradient: CG on Fisher-vector products, fixed KL step",
    )
)
ALGORITHMS.add(
    Algorithm(
        name="trpo",
        fn=trpo,
        params=TRPOParams,
        citation="Schulman et al. 2015, Trust region policy optimization, sec. 6, App. C",
        summary="TRPO: KL-constrained natural step with backtracking line search",
    )
)
