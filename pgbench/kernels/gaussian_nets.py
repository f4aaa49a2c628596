"""Batched kernels of the diagonal Gaussian head: a ~ N(mu(x), diag(sigma^2)), K components.

The mean mu (N, K) is the network of :mod:`.mlp_passes` (``sizes`` [D, ..., K],
activation code ``act``); the log-std is either state-independent, the K
parameters right after the network (``state_dep`` False), or a second linear
head on the last hidden layer whose ``W_s (K, h_L), b_s (K)`` follow the network
(``state_dep`` True). ``ls`` is (1, K) in the first case and (N, K) in the
second. Arrays are float64; ``X`` (N, D) must be C-contiguous; actions are (N, K).

Gradients are of ``sum_n w_logp[n] log pi(a_n | x_n) + w_ent sum_n H_n + w_kl
sum_n KL(old_n || pi_n)``, per component k (z = (a - mu) / sigma):
d log pi / d mu = z / sigma, d log pi / d log sigma = z^2 - 1; dH / d log sigma = 1;
KL = log(sigma / sigma_old) + (sigma_old^2 + (mu_old - mu)^2) / (2 sigma^2) - 1/2, so
dKL / dmu = (mu - mu_old) / sigma^2 and dKL / d log sigma = 1 - (sigma_old^2 +
(mu_old - mu)^2) / sigma^2. The Fisher in (mu_k, log sigma_k) is
diag(1 / sigma_k^2, 2) (Schulman et al. 2015, TRPO, app. C).

:func:`gaussian_sample` evaluates the network with the lane cores' own layer
arithmetic (:func:`pgbench.kernels.lane_nets.make_layer_cores`), so that for
K = 1 it returns exactly the action the lane cores draw from the same uniform
and observation (the BLAS forward pass rounds differently).
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit
from pgbench.kernels.lane_nets import make_layer_cores
from pgbench.kernels.mathcore import LINEAR, U_MAX, U_MIN, ppnd16
from pgbench.kernels.mlp_passes import (
    backward,
    backward_rows,
    bias_act,
    exp,
    forward,
    jvp,
    layer_input,
    n_params,
    tangent,
    tanh,
    weights,
)

LOG_2PI = math.log(2.0 * math.pi)
GAUSS_ENTROPY_CONST = 0.5 * (1.0 + LOG_2PI)  # entropy of N(0, 1) in nats

_lane = make_layer_cores(device_jit, tanh)
_dense = _lane.dense
_ndtri = device_jit(ppnd16)


@device_jit
def _head2(theta, X, acts, sizes):
    """(top (N, h_L), W_s (K, h_L), offset of W_s): the second head's input and weights."""
    L = sizes.shape[0] - 2
    K = sizes[L + 1]
    off2 = n_params(sizes)
    W2, _, _ = weights(theta, off2, K, sizes[L])
    return layer_input(X, acts, sizes, L), W2, off2


@driver_jit
def gaussian_forward(theta, X, sizes, act, state_dep):
    """(mu (N, K), ls, acts): the means, the log-stds ((N, K) if ``state_dep`` else the
    (1, K) shared ones) and the hidden activations for the other kernels."""
    Y, acts = forward(theta, X, sizes, act)
    K = Y.shape[1]
    off2 = n_params(sizes)
    if state_dep:
        top = layer_input(X, acts, sizes, sizes.shape[0] - 2)
        W2, b2, _ = weights(theta, off2, K, top.shape[1])
        LS = np.dot(top, W2.T)
        bias_act(LS, b2, LINEAR)
    else:
        LS = np.empty((1, K))
        for k in range(K):
            LS[0, k] = theta[off2 + k]
    return Y, LS, acts


@driver_jit
def gaussian_grad(
    theta, X, acts, sizes, act, state_dep, mu, ls, actions, w_logp, w_ent, mu_old, ls_old, w_kl
):
    """(P,) gradient of the weighted objective (module docstring) w.r.t. theta; ``mu_old``
    and ``ls_old`` are those of ``old`` (shapes as mu and ls), or (0, K) when w_kl = 0."""
    N, K = mu.shape
    P = theta.shape[0]
    off2 = n_params(sizes)
    use_kl = w_kl != 0.0 and mu_old.shape[0] == N
    G = np.empty((N, K))
    grad = np.empty(P)
    if state_dep:
        G2 = np.empty((N, K))
        for n in range(N):
            w = w_logp[n]
            for k in range(K):
                inv_var = 1.0 / exp(2.0 * ls[n, k])
                d = actions[n, k] - mu[n, k]
                g_mu = w * d * inv_var
                g_ls = w_ent + w * (d * d * inv_var - 1.0)
                if use_kl:
                    e = mu_old[n, k] - mu[n, k]
                    g_mu -= w_kl * e * inv_var
                    g_ls += w_kl * (1.0 - (exp(2.0 * ls_old[n, k]) + e * e) * inv_var)
                G[n, k] = g_mu
                G2[n, k] = g_ls
        backward(theta, X, acts, sizes, act, G, G2, off2, grad)
        return grad
    for k in range(K):  # one component at a time: scalar accumulators, rows in order
        inv_var = 1.0 / exp(2.0 * ls[0, k])
        var_old = exp(2.0 * ls_old[0, k]) if use_kl else 0.0
        g_ls = w_ent * N
        for n in range(N):
            d = actions[n, k] - mu[n, k]
            g_mu = w_logp[n] * d * inv_var
            g_ls += w_logp[n] * (d * d * inv_var - 1.0)
            if use_kl:
                e = mu_old[n, k] - mu[n, k]
                g_mu -= w_kl * e * inv_var
                g_ls += w_kl * (1.0 - (var_old + e * e) * inv_var)
            G[n, k] = g_mu
        grad[off2 + k] = g_ls  # after the network's part, which backward fills
    backward(theta, X, acts, sizes, act, G, np.empty((N, 0)), 0, grad)
    return grad


