"""Batched tanh MLP passes on the CPU: parameter layout, forward, backward and JVP.

Inlined helpers (:func:`pgbench.kernels.cpu.device_jit`) that the kernels of
:mod:`.nets` are made of: each evaluates the network on a batch of N
observations at once, with the matrix products in BLAS (``np.dot`` on
contiguous 2-D arrays inside njit goes to scipy's ``dgemm``) and the
elementwise work in loops that LLVM vectorizes. tanh is built from the CPU
lib's ``exp`` (:mod:`.mathcore`), the same formula the lane cores use, so
batched and lane evaluations agree to the rounding of the dot products.

Network and flat parameter layout (shared with :mod:`pgbench.policies.mlp`,
which documents it for users): inputs ``D``, hidden sizes ``h1, h2`` (``h1 =
0``: no hidden layer, a linear map; ``h2 = 0``: one hidden layer), ``K``
outputs. For each layer l in order, ``W_l`` of shape (out_l, in_l) row-major,
then ``b_l`` (out_l,); hidden layers apply tanh, the output layer is linear::

    H1 = tanh(X W1^T + b1)    (N, h1)
    H2 = tanh(H1 W2^T + b2)   (N, h2)
    Y  = H_last W3^T + b3     (N, K)

Parameters beyond the network's (a Gaussian's log-std) may follow in
``theta``; the passes ignore them. Arrays are float64; ``X`` (N, D) must be
C-contiguous. Absent layers are (N, 0) arrays.
"""

from __future__ import annotations

import numpy as np

from pgbench.kernels.build import cpu_lib
from pgbench.kernels.cpu import device_jit
from pgbench.kernels.mathcore import make_tanh

exp = cpu_lib().exp
tanh = device_jit(make_tanh(exp))

# --------------------------------------------------------------------------- layout


@device_jit
def _n_layer(n_out, n_in):
    return n_out * n_in + n_out


@device_jit
def n_params(D, h1, h2, K):
    """Length of the network part of theta for sizes (D, h1, h2, K)."""
    if h1 == 0:
        return _n_layer(K, D)
    if h2 == 0:
        return _n_layer(h1, D) + _n_layer(K, h1)
    return _n_layer(h1, D) + _n_layer(h2, h1) + _n_layer(K, h2)


@device_jit
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


@device_jit
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


# --------------------------------------------------------------------------- forward


@device_jit
def _dense(H, W, b, apply_tanh):
    """H W^T + b, then tanh in place if ``apply_tanh``: (N, n_out)."""
    Z = np.dot(H, W.T)
    N, n_out = Z.shape
    if apply_tanh:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] = tanh(Z[n, k] + b[k])
    else:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] += b[k]
    return Z


@device_jit
def forward(theta, X, h1, h2, K):
    """(Y (N, K), H1 (N, h1), H2 (N, h2)) of the network ``theta`` at the rows of X."""
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


# --------------------------------------------------------------------------- backward


@device_jit
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


@device_jit
def _back_through_tanh(G, W, H):
    """Delta of a tanh layer with activations H (N, h) from the delta G (N, n_out)
    of the layer above with weights W (n_out, h): (G W) * (1 - H^2)."""
    D = np.dot(G, W)
    N, h = D.shape
    for n in range(N):
        for k in range(h):
            D[n, k] *= 1.0 - H[n, k] * H[n, k]
    return D


@device_jit
def backward(theta, X, H1, H2, G, grad):
    """grad[:n_params] = sum_n G[n] . dY[n] / dtheta (the network's part of the
    vector-Jacobian product), for G (N, K) = dL/dY and the activations of :func:`forward`."""
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


# --------------------------------------------------------------------------- forward mode


@device_jit
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


@device_jit
def _through_tanh(T, H):
    """Tangent of tanh: T * (1 - H^2), in place."""
    N, h = T.shape
    for n in range(N):
        for k in range(h):
            T[n, k] *= 1.0 - H[n, k] * H[n, k]
    return T


@device_jit
def jvp(theta, v, X, H1, H2, K):
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
