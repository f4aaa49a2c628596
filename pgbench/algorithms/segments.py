"""Shared pieces of the actor-critic family: critics, segments, advantages, minibatches.

A segment (:class:`pgbench.kernels.Segment`) is T steps of L persistent
environments; flattened lane-major it is a batch of N = L T transitions.
Advantages are GAE(gamma, lambda) (Schulman et al. 2016, "High-dimensional
continuous control using generalized advantage estimation", eq. 16) with
lambda = 1 giving n-step returns to the segment's end (A2C, Mnih et al. 2016)
and lambda = 0 the TD error (one-step actor-critic). A truncated step
bootstraps from the value of the state it reached; a terminal step from 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from pgbench.errors import InvalidSpecError
from pgbench.params import HyperParams
from pgbench.seeding import derive_seed
from pgbench.values import make_value


class CriticParams(HyperParams):
    """The critic's function class (:func:`pgbench.values.make_value`)."""

    kind: Literal["tabular", "linear", "mlp"] = Field("mlp", description="function class")
    hidden: tuple[int, ...] = Field((64, 64), strict=False, description="hidden layer sizes (mlp)")
    activation: Literal["tanh", "relu"] = Field("tanh", description="hidden-layer activation (mlp)")


def make_critic(run, params: CriticParams, action_value: bool = False):
    """(value model, initial phi) for ``run``'s env, initialized from the run's seed."""
    kwargs = (
        {"hidden": tuple(params.hidden), "activation": params.activation}
        if params.kind == "mlp"
        else {}
    )
    model = make_value(params.kind, run.env, action_value=action_value, **kwargs)
    return model, model.init(derive_seed(run.seed, "critic") % 2**63)


def discount(run, gamma: float | None) -> float:
    """The algorithm's discount: its own ``gamma`` if set, else the env's."""
    return run.env.gamma if gamma is None else float(gamma)


@dataclass(frozen=True)
class Transitions:
    """A segment flattened lane-major to N = L T rows.

    obs (N, OD), actions (N,) (or (N, K) for a K-component action), advantages (N,),
    returns (N,) (= advantages +
    values: the critic's regression target), values (N,) V(s_n) before the update.
    ``critic`` is the critic's forward pass that gave the values, over the N
    states followed by the L lanes' last states (N + L rows), kept for its
    backward pass.
    """

    obs: np.ndarray
    actions: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    values: np.ndarray
    critic: object = None

    @property
    def n(self) -> int:
        return int(self.actions.shape[0])

    def critic_grad(self, d: np.ndarray) -> np.ndarray:
        """sum_n d_n grad_phi V(s_n) for d (N,), through the kept forward pass."""
        padded = np.zeros(self.critic.values.shape[0])
        padded[: self.n] = d
        return self.critic.grad(padded)

    def value_regression_grad(self, coef: float) -> np.ndarray:
        """Gradient of -coef * mean((return - V(s))^2) w.r.t. phi (an ascent direction)."""
        return self.critic_grad(coef * 2.0 * (self.returns - self.values) / self.n)


def state_values(model, phi, obs: np.ndarray) -> np.ndarray:
    """V(s) for obs (..., OD) -> (...)."""
    flat = obs.reshape(-1, obs.shape[-1])
    return model.forward(phi, flat).values.reshape(obs.shape[:-1])


def next_state_values(model, phi, seg, values: np.ndarray, last: np.ndarray) -> np.ndarray:
    """(L, T) value of the state each step led to: V(s_{t+1}) inside an episode (the
    next column of ``values``, then ``last`` (L,) = V(last obs)), V(final state) after
    a truncated step, 0 after a terminal one."""
    nxt = np.empty_like(values)
    nxt[:, :-1] = values[:, 1:]
    nxt[:, -1] = last
    truncated = seg.truncated > 0
    if truncated.any():
        nxt[truncated] = state_values(model, phi, seg.final_obs[truncated])
    nxt[seg.terminated > 0] = 0.0
    return nxt


def gae_transitions(run, seg, model, phi, gamma: float, lam: float) -> Transitions:
    """Advantages GAE(gamma, lam) and critic targets of segment ``seg``, with one critic
    forward pass over its states and the lanes' last states."""
    L, T = seg.rewards.shape
    obs = seg.obs.reshape(L * T, -1)
    out = model.forward(phi, np.concatenate([obs, seg.last_obs.reshape(L, -1)]))
    values = out.values[: L * T].reshape(L, T)
    nxt = next_state_values(model, phi, seg, values, out.values[L * T :])
    adv = run.returns.gae_segment(seg.rewards, values, nxt, seg.dones, gamma, lam)
    return Transitions(
        obs=obs,
        actions=seg.actions.reshape(L * T, *seg.actions.shape[2:]),  # (N,) or (N, K)
        advantages=adv.reshape(-1),
        returns=(adv + values).reshape(-1),
        values=values.reshape(-1),
        critic=out,
    )


def collect_segment(
    run, theta: np.ndarray, lanes, n_steps: int, model, phi, gamma: float, lam: float
) -> Transitions:
    """Step every lane of ``lanes`` ``n_steps`` times under pi_theta (counted against the
    run's budget: :meth:`~pgbench.algorithms.trainer.TrainRun.segment`) and score the
    segment with the critic ``model`` at ``phi``: GAE(gamma, lam) advantages and returns
    (:func:`gae_transitions`). Stable-Baselines3's ``collect_rollouts`` with its
    ``compute_returns_and_advantage``."""
    seg = run.segment(theta, lanes, n_steps)
    return gae_transitions(run, seg, model, phi, gamma, lam)


def normalized(x: np.ndarray) -> np.ndarray:
    """(x - mean) / (std + 1e-8), std with Bessel's correction (as SB3 and baselines)."""
    if x.size < 2:
        return x - x.mean()
    return (x - x.mean()) / (x.std(ddof=1) + 1e-8)


def minibatches(rng: np.random.Generator, n: int, size: int):
    """Index arrays of a random permutation of range(n), ``size`` at a time."""
    order = rng.permutation(n)
    for start in range(0, n, size):
        yield order[start : start + size]


def value_regression_grad(model, phi, obs, targets, coef: float):
    """Gradient of -coef * mean((target - V(s))^2) w.r.t. phi (an ascent direction)."""
    out = model.forward(phi, obs)
    d = coef * 2.0 * (targets - out.values) / targets.shape[0]
    return out.grad(d)


def require_discrete(run, algorithm: str) -> None:
    if run.policy.continuous:
        raise InvalidSpecError(
            f"{algorithm} needs a discrete-action policy; {run.policy.name} is continuous"
        )


def policy_stats(policy, theta_old, theta_new, obs) -> dict:
    """Mean KL(pi_old || pi_new) and mean entropy of pi_new on ``obs``."""
    old = policy.distributions(theta_old, obs)
    new = policy.distributions(theta_new, obs)
    return {"kl": float(old.kl(new).mean()), "entropy": float(new.entropy().mean())}


def log_update(run, policy, theta_old, theta, obs, g_theta) -> None:
    """``run.log`` with the update's statistics, computed only when a point is due."""
    if run.due():
        stats = policy_stats(policy, theta_old, theta, obs)
        run.log(theta, grad_norm=float(np.linalg.norm(g_theta)), **stats)
    else:
        run.log(theta)
