"""Sampled first- and second-order derivatives of both agents' values (DiCE, LOLA-PG).

For a batch of E episodes of T rounds at x = (theta^1, theta^2) (10,) with
per-step joint scores sigma_t = grad_x log P(z_t | s_t) (the stored kernel
score) let c_t = sum_{l <= t} sigma_l and h_t = sum_{l <= t} grad^2_x log P(z_l|s_l).

DiCE (Foerster et al., ICML 2018, arXiv 1802.05098, Sec. 4 and 5.2; seed 002):
the magic-box objective of agent k,

    L^k = sum_t box(W_t) gamma^t r^k_t,  box(W) = exp(W - stop(W)),
    W_t = sum_{l<=t} log P(z_l|s_l),

evaluates to the sampled return, and its derivatives at the sampling point are

    grad L^k   = sum_t gamma^t r^k_t c_t                         (the causal policy gradient)
    grad^2 L^k = sum_t gamma^t r^k_t (c_t c_t^T + h_t),

unbiased estimates of grad V^k and Hess V^k of the H-round value. Since the agents'
parameters are disjoint, h_t is diagonal and the (theta^1, theta^2) block of grad^2 L^2
is sum_t gamma^t r^2_t c^1_t (c^2_t)^T: exactly the LOLA-PG second-order estimator
E[R^2 grad log pi^1 (grad log pi^2)^T] in its causal form (LOLA, Sec. 4.3; seed 000).

Baselines (variance reduction; every one keeps all orders unbiased):

* ``none``: the raw weights gamma^t r^k_t.
* ``time``: gamma^t r^k_t minus its leave-one-out batch mean at the same t (the
  centering of the LOLA-DiCE authors' code, ``rets - mean(rets)``, made
  leave-one-out so it does not depend on the episode itself). A weight b_t that
  does not depend on the episode multiplies box(W_t), whose derivatives of
  every order have expectation 0.
* ``value``: Loaded DiCE (Farquhar et al., NeurIPS 2019, Sec. 4): add
  sum_t (box(W_{t-1}) - box(W_t)) gamma^t b(s_t) with a baseline b(s) fixed
  before the batch (a learned value table), whose derivatives of every order
  have expectation 0 given s_t; to first order it is the usual
  sum_t sigma_t (G_t - gamma^t b(s_t)).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import expit

from pgbench.errors import InvalidSpecError
from pgbench.games.exact import AGENT1_INDEX, AGENT2_INDEX, N_PARAMS
from pgbench.games.joint import GameBatch

Baseline = Literal["none", "time", "value"]
BASELINES = ("none", "time", "value")
CHUNK = 256  # episodes per block of the c c^T sum


def step_weights(batch: GameBatch, agent: int, baseline: str = "none") -> np.ndarray:
    """(E, T) weights gamma^t r^agent_t, centred per t (leave-one-out) for ``time``."""
    w = batch.discounts * batch.rewards[..., agent]
    if baseline == "time":
        E = w.shape[0]
        if E < 2:
            raise InvalidSpecError("baseline 'time' needs at least 2 episodes per batch")
        w = (w - w.mean(axis=0)) * (E / (E - 1))  # w_e - mean of the other episodes
    return w


def sparse_scores(batch: GameBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two non-zeros of each step's joint score and log-prob curvature.

    Returns (index, score, curv), each (E, T, 2): for agent k's column, the logit of
    x it used in round t, d log pi^k(a^k_t | s_t) / d that logit = 1[a^k_t = C] - p^k,
    and the second derivative -p^k (1 - p^k) (the same for both actions).
    """
    s = batch.states
    index = np.stack([AGENT1_INDEX[s], AGENT2_INDEX[s]], axis=-1)
    p = expit(batch.x)[index]
    score = (1.0 - batch.actions) - p
    return index, score, -p * (1.0 - p)


def logp_hessian(batch: GameBatch) -> np.ndarray:
    """(E, T, 10) the diagonal of grad^2_x log P(z_t | s_t) (dense :func:`sparse_scores`)."""
    index, _, curv = sparse_scores(batch)
    E, T = batch.states.shape
    h = np.zeros((E, T, N_PARAMS))
    e, t = np.meshgrid(np.arange(E), np.arange(T), indexing="ij")
    for k in (0, 1):
        h[e, t, index[..., k]] = curv[..., k]
    return h


