"""Actor-critic gradient forms: Q, advantage and TD error, with exact or fitted critics.

The policy gradient theorem (Sutton, McAllester, Singh & Mansour 2000, Thm. 1;
Konda & Tsitsiklis 2000) in the finite-horizon form pgbench estimates,
J = E[sum_{t<T} gamma^t r_t], with time-dependent values discounted from t
(Q_t(s, a) = E[sum_{k>=t} gamma^(k-t) r_k | s_t = s, a_t = a], V_t(s) = E_a Q_t(s, a)):

    grad J = E[sum_t gamma^t score_t Q_t(s_t, a_t)]                      Q actor-critic
           = E[sum_t gamma^t score_t (Q_t(s_t, a_t) - V_t(s_t))]         advantage actor-critic
           = E[sum_t gamma^t score_t delta_t],                             TD actor-critic
             delta_t = r_t + gamma V_{t+1}(s_{t+1}) - V_t(s_t),

with score_t = grad_theta log pi_theta(a_t | s_t). V_t(s_t) may be subtracted because
E[score_t | s_t] = 0, and delta_t may replace the advantage because
E[delta_t | s_t, a_t] = Q_t(s_t, a_t) - V_t(s_t) (seed 004, eqs. 6-13).

Value after the end. V = 0 after termination (nothing more is received), and also at
the horizon T: the objective stops there, so V_T = 0 is the exact value of the
finite-horizon problem, not an approximation (there is no bootstrap at truncation,
because truncation at ``env.horizon`` is part of J). Estimates of J with a longer
horizon would need V(s_T) there; pgbench never truncates before ``env.horizon``.

Critics (``params.critic``):

* ``exact``: Q_t, V_t of :func:`pgbench.exact.exact_q_values` (tabular envs with
  tabular softmax only). All episodes go to the gradient; all three forms are unbiased.
* ``mc``: least-squares regression of the reward-to-go G_t (an unbiased sample of
  Q_t(s_t, a_t)) on the features.
* ``lstd``: LSTD(0) (Bradtke & Barto 1996; Boyan 2002): the fixed point of the
  TD(0) update, A w = b with A = sum x_t (x_t - gamma x_{t+1})^T, b = sum x_t r_t
  (x_{t+1} = 0 after the last step); for Q the next features are those of the
  action actually taken next (on-policy, as LSTD-Q).
* ``td0``: batch TD(0) (Sutton 1988): ``td_iterations`` updates
  w <- w + alpha (X^T X + ridge I)^{-1} X^T delta(w) over all fitting transitions, from
  w = 0. The semi-gradient TD(0) step averaged over the batch and preconditioned by
  the feature covariance (LSPE(0), Nedic & Bertsekas 2003): with one-hot features
  it is the tabular TD(0) update of each cell by the mean TD error of its visits
  (step alpha / visits), so rarely visited cells do not lag; it converges to the
  LSTD(0) solution, and stops short of it with few iterations.

Fitted critics use the features of :mod:`pgbench.estimators.features`: one-hot over
(t, s) for V and (t, s, a) for Q where observations are discrete (they represent V_t,
Q_t exactly), and (x, 1, tau, tau^2) with tau = t / H (per action for Q) for vector
observations x (linear in x, quadratic in time, so V_t and Q_t are in general not
representable). They are fitted on :func:`split_budget`'s share of the episodes,
``round(fit_fraction * episodes)`` kept in [1, episodes - 1], drawn with a seed of
their own (stream 1 of ``seed``), separate from the gradient batch (stream 0, the
rest of the budget), so the critic is independent of the episodes it weights: its
error biases the estimate, but never correlates with it. The gradient batch has the
same seed for every critic, so estimates with different critics at the same ``seed``
and gradient-batch size are paired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field
from scipy import linalg, sparse

from pgbench import exact
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.estimators.base import Estimator
from pgbench.estimators.features import action_value_features, live_steps, value_features
from pgbench.kernels.build import build_returns
from pgbench.params import HyperParams
from pgbench.registry import ESTIMATORS
from pgbench.seeding import derive_seed

GRADIENT_STREAM, FIT_STREAM = 0, 1
ROWS_PER_CHUNK = 1 << 13  # feature rows formed at once (bounds memory for one-hot features)


class CriticParams(HyperParams):
    """Hyperparameters shared by ``q-critic``, ``advantage-critic`` and ``td-critic``."""

    critic: Literal["td0", "lstd", "mc", "exact"] = Field(
        "lstd",
        description="how Q_w / V_w are obtained: batch TD(0) iterations, LSTD(0), Monte Carlo "
        "regression of the reward-to-go, or the exact values (tabular envs only)",
    )
    fit_fraction: float = Field(
        0.5,
        gt=0.0,
        lt=1.0,
        description="share of the episode budget spent on separate episodes to fit the critic "
        "(the rest is the gradient batch); ignored by the exact critic",
    )
    td_step_size: float = Field(
        1.0, gt=0.0, le=1.0, description="alpha of the preconditioned batch TD(0) update (td0)"
    )
    td_iterations: int = Field(100, ge=1, description="number of batch TD(0) updates (td0)")
    ridge: float = Field(
        1e-6,
        ge=0.0,
        description="Tikhonov term added to X^T X (mc, td0) or to A (lstd), in squared "
        "feature units; keeps cells never visited at 0",
    )


@dataclass(frozen=True)
class Critic:
    """Q_w and V_w as functions of (obs (N, d), t (N,) int[, actions (N,) int]) -> (N,)."""

    q: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None
    v: Callable[[np.ndarray, np.ndarray], np.ndarray] | None


# ---------------------------------------------------------------- the three forms


def q_actor_critic(sampler, theta, episodes: int, seed: int, params: CriticParams) -> np.ndarray:
    """Q actor-critic: mean over episodes of sum_t gamma^t score_t Q_w(s_t, a_t), (P,).

    Sutton et al. (2000), Thm. 1-2, with Q_w in place of Q^pi; seed 004, eq. 6.
    Units: reward per unit of parameter.
    """
    critic, batch = _critic_and_batch(sampler, theta, episodes, seed, params, ("q",))
    return _weighted_score_mean(batch, _q_at(critic, batch), sampler.env.gamma)


def advantage_actor_critic(
    sampler, theta, episodes: int, seed: int, params: CriticParams
) -> np.ndarray:
    """Advantage actor-critic: mean of sum_t gamma^t score_t (Q_w(s_t, a_t) - V_w(s_t)), (P,).

    V_w is a baseline (E[score_t | s_t] = 0), fitted separately from Q_w as in the
    seed's A2C (seed 004, eqs. 8-9); Sutton et al. (2000), Sec. 3. Units as Q actor-critic.
    """
    critic, batch = _critic_and_batch(sampler, theta, episodes, seed, params, ("q", "v"))
    advantage = _q_at(critic, batch) - _v_at(critic, batch)[:, :-1]
    return _weighted_score_mean(batch, advantage, sampler.env.gamma)


def td_actor_critic(sampler, theta, episodes: int, seed: int, params: CriticParams) -> np.ndarray:
    """TD actor-critic: mean of sum_t gamma^t score_t delta_t, (P,).

    delta_t = r_t + gamma V_w(s_{t+1}) - V_w(s_t), with V_w = 0 after the last step
    (termination or the horizon; see the module docstring). E[delta_t | s_t, a_t] is
    the advantage when V_w = V (seed 004, eqs. 10-12; Konda & Tsitsiklis 2000).
    """
    critic, batch = _critic_and_batch(sampler, theta, episodes, seed, params, ("v",))
    delta = _returns(sampler).td_errors(
        batch.rewards, _v_at(critic, batch), batch.mask, sampler.env.gamma
    )
    return _weighted_score_mean(batch, delta, sampler.env.gamma)


def _weighted_score_mean(batch, weights: np.ndarray, gamma: float) -> np.ndarray:
    """(P,) mean over episodes of sum_t gamma^t mask_t weights_t score_t; weights (E, T)."""
    E, T = batch.mask.shape
    coef = (gamma ** np.arange(T))[None, :] * batch.mask * weights
    return np.einsum("et,etp->p", coef, batch.score) / E


# ---------------------------------------------------------------- critics


def _critic_and_batch(sampler, theta, episodes, seed, params: CriticParams, need):
    """(critic, gradient batch): the exact critic or one fitted on separate episodes."""
    grad_seed, fit_seed = (derive_seed(seed, k) for k in (GRADIENT_STREAM, FIT_STREAM))
    if params.critic == "exact":
        critic = exact_critic(sampler.env, sampler.policy, theta)
        return critic, sampler.batch(theta, episodes, grad_seed)
    n_fit, n_grad = split_budget(episodes, params.fit_fraction)
    fit = sampler.batch(theta, n_fit, fit_seed)
    critic = fit_critic(sampler.env, fit, params, need, _returns(sampler))
    return critic, sampler.batch(theta, n_grad, grad_seed)


def split_budget(episodes: int, fit_fraction: float) -> tuple[int, int]:
    """(fitting episodes, gradient episodes), each at least 1; needs ``episodes >= 2``."""
    if episodes < 2:
        raise InvalidSpecError(
            f"a fitted critic needs at least 2 episodes (one to fit, one for the gradient), "
            f"got {episodes}"
        )
    n_fit = min(max(round(fit_fraction * episodes), 1), episodes - 1)
    return n_fit, episodes - n_fit


def exact_critic(env, policy, theta) -> Critic:
    """Q_t, V_t tabulated by :func:`pgbench.exact.exact_q_values`; NoExactFormError elsewhere."""
    try:
        Q, V = exact.exact_q_values(env, policy, theta)
    except NoExactFormError as exc:
        raise NoExactFormError(
            f"critic='exact' is unavailable: {exc}; use critic 'lstd', 'mc' or 'td0'"
        ) from None

    def q(obs, t, a):
        return Q[t, _state(obs), a]

    def v(obs, t):
        return V[t, _state(obs)]

    return Critic(q=q, v=v)


def fit_critic(env, fit, params: CriticParams, need, returns) -> Critic:
    """Linear Q_w (if ``"q"`` in ``need``) and V_w (if ``"v"``) fitted on the batch ``fit``."""
    data = _transitions(fit, returns, env.gamma)
    q = v = None
    if "q" in need and env.continuous:
        raise InvalidSpecError(
            f"a fitted action-value critic (q-critic, advantage-critic) needs discrete actions; "
            f"{env.describe()} has a continuous one (use td-critic or the likelihood-ratio "
            "estimators)"
        )
    if "q" in need:

        def q_feat(obs, t, a):
            return action_value_features(env, obs, t, a)

        w_q = _solve(_moments(q_feat, data, env.gamma, with_actions=True), params, env.gamma)
        q = _linear(q_feat, w_q, with_actions=True)
    if "v" in need:

        def v_feat(obs, t):
            return value_features(env, obs, t)

        w_v = _solve(_moments(v_feat, data, env.gamma, with_actions=False), params, env.gamma)
        v = _linear(v_feat, w_v, with_actions=False)
    return Critic(q=q, v=v)


@dataclass(frozen=True)
class _Transitions:
    """Live steps of a batch, flat (N = live steps): (s_t, t, a_t, r_t, G_t) and the next
    step (s_{t+1}, t+1, a_{t+1}) where ``alive_next``, else the episode ended (x_{t+1} = 0)."""

    obs: np.ndarray
    t: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    rtg: np.ndarray
    alive_next: np.ndarray
    next_obs: np.ndarray
    next_actions: np.ndarray


def _transitions(batch, returns, gamma: float) -> _Transitions:
    e, t = live_steps(batch)
    T = batch.mask.shape[1]
    t1 = np.minimum(t + 1, T - 1)
    alive_next = (t + 1 < T) & (batch.mask[e, t1] > 0)
    return _Transitions(
        obs=batch.obs[e, t],
        t=t,
        actions=batch.actions[e, t],
        rewards=batch.rewards[e, t],
        rtg=returns.reward_to_go(batch.rewards, batch.mask, gamma)[e, t],
        alive_next=alive_next,
        next_obs=batch.obs[e, t1],
        next_actions=batch.actions[e, t1],
    )


def _moments(feat, d: _Transitions, gamma: float, with_actions: bool):
    """Sufficient statistics over the transitions, accumulated in chunks of rows:
    C = X^T X, A = X^T (X - gamma X'), b = X^T r, c = X^T G (X' = 0 after the end).
    Products are sparse: one-hot features have one nonzero per row out of H S A."""
    C = A = b = c = 0.0
    for lo in range(0, len(d.t), ROWS_PER_CHUNK):
        sl = slice(lo, lo + ROWS_PER_CHUNK)
        act, nact = ((d.actions[sl],), (d.next_actions[sl],)) if with_actions else ((), ())
        X_next = feat(d.next_obs[sl], np.where(d.alive_next[sl], d.t[sl] + 1, d.t[sl]), *nact)
        X_next[~d.alive_next[sl]] = 0.0
        X, X_next = sparse.csr_array(feat(d.obs[sl], d.t[sl], *act)), sparse.csr_array(X_next)
        C = C + (X.T @ X).toarray()
        A = A + (X.T @ (X - gamma * X_next)).toarray()
        b = b + X.T @ d.rewards[sl]
        c = c + X.T @ d.rtg[sl]
    return C, A, b, c


def _solve(moments, params: CriticParams, gamma: float) -> np.ndarray:
    """Critic weights w (k,) from the moments, by ``params.critic``."""
    C, A, b, c = moments
    ridge = params.ridge * np.eye(C.shape[0])
    if params.critic == "mc":  # min_w ||X w - G||^2
        return np.linalg.solve(C + ridge, c)
    if params.critic == "lstd":  # A w = b
        return np.linalg.solve(A + ridge, b)
    # td0: X^T delta(w) = X^T (r + gamma X' w - X w) = b - A w
    w = np.zeros_like(b)
    precondition = linalg.cho_factor(C + ridge)
    for _ in range(params.td_iterations):
        w = w + params.td_step_size * linalg.cho_solve(precondition, b - A @ w)
    return w


def _linear(feat, w: np.ndarray, with_actions: bool):
    """The function feat(...) @ w, evaluated in chunks of rows."""

    def value(obs, t, *actions):
        out = np.empty(len(t))
        for lo in range(0, len(t), ROWS_PER_CHUNK):
            sl = slice(lo, lo + ROWS_PER_CHUNK)
            out[sl] = feat(obs[sl], t[sl], *(a[sl] for a in actions)) @ w
        return out

    return value


def _q_at(critic: Critic, batch) -> np.ndarray:
    """(E, T) Q_w(s_t, a_t) on live steps, 0 elsewhere."""
    e, t = live_steps(batch)
    out = np.zeros(batch.mask.shape)
    out[e, t] = critic.q(batch.obs[e, t], t, batch.actions[e, t])
    return out


def _v_at(critic: Critic, batch) -> np.ndarray:
    """(E, T + 1) V_w(s_t) on live steps, 0 after the end (termination or horizon)."""
    e, t = live_steps(batch)
    E, T = batch.mask.shape
    out = np.zeros((E, T + 1))
    out[e, t] = critic.v(batch.obs[e, t], t)
    return out


def _state(obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs).reshape(len(obs), -1)[:, 0].astype(np.int64)


def _returns(sampler):
    """Return scans on the CPU (the batches are host arrays)."""
    return build_returns("serial" if sampler.kernels.target == "serial" else "parallel")


# ---------------------------------------------------------------- registration

CITATION = (
    "Sutton, McAllester, Singh & Mansour (2000), NeurIPS, Thm. 1-2; "
    "Konda & Tsitsiklis (2000), NeurIPS"
)
BIAS_NOTE = (
    "unbiased with critic='exact'. A fitted critic (td0, lstd, mc) is fitted on separate "
    "episodes, so it is independent of the gradient batch and only its error biases the "
    "estimate: sum_t gamma^t E[score_t (Q_w - Q_t)(s_t, a_t)] for the Q and advantage forms "
    "(an error in V_w(s_t) is a baseline and adds none), gamma^(t+1) E[score_t (V_w - "
    "V_{t+1})(s_{t+1})] for the TD form. With one-hot (t, s[, a]) features on tabular envs "
    "the bias vanishes as the fitting budget grows (mc, lstd; td0 with enough iterations); "
    "with the linear features of vector observations ((x, 1, t/H, (t/H)^2), per action "
    "for Q), which cannot represent Q_t and V_t in general, it stays at any budget."
)


def _unbiased(params: CriticParams) -> bool:
    return params.critic == "exact"


for _name, _fn, _what in (
    ("q-critic", q_actor_critic, "Q actor-critic"),
    ("advantage-critic", advantage_actor_critic, "advantage actor-critic"),
    ("td-critic", td_actor_critic, "TD-error actor-critic"),
):
    ESTIMATORS.add(
        Estimator(
            name=_name,
            fn=_fn,
            params=CriticParams,
            unbiased=_unbiased,
            citation=f"{_what}: {CITATION}",
            bias_note=BIAS_NOTE,
        )
    )