@driver_jit
def gaussian_fvp(theta, v, X, acts, sizes, act, state_dep, ls):
    """(P,) F v for the Gaussian policy: M = diag(1/sigma^2, 2) in (mean, log-std)."""
    N = X.shape[0]
    P = theta.shape[0]
    dmu, dH = jvp(theta, v, X, acts, sizes, act)
    K = dmu.shape[1]
    grad = np.empty(P)
    if state_dep:
        top, W2, off2 = _head2(theta, X, acts, sizes)
        dW2, db2, _ = weights(v, off2, K, top.shape[1])
        dls = tangent(top, dH, W2, dW2, db2)
        for n in range(N):
            for k in range(K):
                dmu[n, k] *= (1.0 / exp(2.0 * ls[n, k])) / N
                dls[n, k] *= 2.0 / N
        backward(theta, X, acts, sizes, act, dmu, dls, off2, grad)
        return grad
    off2 = n_params(sizes)
    scale = np.empty(K)
    for k in range(K):
        scale[k] = (1.0 / exp(2.0 * ls[0, k])) / N
    for n in range(N):
        for k in range(K):
            dmu[n, k] *= scale[k]
    backward(theta, X, acts, sizes, act, dmu, np.empty((N, 0)), 0, grad)
    for k in range(K):
        grad[off2 + k] = 2.0 * v[off2 + k]
    return grad


@driver_jit
def gaussian_scores(theta, X, acts, sizes, act, state_dep, mu, ls, actions):
    """(N, P) per-row grad log pi(a_n | x_n): d/dmu = z / sigma backpropagated, and
    z^2 - 1 for the log-std (its columns, or backpropagated through the second head)."""
    N, K = mu.shape
    rows = np.empty((N, theta.shape[0]))
    G = np.empty((N, K))
    G2 = np.empty((N, K))
    for n in range(N):
        r = n if state_dep else 0
        for k in range(K):
            inv_std = exp(-ls[r, k])
            z = (actions[n, k] - mu[n, k]) * inv_std
            G[n, k] = z * inv_std
            G2[n, k] = z * z - 1.0
    off2 = n_params(sizes)
    if state_dep:
        backward_rows(theta, X, acts, sizes, act, G, G2, off2, rows)
    else:
        backward_rows(theta, X, acts, sizes, act, G, np.empty((N, 0)), 0, rows)
        for n in range(N):
            for k in range(K):
                rows[n, off2 + k] = G2[n, k]
    return rows


@driver_jit
def gaussian_sample(theta, X, sizes, act, state_dep, U):
    """(N, K) actions mu + sigma Phi^-1(min(max(u, 2^-53), 1 - 2^-53)) for uniforms U (N, K)
    in [0, 1), Phi^-1 the AS 241 core, mu and log sigma by the lane cores' arithmetic."""
    N, D = X.shape
    L = sizes.shape[0] - 2
    K = sizes[L + 1]
    n_hidden = 0
    for l in range(L):
        n_hidden += sizes[l + 1]
    obs = np.ascontiguousarray(X.T)  # lanes are columns
    s = np.empty((2 * K + n_hidden, N))  # rows: means, log-stds, hidden layers
    off2 = n_params(sizes)
    out = np.empty((N, K))
    for j in range(N):
        off = 0
        r = 2 * K
        for l in range(L):
            n_out = sizes[l + 1]
            if l == 0:
                _dense(theta, off, n_out, D, obs, 0, s, r, j, act)
            else:
                _dense(theta, off, n_out, sizes[l], s, r - sizes[l], s, r, j, act)
            off += n_out * sizes[l] + n_out
            r += n_out
        n_top = sizes[L]
        if L == 0:
            _dense(theta, off, K, D, obs, 0, s, 0, j, LINEAR)
            if state_dep:
                _dense(theta, off2, K, D, obs, 0, s, K, j, LINEAR)
        else:
            _dense(theta, off, K, n_top, s, r - n_top, s, 0, j, LINEAR)
            if state_dep:
                _dense(theta, off2, K, n_top, s, r - n_top, s, K, j, LINEAR)
        for k in range(K):
            ls = s[K + k, j] if state_dep else theta[off2 + k]
            p = min(max(U[j, k], U_MIN), U_MAX)
            out[j, k] = s[k, j] + exp(ls) * _ndtri(p)
    return out
