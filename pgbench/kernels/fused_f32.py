"""The fused PPO update in float32 (CPU): :func:`.fused_updates.ppo_epochs` at half width.

An explicit option (``precision: float32`` of ``ppo-clip`` / ``ppo-kl``), never the
default: single precision halves the bytes of every matrix product (twice the SIMD
lanes) and lets tanh be a short rational function, where float64 keeps every test
and baseline of pgbench bit for bit. Rollouts and the parameters between updates stay
float64; the critic's values for the advantages come from :func:`values32` (GAE itself
sums in float64); an update casts theta, phi and the segment to float32, runs every
epoch and minibatch here, and the caller casts the result back. The optimizer's
moments stay float32 between updates, as in frameworks that train in float32.

The passes are those of :mod:`.mlp_passes` and :mod:`.nets` (same layout, same
formulas) with float32 arrays and float32 constants throughout, since one float64
literal would promote a whole expression: the network part is written out again
here rather than made generic, so that the float64 passes stay exactly as they are.
The old log-probabilities (and for ``ppo-kl`` the old distributions) are computed
here in float32 from the starting parameters, so that every ratio starts at 1.

tanh: ``x P(x^2) / Q(x^2)`` for |x| <= 9 with P, Q of degree 4 (fitted to tanh by
weighted least squares; P(0) = Q(0) = 1), clamped to [-1, 1]; max abs error 5e-7
(tests/test_fused_precision.py checks it against numpy's tanh).
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit
from pgbench.kernels.fused_updates import GAUSSIAN, SOFTMAX, gather, gather_rows
from pgbench.kernels.mathcore import RELU, TANH

F = np.float32
ZERO, HALF, ONE, TWO = F(0.0), F(0.5), F(1.0), F(2.0)
TANH_CLAMP = F(9.0)
P1, P2, P3, P4 = (
    F(0.13295878469944),
    F(0.003398093394935131),
    F(1.9143339159199968e-05),
    F(1.1569664337685026e-08),
)
Q1, Q2, Q3, Q4 = (
    F(0.4662904739379883),
    F(0.02549673058092594),
    F(0.00031322729773819447),
    F(6.99469978826528e-07),
)
STD_EPS = F(1e-8)
HALF_LOG_2PI = F(0.5 * math.log(2.0 * math.pi))


@device_jit
def tanh32(x):
    """tanh of a float32 (module docstring)."""
    x = min(max(x, -TANH_CLAMP), TANH_CLAMP)
    s = x * x
    p = ONE + s * (P1 + s * (P2 + s * (P3 + s * P4)))
    q = ONE + s * (Q1 + s * (Q2 + s * (Q3 + s * Q4)))
    return min(max(x * p / q, -ONE), ONE)


@device_jit
def _dense(H, theta, off, n_out, n_in, act):
    """act(H W^T + b) (N, n_out) for W (n_out, n_in), b at ``theta[off:]``; the offset
    after the layer."""
    w_end = off + n_out * n_in
    W = theta[off:w_end].reshape((n_out, n_in))
    b = theta[w_end : w_end + n_out]
    Z = np.dot(H, W.T)
    N = Z.shape[0]
    for n in range(N):
        for k in range(n_out):
            z = Z[n, k] + b[k]
            if act == TANH:
                z = tanh32(z)
            elif act == RELU:
                z = z if z > ZERO else ZERO
            Z[n, k] = z
    return Z, w_end + n_out


@device_jit
def forward32(theta, X, sizes, act):
    """(Y (N, K), [X, H_1, ..., H_L]) of the network at the rows of X (N, D), float32."""
    L = sizes.shape[0] - 2
    inputs = [X]
    H = X
    off = 0
    for l in range(L):
        H, off = _dense(H, theta, off, sizes[l + 1], sizes[l], act)
        inputs.append(H)
    Y, _ = _dense(H, theta, off, sizes[L + 1], sizes[L], 0)
    return Y, inputs


@device_jit
def _n_params(sizes):
    """Length of the network part of theta for ``sizes``."""
    total = 0
    for l in range(sizes.shape[0] - 1):
        total += sizes[l + 1] * sizes[l] + sizes[l + 1]
    return total


@device_jit
def backward32(theta, inputs, sizes, act, G, grad):
    """grad[:n_params] = sum_n G[n] . dY[n]/dtheta for G (N, K) = dL/dY (float32)."""
    L = sizes.shape[0] - 2
    offs = np.zeros(L + 2, np.int64)
    for l in range(L + 1):
        offs[l + 1] = offs[l] + sizes[l + 1] * sizes[l] + sizes[l + 1]
    D = G
    for l in range(L, -1, -1):
        n_out, n_in = sizes[l + 1], sizes[l]
        H = inputs[l]
        gW = np.dot(D.T, H)  # (n_out, n_in)
        p = offs[l]
        for k in range(n_out):
            for i in range(n_in):
                grad[p] = gW[k, i]
                p += 1
        for k in range(n_out):
            grad[p + k] = ZERO
        for n in range(D.shape[0]):
            for k in range(n_out):
                grad[p + k] += D[n, k]
        if l > 0:
            W = theta[offs[l] : offs[l] + n_out * n_in].reshape((n_out, n_in))
            D = np.dot(D, W)
            for n in range(D.shape[0]):
                for i in range(n_in):
                    h = H[n, i]
                    if act == RELU:
                        D[n, i] = D[n, i] if h > ZERO else ZERO
                    else:
                        D[n, i] *= ONE - h * h


@device_jit
def _log_softmax32(Z):
    """(log p (N, A), p (N, A), entropy (N,)) of float32 logits Z."""
    N, A = Z.shape
    logp = np.empty((N, A), np.float32)
    p = np.empty((N, A), np.float32)
    ent = np.empty(N, np.float32)
    for n in range(N):
        m = Z[n, 0]
        for a in range(1, A):
            m = max(m, Z[n, a])
        s = ZERO
        for a in range(A):
            e = math.exp(Z[n, a] - m)
            p[n, a] = e
            s += e
        lse = math.log(s)
        h = ZERO
        for a in range(A):
            lp = Z[n, a] - m - lse
            logp[n, a] = lp
            p[n, a] = p[n, a] / s
            h -= p[n, a] * lp
        ent[n] = h
    return logp, p, ent


@device_jit
def _standardized32(x):
    n = x.shape[0]
    mean = ZERO
    for i in range(n):
        mean += x[i]
    mean = mean / F(n)
    out = np.empty(n, np.float32)
    if n < 2:
        for i in range(n):
            out[i] = x[i] - mean
        return out
    ss = ZERO
    for i in range(n):
        d = x[i] - mean
        ss += d * d
    scale = F(math.sqrt(ss / F(n - 1))) + STD_EPS
    for i in range(n):
        out[i] = (x[i] - mean) / scale
    return out


@device_jit
def _weights32(lp, old_logp, adv, kl, clip):
    """(n,) weights on grad log pi of L^CLIP, or of L^KLPEN's surrogate with ``kl``
    (:func:`.fused_updates.surrogate_weights`), float32."""
    n = lp.shape[0]
    w = np.empty(n, np.float32)
    inv_n = ONE / F(n)
    lo, hi = ONE - clip, ONE + clip
    for i in range(n):
        r = F(math.exp(lp[i] - old_logp[i]))
        unclipped = r * adv[i]
        if kl:
            w[i] = unclipped * inv_n
        else:
            clipped = min(max(r, lo), hi) * adv[i]
            w[i] = unclipped * inv_n if unclipped <= clipped else ZERO
    return w


@device_jit
def _softmax_grad32(theta, X, sizes, act, a, old_logp, adv, kl, clip, w_ent, w_kl, q, grad):
    """The policy terms' gradient on minibatch rows X (n, D) into grad (P,), categorical
    head, float32; q (n, A) the old probabilities (KL penalty)."""
    n = X.shape[0]
    Z, inputs = forward32(theta, X, sizes, act)
    logp, p, ent = _log_softmax32(Z)
    A = p.shape[1]
    lp = np.empty(n, np.float32)
    for i in range(n):
        lp[i] = logp[i, a[i]]
    w = _weights32(lp, old_logp, adv, kl, clip)
    G = np.empty((n, A), np.float32)
    for i in range(n):
        h = ent[i]
        for b in range(A):
            g = -w[i] * p[i, b] - w_ent * p[i, b] * (logp[i, b] + h)
            if kl:
                g += w_kl * (p[i, b] - q[i, b])
            G[i, b] = g
        G[i, a[i]] += w[i]
    backward32(theta, inputs, sizes, act, G, grad)


@device_jit
def _gaussian_logp32(mu, ls, a):
    """(n,) sum_k log N(a_nk; mu_nk, exp(ls_k)^2) for means mu (n, K), shared log-stds
    ls (K,), actions a (n, K), float32."""
    n, K = mu.shape
    lp = np.zeros(n, np.float32)
    for k in range(K):
        inv_std = F(math.exp(-ls[k]))
        c = ls[k] + HALF_LOG_2PI
        for i in range(n):
            z = (a[i, k] - mu[i, k]) * inv_std
            lp[i] -= HALF * z * z + c
    return lp


@device_jit
def _gaussian_grad32(
    theta, X, sizes, act, a, old_logp, adv, kl, clip, w_ent, w_kl, mu_old, ls_old, grad
):
    """The policy terms' gradient on minibatch rows X (n, D) into grad (P,), diagonal
    Gaussian head with shared log-stds (the K entries after the network), float32;
    mu_old (n, K), ls_old (K,) the old distributions (KL penalty). Formulas of
    :func:`.gaussian_nets.gaussian_grad`."""
    n = X.shape[0]
    mu, inputs = forward32(theta, X, sizes, act)
    K = mu.shape[1]
    off2 = _n_params(sizes)
    ls = theta[off2 : off2 + K]
    w = _weights32(_gaussian_logp32(mu, ls, a), old_logp, adv, kl, clip)
    G = np.empty((n, K), np.float32)
    for k in range(K):
        inv_var = ONE / F(math.exp(TWO * ls[k]))
        var_old = F(math.exp(TWO * ls_old[k])) if kl else ZERO
        g_ls = w_ent * F(n)
        for i in range(n):
            d = a[i, k] - mu[i, k]
            g_mu = w[i] * d * inv_var
            g_ls += w[i] * (d * d * inv_var - ONE)
            if kl:
                e = mu_old[i, k] - mu[i, k]
                g_mu -= w_kl * e * inv_var
                g_ls += w_kl * (ONE - (var_old + e * e) * inv_var)
            G[i, k] = g_mu
        grad[off2 + k] = g_ls
    backward32(theta, inputs, sizes, act, G, grad)


@device_jit
def _value_grad32(phi, X, sizes, act, targets, coef, old_values, value_clip, grad):
    """d/dphi of -coef L^VF into grad (Q,), float32 (:func:`.fused_updates.value_grad`)."""
    n = X.shape[0]
    Y, inputs = forward32(phi, X, sizes, act)
    G = np.empty((n, 1), np.float32)
    c = coef * TWO / F(n)
    for i in range(n):
        G[i, 0] = c * (targets[i] - Y[i, 0])
        if value_clip > ZERO:
            vc = old_values[i] + min(max(Y[i, 0] - old_values[i], -value_clip), value_clip)
            if (vc - targets[i]) ** 2 > (Y[i, 0] - targets[i]) ** 2:
                G[i, 0] = ZERO
    backward32(phi, inputs, sizes, act, G, grad)


@device_jit
def _adam32(params, grad, m, v, t, lr, beta1, beta2, eps, max_norm):
    """One clipped Adam ascent step in place (float32 state; the norm summed in float64)."""
    scale = ONE
    if max_norm > 0.0:
        sq = 0.0
        for i in range(grad.shape[0]):
            sq += float(grad[i]) * float(grad[i])
        norm = math.sqrt(sq)
        if norm > max_norm:
            scale = F(max_norm / (norm + 1e-6))
    b1, b2 = F(beta1), F(beta2)
    c1 = F(1.0 - beta1**t)
    c2 = F(1.0 - beta2**t)
    lr32, eps32 = F(lr), F(eps)
    for i in range(params.shape[0]):
        g = grad[i] * scale
        m[i] = m[i] * b1 + (ONE - b1) * g
        v[i] = v[i] * b2 + ((ONE - b2) * g) * g
        params[i] = params[i] + (lr32 * (m[i] / c1)) / (F(math.sqrt(v[i] / c2)) + eps32)


@driver_jit
def ppo_epochs32(
    params, P, m, v, t, lr, beta1, beta2, eps, max_norm,
    head, psizes, pact, csizes, cact, obs, a_int, a_flt, adv, returns,
    perms, batch_size, normalize_adv, kl, clip, beta, ent_coef, vf_coef, old_values, value_clip,
):  # fmt: skip
    """Every epoch and minibatch of one PPO update in float32 with Adam; returns (Adam
    steps so far ``t``, |d L / d theta| of the last minibatch).

    ``params`` (P + Q,) float32 = (theta, phi), stepped in place, with float32 moments
    ``m``, ``v``; policy head ``head`` (SOFTMAX, or GAUSSIAN with shared log-stds) on the
    network ``psizes``/``pact``, critic ``csizes``/``cact``; ``obs`` (N, D), ``adv``,
    ``returns`` (N,) float32; actions ``a_int`` (N,) int64 (SOFTMAX) or ``a_flt`` (N, K)
    float32 (GAUSSIAN), the other one empty; the rest as
    :func:`.fused_updates.ppo_epochs`. pi_old is evaluated here, in float32, at the
    starting parameters.
    """
    N = obs.shape[0]
    clip, beta, ent_coef, vf_coef = F(clip), F(beta), F(ent_coef), F(vf_coef)
    value_clip = F(value_clip)
    theta0 = params[:P].copy()
    Z, _ = forward32(theta0, obs, psizes, pact)  # pi_old: logits or means (N, K)
    K = Z.shape[1]
    ls_old = theta0[_n_params(psizes) : _n_params(psizes) + K] if head == GAUSSIAN else Z[0]
    if head == SOFTMAX:
        old_logp_all, old_head, _ = _log_softmax32(Z)
        old_logp = np.empty(N, np.float32)
        for i in range(N):
            old_logp[i] = old_logp_all[i, a_int[i]]
    else:
        old_head = Z
        old_logp = _gaussian_logp32(Z, ls_old, a_flt)
    grad = np.empty(params.shape[0], np.float32)
    grad_norm = 0.0
    for e in range(perms.shape[0]):
        for start in range(0, N, batch_size):
            idx = perms[e, start : min(start + batch_size, N)]
            n = idx.shape[0]
            X = gather_rows(obs, idx)
            A = gather(adv, idx)
            if normalize_adv:
                A = _standardized32(A)
            w_ent = ent_coef / F(n)
            w_kl = -beta / F(n) if kl else ZERO
            old = gather_rows(old_head, idx) if kl else np.empty((0, K), np.float32)
            olp = gather(old_logp, idx)
            if head == SOFTMAX:
                _softmax_grad32(
                    params[:P], X, psizes, pact, gather(a_int, idx), olp, A, kl, clip,
                    w_ent, w_kl, old, grad[:P],
                )  # fmt: skip
            else:
                _gaussian_grad32(
                    params[:P], X, psizes, pact, gather_rows(a_flt, idx), olp, A, kl, clip,
                    w_ent, w_kl, old, ls_old, grad[:P],
                )  # fmt: skip
            sq = 0.0
            for i in range(P):
                sq += float(grad[i]) * float(grad[i])
            grad_norm = math.sqrt(sq)
            _value_grad32(
                params[P:],
                X,
                csizes,
                cact,
                gather(returns, idx),
                vf_coef,
                gather(old_values, idx),
                value_clip,
                grad[P:],
            )
            t += 1
            _adam32(params, grad, m, v, t, lr, beta1, beta2, eps, max_norm)
    return t, grad_norm


@driver_jit
def values32(phi, X, sizes, act):
    """(N,) V(x_n) of the critic network at the rows of X (N, D), float32."""
    Y, _ = forward32(phi, X, sizes, act)
    return Y[:, 0].copy()


__all__ = ["GAUSSIAN", "SOFTMAX", "ppo_epochs32", "tanh32", "values32"]
