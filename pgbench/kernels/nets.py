"""Batched MLP kernels on the CPU: the plain network, the softmax head, categorical draws.

Training code evaluates a policy or a critic on a batch of N observations at
once (a PPO minibatch, a segment of transitions); each kernel here does one
pass in one Numba call (:func:`pgbench.kernels.cpu.driver_jit`: ``nogil``,
cached on disk), built from the layout and passes of :mod:`.mlp_passes`, which
documents the network (``sizes`` [D, h_1, ..., h_L, K], activation code
``act``), its flat parameter layout and the flat buffer ``acts`` of hidden
activations that the forward kernels return for the backward ones. Arrays are
float64; ``X`` (N, D) must be C-contiguous. Heads:

* softmax (categorical policies): log-softmax, probabilities, entropy; the
  gradient of ``sum_n w_n log pi(a_n) + w_ent sum_n H_n + w_kl sum_n
  KL(q_n || pi_n)``, per-row scores, and the Fisher-vector product of the
  categorical distribution in its logits, ``M = diag(p) - p p^T``;
  :func:`categorical_sample` draws actions by the lane cores' rule;
* none (critics): ``Y`` and the backward pass of a given ``dL/dY``.

The Gaussian head is in :mod:`.gaussian_nets`. Fisher-vector products follow
Schulman et al. (2015, TRPO, appendix C): ``F v = (1/N) sum_n J_n^T M_n J_n v``
by one forward-mode pass (``J v``) and one backward pass (``J^T u``), never
forming ``F``.
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit
from pgbench.kernels.draws import categorical
from pgbench.kernels.mlp_passes import backward, backward_rows, exp, forward, jvp, n_params

_categorical = device_jit(categorical)


# --------------------------------------------------------------------------- plain network


@driver_jit
def mlp_forward(theta, X, sizes, act):
    """(Y (N, K), acts) of the MLP ``theta`` at rows of X (N, D); ``acts`` the hidden
    activations for :func:`mlp_backward` and :func:`mlp_jvp`."""
    return forward(theta, X, sizes, act)


@driver_jit
def mlp_backward(theta, X, acts, sizes, act, G):
    """(n_params,) sum_n G[n] . dY[n]/dtheta for G (N, K), activations from :func:`mlp_forward`."""
    grad = np.empty(n_params(sizes))
    backward(theta, X, acts, sizes, act, G, np.empty((X.shape[0], 0)), 0, grad)
    return grad


@driver_jit
def mlp_jvp(theta, v, X, acts, sizes, act):
    """(N, K) J v: derivative of the outputs along the parameter direction v."""
    return jvp(theta, v, X, acts, sizes, act)[0]


# --------------------------------------------------------------------------- softmax head


@device_jit
def _log_softmax(Z):
    """(log p (N, A), p (N, A), entropy (N,)) of logits Z, in nats.

    Loops run over actions outside and rows inside, so the exponentials of
    all rows vectorize; log p = z - max z - log sum exp(z - max z).
    """
    N, A = Z.shape
    logp = np.empty((N, A))
    p = np.empty((N, A))
    m = Z[:, 0].copy()
    for a in range(1, A):
        for n in range(N):
            m[n] = max(m[n], Z[n, a])
    s = np.zeros(N)
    for a in range(A):
        for n in range(N):
            e = exp(Z[n, a] - m[n])
            p[n, a] = e
            s[n] += e
    lse = np.empty(N)
    for n in range(N):
        lse[n] = math.log(s[n])
        s[n] = 1.0 / s[n]
    ent = np.zeros(N)
    for a in range(A):
        for n in range(N):
            lp = Z[n, a] - m[n] - lse[n]
            logp[n, a] = lp
            pa = p[n, a] * s[n]
            p[n, a] = pa
            ent[n] -= pa * lp
    return logp, p, ent


@driver_jit
def log_softmax(Z):
    """(log p, p, entropy) of logits Z (N, A); see :func:`_log_softmax`."""
    return _log_softmax(Z)


@device_jit
def _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """dL/dz (N, A) of L = sum_n w_logp[n] log p_n(a_n) + w_ent sum_n H_n
    + w_kl sum_n KL(q_n || p_n), for p = softmax(z); q (N, A) or (0, A) if w_kl = 0.

    d log p(a)/dz_b = 1[b = a] - p_b; dH/dz_b = -p_b (log p_b + H);
    dKL(q || p)/dz_b = p_b - q_b.
    """
    N, A = p.shape
    G = np.empty((N, A))
    use_kl = w_kl != 0.0 and q.shape[0] == N
    for n in range(N):
        w = w_logp[n]
        h = ent[n]
        for b in range(A):
            g = -w * p[n, b] - w_ent * p[n, b] * (logp[n, b] + h)
            if use_kl:
                g += w_kl * (p[n, b] - q[n, b])
            G[n, b] = g
        G[n, actions[n]] += w
    return G


@driver_jit
def softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """(N, A) gradient of the softmax objective w.r.t. the logits; see :func:`_softmax_out_grad`."""
    return _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl)


@device_jit
def _softmax_fisher(p, dz, scale):
    """scale * (diag(p) - p p^T) dz, row by row: (N, A)."""
    N, A = p.shape
    u = np.empty((N, A))
    for n in range(N):
        s = 0.0
        for a in range(A):
            s += p[n, a] * dz[n, a]
        for a in range(A):
            u[n, a] = scale * p[n, a] * (dz[n, a] - s)
    return u


@driver_jit
def softmax_fisher(p, dz, scale):
    """scale * (diag(p_n) - p_n p_n^T) dz_n for each row n: (N, A)."""
    return _softmax_fisher(p, dz, scale)


@driver_jit
def mlp_softmax_forward(theta, X, sizes, act):
    """(log p (N, A), p (N, A), entropy (N,), acts) of the MLP softmax policy."""
    Z, acts = forward(theta, X, sizes, act)
    logp, p, ent = _log_softmax(Z)
    return logp, p, ent, acts


@driver_jit
def mlp_softmax_grad(theta, X, acts, sizes, act, logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """(P,) gradient of the softmax objective of :func:`_softmax_out_grad` w.r.t. theta."""
    G = _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl)
    grad = np.empty(theta.shape[0])
    backward(theta, X, acts, sizes, act, G, np.empty((X.shape[0], 0)), 0, grad)
    return grad


@driver_jit
def mlp_softmax_fvp(theta, v, X, acts, sizes, act, p):
    """(P,) F v, F the mean Fisher of the categorical policy (Schulman et al. 2015, app. C)."""
    N = X.shape[0]
    dz, _ = jvp(theta, v, X, acts, sizes, act)
    u = _softmax_fisher(p, dz, 1.0 / N)
    grad = np.empty(theta.shape[0])
    backward(theta, X, acts, sizes, act, u, np.empty((N, 0)), 0, grad)
    return grad


@device_jit
def _score_logits(p, actions):
    """d log p(a_n) / dz_n = onehot(a_n) - p_n: (N, A)."""
    N, A = p.shape
    G = np.empty((N, A))
    for n in range(N):
        for b in range(A):
            G[n, b] = -p[n, b]
        G[n, actions[n]] += 1.0
    return G


@driver_jit
def softmax_scores_logits(p, actions):
    """(N, A) onehot(a_n) - p_n: the scores of the categorical distributions in their logits."""
    return _score_logits(p, actions)


@driver_jit
def mlp_softmax_scores(theta, X, acts, sizes, act, p, actions):
    """(N, P) per-row grad log pi(a_n | x_n) of the MLP softmax policy."""
    N = X.shape[0]
    rows = np.empty((N, theta.shape[0]))
    G = _score_logits(p, actions)
    backward_rows(theta, X, acts, sizes, act, G, np.empty((N, 0)), 0, rows)
    return rows


# --------------------------------------------------------------------------- draws


@driver_jit
def categorical_sample(probs, u):
    """(N,) int64 actions drawn from the rows of probs (N, A) by inverse CDF from the
    uniforms u (N,) in [0, 1): :func:`pgbench.kernels.draws.categorical`, the lane cores'
    rule, row by row (the same index for the same probabilities and uniform)."""
    N, A = probs.shape
    columns = probs.T  # categorical reads probs[k, j]: one distribution per column
    out = np.empty(N, np.int64)
    for n in range(N):
        out[n] = _categorical(columns, n, A, u[n])
    return out
