"""Batched tanh MLP kernels on the CPU: the plain network, softmax and Gaussian heads.

Training code evaluates a policy or a critic on a batch of N observations at
once (a PPO minibatch, a segment of transitions); each kernel here does one
pass in one Numba call (:func:`pgbench.kernels.cpu.driver_jit`: ``nogil``,
cached on disk), built from the layout and passes of :mod:`.mlp_passes`, which
documents the network and its flat parameter layout. Arrays are float64;
``X`` (N, D) must be C-contiguous. Heads:

* softmax (categorical policies): log-softmax, probabilities, entropy; the
  gradient of ``sum_n w_n log pi(a_n) + w_ent sum_n H_n + w_kl sum_n
  KL(q_n || pi_n)`` and the Fisher-vector product of the categorical
  distribution in its logits, ``M = diag(p) - p p^T``;
* Gaussian (scalar action, state-independent log-std ``theta[-1]``): the mean
  ``Y[:, 0]`` and the same objective's gradient, and the Fisher-vector
  product with ``M = diag(1 / sigma^2, 2)`` in (mean, log-std);
* none (critics): ``Y`` and the backward pass of a given ``dL/dY``.

Fisher-vector products follow Schulman et al. (2015, TRPO, appendix C):
``F v = (1/N) sum_n J_n^T M_n J_n v`` by one forward-mode pass (``J v``) and
one backward pass (``J^T u``), never forming ``F``.
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit
from pgbench.kernels.mlp_passes import backward, exp, forward, jvp, n_params

LOG_2PI = math.log(2.0 * math.pi)
GAUSS_ENTROPY_CONST = 0.5 * (1.0 + LOG_2PI)  # entropy of N(0, 1) in nats


# --------------------------------------------------------------------------- plain network


@driver_jit
def mlp_forward(theta, X, h1, h2, K):
    """(Y (N, K), H1 (N, h1), H2 (N, h2)) of the tanh MLP ``theta`` at rows of X (N, D)."""
    return forward(theta, X, h1, h2, K)


@driver_jit
def mlp_backward(theta, X, H1, H2, G):
    """(n_params,) sum_n G[n] . dY[n]/dtheta for G (N, K), activations from :func:`mlp_forward`."""
    N, D = X.shape
    grad = np.empty(n_params(D, H1.shape[1], H2.shape[1], G.shape[1]))
    backward(theta, X, H1, H2, G, grad)
    return grad


@driver_jit
def mlp_jvp(theta, v, X, H1, H2, K):
    """(N, K) J v: derivative of the outputs along the parameter direction v."""
    return jvp(theta, v, X, H1, H2, K)


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
def mlp_softmax_forward(theta, X, h1, h2, A):
    """(log p (N, A), p (N, A), entropy (N,), H1, H2) of the MLP softmax policy."""
    Z, H1, H2 = forward(theta, X, h1, h2, A)
    logp, p, ent = _log_softmax(Z)
    return logp, p, ent, H1, H2


@driver_jit
def mlp_softmax_grad(theta, X, H1, H2, logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """(P,) gradient of the softmax objective of :func:`_softmax_out_grad` w.r.t. theta."""
    G = _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl)
    grad = np.empty(theta.shape[0])
    backward(theta, X, H1, H2, G, grad)
    return grad


@driver_jit
def mlp_softmax_fvp(theta, v, X, H1, H2, p):
    """(P,) F v, F the mean Fisher of the categorical policy (Schulman et al. 2015, app. C)."""
    N = X.shape[0]
    dz = jvp(theta, v, X, H1, H2, p.shape[1])
    u = _softmax_fisher(p, dz, 1.0 / N)
    grad = np.empty(theta.shape[0])
    backward(theta, X, H1, H2, u, grad)
    return grad


# --------------------------------------------------------------------------- Gaussian head


@driver_jit
def mlp_gaussian_forward(theta, X, h1, h2):
    """(mean (N,), H1, H2) of the Gaussian policy's mean network (K = 1)."""
    Y, H1, H2 = forward(theta, X, h1, h2, 1)
    return Y[:, 0].copy(), H1, H2


@driver_jit
def mlp_gaussian_grad(theta, X, H1, H2, mu, actions, w_logp, w_ent, mu_old, log_std_old, w_kl):
    """(P,) gradient w.r.t. theta (network, then log-std last) of
    sum_n w_logp[n] log N(a_n; mu_n, sigma^2) + w_ent sum_n H_n
    + w_kl sum_n KL(N(mu_old_n, sigma_old^2) || N(mu_n, sigma^2)), sigma = exp(theta[-1]).

    d log pi / d mu = (a - mu) / sigma^2, d log pi / d log sigma = ((a - mu)/sigma)^2 - 1;
    dH / d log sigma = 1; KL = log(sigma/sigma_old) + (sigma_old^2 + (mu_old - mu)^2)
    / (2 sigma^2) - 1/2, so dKL/dmu = (mu - mu_old) / sigma^2 and
    dKL / d log sigma = 1 - (sigma_old^2 + (mu_old - mu)^2) / sigma^2.
    ``mu_old`` is (N,) or (0,) when w_kl = 0.
    """
    N = X.shape[0]
    P = theta.shape[0]
    ls = theta[P - 1]
    var = exp(2.0 * ls)
    inv_var = 1.0 / var
    use_kl = w_kl != 0.0 and mu_old.shape[0] == N
    var_old = exp(2.0 * log_std_old)
    G = np.empty((N, 1))
    g_ls = w_ent * N
    for n in range(N):
        d = actions[n] - mu[n]
        g_mu = w_logp[n] * d * inv_var
        g_ls += w_logp[n] * (d * d * inv_var - 1.0)
        if use_kl:
            e = mu_old[n] - mu[n]
            g_mu -= w_kl * e * inv_var
            g_ls += w_kl * (1.0 - (var_old + e * e) * inv_var)
        G[n, 0] = g_mu
    grad = np.empty(P)
    backward(theta, X, H1, H2, G, grad)
    grad[P - 1] = g_ls
    return grad


@driver_jit
def mlp_gaussian_fvp(theta, v, X, H1, H2):
    """(P,) F v for the Gaussian policy: M = diag(1/sigma^2, 2) in (mean, log-std)."""
    N = X.shape[0]
    P = theta.shape[0]
    inv_var = 1.0 / exp(2.0 * theta[P - 1])
    dmu = jvp(theta, v, X, H1, H2, 1)
    scale = inv_var / N
    for n in range(N):
        dmu[n, 0] *= scale
    grad = np.empty(P)
    backward(theta, X, H1, H2, dmu, grad)
    grad[P - 1] = 2.0 * v[P - 1]
    return grad