def dense_cumulative(index: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(E, T, 10) cumulative joint scores c_t = sum_{l <= t} sigma_l from the sparse form."""
    E, T, _ = index.shape
    dense = np.zeros((E, T, N_PARAMS))
    np.put_along_axis(dense, index, sigma, axis=2)
    return np.cumsum(dense, axis=1, out=dense)


def _tail_sums(w: np.ndarray) -> np.ndarray:
    """(E, T) sum_{t' >= t} w_t'."""
    return np.cumsum(w[:, ::-1], axis=1)[:, ::-1]


def dice_derivatives(
    batch: GameBatch,
    agent: int,
    baseline: str = "none",
    values: np.ndarray | None = None,
    order: int = 2,
    per_episode: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """DiCE estimates of grad V^agent (10,) and, for ``order`` 2, Hess V^agent (10, 10).

    Args:
        batch: episodes at x.
        agent: 0 (first agent) or 1, whose payoff is the objective.
        baseline: ``none``, ``time`` or ``value`` (module docstring).
        values: (5,) baseline table b(s) over agent 1's view states (``value`` only).
        order: 1 (gradient only; the Hessian is None) or 2.
        per_episode: return per-episode terms, (E, 10) and (E, 10, 10), whose means are
            the estimates (for standard errors).

    Sums are reordered for speed without changing their value:
    sum_t w_t c_t = sum_l sigma_l sum_{t >= l} w_t, and likewise for the curvature
    term, so only the c_t c_t^T term needs the cumulative scores.
    Units: the H-round discounted value's derivatives per logit (and per logit^2).
    """
    if baseline not in BASELINES:
        raise InvalidSpecError(f"unknown baseline {baseline!r}; use one of {BASELINES}")
    E, T = batch.states.shape
    n = N_PARAMS
    w = step_weights(batch, agent, baseline)  # (E, T)
    index, sigma, curv = sparse_scores(batch)
    if baseline == "value":
        if values is None:
            raise InvalidSpecError("baseline 'value' needs a value table")
        beta = batch.discounts * np.asarray(values, dtype=np.float64)[batch.states]  # (E, T)
        # the Loaded-DiCE term's derivatives: first order -sum_t beta_t sigma_t; second
        # order -sum_t beta_t (Q_t - Q_{t-1}), Q = c c^T + h, i.e. weight beta_{t+1} - beta_t
        # on Q_t (beta_T = 0), which the first order reproduces as tail sums.
        w = w - beta + np.concatenate([beta[:, 1:], np.zeros((E, 1))], axis=1)
    tail = _tail_sums(w)  # (E, T)
    rows = np.repeat(np.arange(E), T * 2) if per_episode else None

    def scatter(weights: np.ndarray) -> np.ndarray:
        """sum over (e, t, k) of weights[e, t, k] at x index[e, t, k]: (10,) or (E, 10)."""
        if per_episode:
            flat = rows * n + index.reshape(-1)
            return np.bincount(flat, weights=weights.reshape(-1), minlength=E * n).reshape(E, n)
        return np.bincount(index.reshape(-1), weights=weights.reshape(-1), minlength=n) / E

    g = scatter(tail[..., None] * sigma)
    if order == 1:
        return g, None
    diag = scatter(tail[..., None] * curv)
    if per_episode:
        c = dense_cumulative(index, sigma)
        H = np.einsum("et,etp,etq->epq", w, c, c)
        H[:, np.arange(n), np.arange(n)] += diag
    else:
        H = np.zeros((n, n))
        for e0 in range(0, E, CHUNK):  # chunks keep the temporaries small and reused
            part = slice(e0, e0 + CHUNK)
            c = dense_cumulative(index[part], sigma[part]).reshape(-1, n)
            H += np.einsum("ip,iq->pq", w[part].reshape(-1, 1) * c, c)  # no BLAS threads
        H /= E
        H[np.arange(n), np.arange(n)] += diag
    return g, H


def lola_cross_term(batch: GameBatch, agent: int, baseline: str = "none") -> np.ndarray:
    """The LOLA-PG second-order estimate of grad_{th1} grad_{th2} V^agent, shape (5, 5).

    LOLA (Foerster et al. 2018, Sec. 4.3; seed 000):
    E[R^agent grad log pi^1 (grad log pi^2)^T] in its causal form
    (1/E) sum_e sum_t gamma^t r^agent_t c^1_t (c^2_t)^T, with c^k_t agent k's cumulative
    score; equal to the (theta^1, theta^2) block of :func:`dice_derivatives`' Hessian
    (``time`` baseline: centred weights, still unbiased) at a quarter of the work.
    Rows: agent 1's logits; columns: agent 2's own-view logits.
    """
    if baseline not in ("none", "time"):
        raise InvalidSpecError(
            f"the LOLA-PG cross term takes baseline 'none' or 'time', got {baseline!r}"
        )
    w = step_weights(batch, agent, baseline)
    index, sigma, _ = sparse_scores(batch)
    E = w.shape[0]
    out = np.zeros((5, 5))
    for e0 in range(0, E, CHUNK):
        part = slice(e0, e0 + CHUNK)
        c = dense_cumulative(index[part], sigma[part]).reshape(-1, N_PARAMS)
        out += np.einsum("ip,iq->pq", w[part].reshape(-1, 1) * c[:, :5], c[:, 5:])
    return out / E


def reward_to_go(batch: GameBatch, agent: int) -> np.ndarray:
    """(E, T) G_t = sum_{t' >= t} gamma^(t' - t) r^agent_t' (undiscounted from t)."""
    r = batch.rewards[..., agent]
    out = np.zeros_like(r)
    acc = np.zeros(r.shape[0])
    for t in range(r.shape[1] - 1, -1, -1):
        acc = r[:, t] + batch.gamma * acc
        out[:, t] = acc
    return out


def fit_values(batch: GameBatch, agent: int, table: np.ndarray, lr: float) -> np.ndarray:
    """One step of the tabular value baseline towards the batch's mean reward-to-go per
    state: b(s) <- b(s) + lr (mean G_t over visits of s - b(s)); unvisited states stay."""
    G = reward_to_go(batch, agent)
    s = batch.states.reshape(-1)
    sums = np.bincount(s, weights=G.reshape(-1), minlength=5)
    counts = np.bincount(s, minlength=5)
    out = np.array(table, dtype=np.float64)
    seen = counts > 0
    out[seen] += lr * (sums[seen] / counts[seen] - out[seen])
    return out
