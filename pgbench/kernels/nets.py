"""Batched tanh MLPs on the CPU: forward, backward and forward-mode (JVP) passes.

Training code evaluates a policy or a critic on a batch of N observations at
once (a PPO minibatch, a segment of transitions); these kernels do it in one
Numba call per pass, with the matrix products in BLAS (``np.dot`` on
contiguous 2-D arrays inside njit goes to scipy's ``dgemm``) and the
elementwise work in loops that LLVM vectorizes (tanh is built from
:mod:`.mathcore`'s ``exp``, the same formula the lane cores use, so batched
and lane evaluations agree to the rounding of the dot products).

Network and flat parameter layout (shared with :mod:`pgbench.policies.mlp`,
which documents it for users): inputs ``D``, hidden sizes ``h1, h2`` (``h1 =
0``: no hidden layer, a linear map; ``h2 = 0``: one hidden layer), ``K``
outputs. For each layer l in order, ``W_l`` of shape (out_l, in_l) row-major,
then ``b_l`` (out_l,); hidden layers apply tanh, the output layer is linear::

    H1 = tanh(X W1^T + b1)    (N, h1)
    H2 = tanh(H1 W2^T + b2)   (N, h2)
    Y  = H_last W3^T + b3     (N, K)

Parameters beyond the network's (a Gaussian's log-std) may follow in
``theta``; the kernels ignore them. Arrays are float64; ``X`` (N, D) must be
C-contiguous. Heads:

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
from numba import njit

from pgbench.kernels import cpu, mathcore
from pgbench.kernels.fingerprint import enable_stable_cache

LOG_2PI = math.log(2.0 * math.pi)
GAUSS_ENTROPY_CONST = 0.5 * (1.0 + LOG_2PI)  # entropy of N(0, 1) in nats


def make_tanh(exp):
    """tanh from ``exp`` alone: ``sign(x) (1 - e^(-2|x|)) / (1 + e^(-2|x|))``.

    Absolute error within a few 1e-16 (relative error grows as |x| -> 0, where
    the absolute one stays tiny); no overflow for any x. Built on pgbench's
    own ``exp`` it gives the same bits on every target.
    """

    def tanh(x):
        t = exp(-2.0 * abs(x))
        y = (1.0 - t) / (1.0 + t)
        return y if x >= 0.0 else -y

    return tanh


_OPTIONS = {"fastmath": False, "error_model": "numpy", "boundscheck": False, "nogil": True}

_exp = cpu.device_jit(mathcore.make_math(cpu.pow2i)["exp"])
_tanh = cpu.device_jit(make_tanh(_exp))


def kernel(func):
    """njit with an on-disk cache keyed on the code of the kernel and its callees
    (:func:`pgbench.kernels.fingerprint.enable_stable_cache`), ``fastmath=False``."""
    return enable_stable_cache(njit(**_OPTIONS)(func))


def helper(func):
    """njit for kernel-internal functions (inlined by LLVM into their callers)."""
    return njit(forceinline=True, **_OPTIONS)(func)


# --------------------------------------------------------------------------- layout


@helper
def _n_layer(n_out, n_in):
    return n_out * n_in + n_out


@helper
def n_params(D, h1, h2, K):
    """Length of the network part of theta for sizes (D, h1, h2, K)."""
    if h1 == 0:
        return _n_layer(K, D)
    if h2 == 0:
        return _n_layer(h1, D) + _n_layer(K, h1)
    return _n_layer(h1, D) + _n_layer(h2, h1) + _n_layer(K, h2)


@helper
def _weights(theta, off, n_out, n_in):
    """(W (n_out, n_in), b (n_out,), offset after the layer): views into theta."""
    w_end = off + n_out * n_in
    return theta[off:w_end].reshape((n_out, n_in)), theta[w_end : w_end + n_out], w_end + n_out


# --------------------------------------------------------------------------- products

# A^T B with a thin side (a 2-logit output layer's weight gradient, a 4-input
# layer's) is faster as a loop vectorized over its long axis than through BLAS
# (measured: 4.7 vs 7.5 us for (256, 2)^T (256, 64)); products with a thin
# side the other way round stay in BLAS, which was faster there.
SMALL = 8


@helper
def _mm_tn(A, B):
    """A^T B for A (N, p), B (N, m): (p, m)."""
    N, p = A.shape
    m = B.shape[1]
    if p <= SMALL:
        out = np.zeros((p, m))
        for n in range(N):
            for q in range(p):
                a = A[n, q]
                for k in range(m):
                    out[q, k] += a * B[n, k]
        return out
    if m <= SMALL:
        outT = np.zeros((m, p))
        for n in range(N):
            for i in range(m):
                b = B[n, i]
                for k in range(p):
                    outT[i, k] += b * A[n, k]
        return np.ascontiguousarray(outT.T)
    return np.dot(A.T, B)


# --------------------------------------------------------------------------- passes


@helper
def _dense(H, W, b, apply_tanh):
    """H W^T + b, then tanh in place if ``apply_tanh``: (N, n_out)."""
    Z = np.dot(H, W.T)
    N, n_out = Z.shape
    if apply_tanh:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] = _tanh(Z[n, k] + b[k])
    else:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] += b[k]
    return Z


@helper
def _forward(theta, X, h1, h2, K):
    """(Y (N, K), H1 (N, h1), H2 (N, h2)); absent layers are (N, 0)."""
    N, D = X.shape
    empty = np.empty((N, 0))
    if h1 == 0:
        W, b, _ = _weights(theta, 0, K, D)
        return _dense(X, W, b, False), empty, empty
    W1, b1, off = _weights(theta, 0, h1, D)
    H1 = _dense(X, W1, b1, True)
    if h2 == 0:
        W, b, _ = _weights(theta, off, K, h1)
        return _dense(H1, W, b, False), H1, empty
    W2, b2, off = _weights(theta, off, h2, h1)
    H2 = _dense(H1, W2, b2, True)
    W, b, _ = _weights(theta, off, K, h2)
    return _dense(H2, W, b, False), H1, H2


@helper
def _layer_grad(G, H, grad, off):
    """Write d/dW = G^T H (n_out, n_in) and d/db = sum_n G[n] into grad at ``off``;
    returns the offset after the layer."""
    N, n_out = G.shape
    n_in = H.shape[1]
    gW = _mm_tn(G, H)
    p = off
    for k in range(n_out):
        for i in range(n_in):
            grad[p] = gW[k, i]
            p += 1
    bias = grad[p : p + n_out]
    bias[:] = 0.0
    for n in range(N):  # rows outermost: independent sums, vectorized over k
        for k in range(n_out):
            bias[k] += G[n, k]
    return p + n_out


@helper
def _back_through_tanh(G, W, H):
    """Delta of a tanh layer with activations H (N, h) from the delta G (N, n_out)
    of the layer above with weights W (n_out, h): (G W) * (1 - H^2)."""
    D = np.dot(G, W)
    N, h = D.shape
    for n in range(N):
        for k in range(h):
            D[n, k] *= 1.0 - H[n, k] * H[n, k]
    return D


@helper
def _backward(theta, X, H1, H2, G, grad):
    """grad[:n_params] = sum_n G[n] . dY[n] / dtheta (the network's part of the
    vector-Jacobian product), for G (N, K) = dL/dY."""
    D = X.shape[1]
    h1, h2, K = H1.shape[1], H2.shape[1], G.shape[1]
    if h1 == 0:
        _layer_grad(G, X, grad, 0)
        return
    off2 = _n_layer(h1, D)
    if h2 == 0:
        W, _, _ = _weights(theta, off2, K, h1)
        _layer_grad(G, H1, grad, off2)
        _layer_grad(_back_through_tanh(G, W, H1), X, grad, 0)
        return
    W2, _, off3 = _weights(theta, off2, h2, h1)
    W, _, _ = _weights(theta, off3, K, h2)
    _layer_grad(G, H2, grad, off3)
    D2 = _back_through_tanh(G, W, H2)
    _layer_grad(D2, H1, grad, off2)
    _layer_grad(_back_through_tanh(D2, W2, H1), X, grad, 0)


@helper
def _tangent(H, dH, W, dW, db):
    """Directional derivative of H W^T + b: H dW^T + dH W^T + db (dH may be None-like
    (N, 0) for the input layer, whose input has no tangent)."""
    T = np.dot(H, dW.T)
    if dH.shape[1] > 0:
        T += np.dot(dH, W.T)
    N, n_out = T.shape
    for n in range(N):
        for k in range(n_out):
            T[n, k] += db[k]
    return T


@helper
def _through_tanh(T, H):
    """Tangent of tanh: T * (1 - H^2), in place."""
    N, h = T.shape
    for n in range(N):
        for k in range(h):
            T[n, k] *= 1.0 - H[n, k] * H[n, k]
    return T


@helper
def _jvp(theta, v, X, H1, H2, K):
    """dY = J v (N, K): the forward-mode derivative of the outputs along v (theta's shape)."""
    N, D = X.shape
    h1, h2 = H1.shape[1], H2.shape[1]
    none = np.empty((N, 0))
    if h1 == 0:
        W, _, _ = _weights(theta, 0, K, D)
        dW, db, _ = _weights(v, 0, K, D)
        return _tangent(X, none, W, dW, db)
    W1, _, off = _weights(theta, 0, h1, D)
    dW1, db1, _ = _weights(v, 0, h1, D)
    dH1 = _through_tanh(_tangent(X, none, W1, dW1, db1), H1)
    if h2 == 0:
        W, _, _ = _weights(theta, off, K, h1)
        dW, db, _ = _weights(v, off, K, h1)
        return _tangent(H1, dH1, W, dW, db)
    W2, _, off3 = _weights(theta, off, h2, h1)
    dW2, db2, _ = _weights(v, off, h2, h1)
    dH2 = _through_tanh(_tangent(H1, dH1, W2, dW2, db2), H2)
    W, _, _ = _weights(theta, off3, K, h2)
    dW, db, _ = _weights(v, off3, K, h2)
    return _tangent(H2, dH2, W, dW, db)


# --------------------------------------------------------------------------- plain network


@kernel
def mlp_forward(theta, X, h1, h2, K):
    """(Y (N, K), H1 (N, h1), H2 (N, h2)) of the tanh MLP ``theta`` at rows of X (N, D)."""
    return _forward(theta, X, h1, h2, K)


@kernel
def mlp_backward(theta, X, H1, H2, G):
    """(n_params,) sum_n G[n] . dY[n]/dtheta for G (N, K), activations from :func:`mlp_forward`."""
    N, D = X.shape
    grad = np.empty(n_params(D, H1.shape[1], H2.shape[1], G.shape[1]))
    _backward(theta, X, H1, H2, G, grad)
    return grad


@kernel
def mlp_jvp(theta, v, X, H1, H2, K):
    """(N, K) J v: derivative of the outputs along the parameter direction v."""
    return _jvp(theta, v, X, H1, H2, K)


# --------------------------------------------------------------------------- softmax head


@helper
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
            e = _exp(Z[n, a] - m[n])
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


@kernel
def log_softmax(Z):
    """(log p, p, entropy) of logits Z (N, A); see :func:`_log_softmax`."""
    return _log_softmax(Z)


@helper
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


@kernel
def softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """(N, A) gradient of the softmax objective w.r.t. the logits; see :func:`_softmax_out_grad`."""
    return _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl)


@helper
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


@kernel
def softmax_fisher(p, dz, scale):
    """scale * (diag(p_n) - p_n p_n^T) dz_n for each row n: (N, A)."""
    return _softmax_fisher(p, dz, scale)


@kernel
def mlp_softmax_forward(theta, X, h1, h2, A):
    """(log p (N, A), p (N, A), entropy (N,), H1, H2) of the MLP softmax policy."""
    Z, H1, H2 = _forward(theta, X, h1, h2, A)
    logp, p, ent = _log_softmax(Z)
    return logp, p, ent, H1, H2


@kernel
def mlp_softmax_grad(theta, X, H1, H2, logp, p, ent, actions, w_logp, w_ent, q, w_kl):
    """(P,) gradient of the softmax objective of :func:`_softmax_out_grad` w.r.t. theta."""
    G = _softmax_out_grad(logp, p, ent, actions, w_logp, w_ent, q, w_kl)
    grad = np.empty(theta.shape[0])
    _backward(theta, X, H1, H2, G, grad)
    return grad


@kernel
def mlp_softmax_fvp(theta, v, X, H1, H2, p):
    """(P,) F v, F the mean Fisher of the categorical policy (Schulman et al. 2015, app. C)."""
    N = X.shape[0]
    dz = _jvp(theta, v, X, H1, H2, p.shape[1])
    u = _softmax_fisher(p, dz, 1.0 / N)
    grad = np.empty(theta.shape[0])
    _backward(theta, X, H1, H2, u, grad)
    return grad


# --------------------------------------------------------------------------- Gaussian head


@kernel
def mlp_gaussian_forward(theta, X, h1, h2):
    """(mean (N,), H1, H2) of the Gaussian policy's mean network (K = 1)."""
    Y, H1, H2 = _forward(theta, X, h1, h2, 1)
    return Y[:, 0].copy(), H1, H2


@kernel
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
    var = _exp(2.0 * ls)
    inv_var = 1.0 / var
    use_kl = w_kl != 0.0 and mu_old.shape[0] == N
    var_old = _exp(2.0 * log_std_old)
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
    _backward(theta, X, H1, H2, G, grad)
    grad[P - 1] = g_ls
    return grad


@kernel
def mlp_gaussian_fvp(theta, v, X, H1, H2):
    """(P,) F v for the Gaussian policy: M = diag(1/sigma^2, 2) in (mean, log-std)."""
    N = X.shape[0]
    P = theta.shape[0]
    inv_var = 1.0 / _exp(2.0 * theta[P - 1])
    dmu = _jvp(theta, v, X, H1, H2, 1)
    scale = inv_var / N
    for n in range(N):
        dmu[n, 0] *= scale
    grad = np.empty(P)
    _backward(theta, X, H1, H2, dmu, grad)
    grad[P - 1] = 2.0 * v[P - 1]
    return grad
