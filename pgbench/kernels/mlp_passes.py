"""Batched MLP passes on the CPU: parameter layout, forward, backward, per-row backward, JVP.

Inlined helpers (:func:`pgbench.kernels.cpu.device_jit`) that the kernels of
:mod:`.nets` and :mod:`.gaussian_nets` are made of: each evaluates the network
on a batch of N observations at once, with the matrix products in BLAS
(``np.dot`` on contiguous 2-D arrays inside njit goes to scipy's ``dgemm``)
and the elementwise work in loops that LLVM vectorizes. tanh is built from the
CPU lib's ``exp`` (:mod:`.mathcore`), the same formula the lane cores use, and
ReLU is the same comparison, so batched and lane evaluations agree to the
rounding of the dot products.

Network and flat parameter layout (shared with :mod:`pgbench.policies.mlp`,
which documents it for users): ``sizes`` is an int64 array ``[D, h_1, ...,
h_L, K]`` (L >= 0 hidden layers), ``act`` the hidden layers' activation code
(:data:`.mathcore.TANH` or :data:`.mathcore.RELU`). For each layer l in order,
``W_l`` of shape (out_l, in_l) row-major, then ``b_l`` (out_l,); the output
layer is linear::

    H_1 = act(X W_1^T + b_1)    (N, h_1)   ...   Y = H_L W_o^T + b_o   (N, K)

A second linear head on H_L (a Gaussian's state-dependent log-std) may follow
the network at offset ``off2``: the backward passes take its output gradient
``G2`` (N, K2), or an (N, 0) array for none. Other parameters beyond the
network's (a Gaussian's log-std) may follow in ``theta``; the passes ignore them.

The hidden activations are one flat buffer ``acts`` of N sum(h) floats, layer l
a C-contiguous (N, h_l) block (:func:`hidden_layer`). Arrays are float64; ``X``
(N, D) must be C-contiguous.
"""

from __future__ import annotations

import numpy as np

from pgbench.kernels.build import cpu_lib
from pgbench.kernels.cpu import device_jit
from pgbench.kernels.mathcore import RELU, TANH, make_tanh

exp = cpu_lib().exp
tanh = device_jit(make_tanh(exp))

# --------------------------------------------------------------------------- layout


@device_jit
def _n_layer(n_out, n_in):
    return n_out * n_in + n_out


@device_jit
def n_params(sizes):
    """Length of the network part of theta for ``sizes`` [D, h_1, ..., h_L, K]."""
    total = 0
    for l in range(sizes.shape[0] - 1):
        total += _n_layer(sizes[l + 1], sizes[l])
    return total


@device_jit
def layer_offset(sizes, l):
    """Offset in theta of layer l's weights (l = L: the output layer)."""
    off = 0
    for m in range(l):
        off += _n_layer(sizes[m + 1], sizes[m])
    return off


@device_jit
def weights(theta, off, n_out, n_in):
    """(W (n_out, n_in), b (n_out,), offset after the layer): views into theta."""
    w_end = off + n_out * n_in
    return theta[off:w_end].reshape((n_out, n_in)), theta[w_end : w_end + n_out], w_end + n_out


@device_jit
def hidden_layer(acts, N, sizes, l):
    """Hidden layer l's activations (N, h_l), a view into the flat buffer ``acts``."""
    c = 0
    for m in range(l):
        c += sizes[m + 1]
    h = sizes[l + 1]
    return acts[N * c : N * (c + h)].reshape((N, h))


@device_jit
def layer_input(X, acts, sizes, l):
    """The input of layer l: X for l = 0, else hidden layer l - 1's activations."""
    if l == 0:
        return X
    return hidden_layer(acts, X.shape[0], sizes, l - 1)


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
def bias_act(Z, b, act):
    """Z + b, then the activation ``act`` (TANH, RELU, else none), in place."""
    N, n_out = Z.shape
    if act == TANH:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] = tanh(Z[n, k] + b[k])
    elif act == RELU:
        for n in range(N):
            for k in range(n_out):
                z = Z[n, k] + b[k]
                Z[n, k] = z if z > 0.0 else 0.0
    else:
        for n in range(N):
            for k in range(n_out):
                Z[n, k] += b[k]


@device_jit
def forward(theta, X, sizes, act):
    """(Y (N, K), acts) of the network ``theta`` at the rows of X; ``acts`` the flat
    buffer of the hidden activations."""
    N = X.shape[0]
    L = sizes.shape[0] - 2
    n_hidden = 0
    for l in range(L):
        n_hidden += sizes[l + 1]
    acts = np.empty(N * n_hidden)
    H = X
    off = 0
    for l in range(L):
        W, b, off = weights(theta, off, sizes[l + 1], sizes[l])
        Z = hidden_layer(acts, N, sizes, l)
        np.dot(H, W.T, Z)
        bias_act(Z, b, act)
        H = Z
    W, b, _ = weights(theta, off, sizes[L + 1], sizes[L])
    Y = np.dot(H, W.T)
    bias_act(Y, b, 0)
    return Y, acts


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
def _layer_rows(G, H, rows, off):
    """Per-row gradients of a dense layer: rows[n, W part] = outer(G[n], H[n]) row-major,
    rows[n, b part] = G[n], at column ``off``."""
    N, n_out = G.shape
    n_in = H.shape[1]
    ob = off + n_out * n_in
    for n in range(N):
        for k in range(n_out):
            g = G[n, k]
            c = off + k * n_in
            for i in range(n_in):
                rows[n, c + i] = g * H[n, i]
            rows[n, ob + k] = g


@device_jit
def through_act(D, H, act):
    """D * act'(H) in place, from the activations H: 1 - H^2 (tanh), H > 0 (ReLU)."""
    N, h = D.shape
    if act == RELU:
        for n in range(N):
            for k in range(h):
                D[n, k] = D[n, k] if H[n, k] > 0.0 else 0.0
    else:
        for n in range(N):
            for k in range(h):
                D[n, k] *= 1.0 - H[n, k] * H[n, k]
    return D


@device_jit
def _backprop(theta, X, acts, sizes, act, G, G2, off2, grad, rows, per_row):
    """The backward pass: into ``grad`` (P,) the sum over rows, or with ``per_row`` into
    ``rows`` (N, P) each row's gradient, of G[n] . dY[n]/dtheta (plus G2[n] . dY2[n]/dtheta
    for the second head at ``off2``, when G2 has columns); the other output is unused."""
    L = sizes.shape[0] - 2
    K = sizes[L + 1]
    top = layer_input(X, acts, sizes, L)
    off_out = layer_offset(sizes, L)
    two = G2.shape[1] > 0
    if per_row:
        _layer_rows(G, top, rows, off_out)
        if two:
            _layer_rows(G2, top, rows, off2)
    else:
        _layer_grad(G, top, grad, off_out)
        if two:
            _layer_grad(G2, top, grad, off2)
    if L == 0:
        return
    W, _, _ = weights(theta, off_out, K, sizes[L])
    D = np.dot(G, W)
    if two:
        W2, _, _ = weights(theta, off2, G2.shape[1], sizes[L])
        D += np.dot(G2, W2)
    for l in range(L - 1, -1, -1):
        through_act(D, hidden_layer(acts, X.shape[0], sizes, l), act)
        off = layer_offset(sizes, l)
        src = layer_input(X, acts, sizes, l)
        if per_row:
            _layer_rows(D, src, rows, off)
        else:
            _layer_grad(D, src, grad, off)
        if l > 0:
            Wl, _, _ = weights(theta, off, sizes[l + 1], sizes[l])
            D = np.dot(D, Wl)


@device_jit
def backward(theta, X, acts, sizes, act, G, G2, off2, grad):
    """grad[:n_params] = sum_n G[n] . dY[n] / dtheta (the network's part of the
    vector-Jacobian product; and the second head's), for G (N, K) = dL/dY and the
    activations of :func:`forward`."""
    _backprop(theta, X, acts, sizes, act, G, G2, off2, grad, np.empty((0, 0)), False)


@device_jit
def backward_rows(theta, X, acts, sizes, act, G, G2, off2, rows):
    """rows[n, :n_params] = G[n] . dY[n] / dtheta for each row n (rows (N, >= n_params),
    the other columns untouched): :func:`backward` without the sum over rows."""
    _backprop(theta, X, acts, sizes, act, G, G2, off2, np.empty(0), rows, True)


# --------------------------------------------------------------------------- forward mode


@device_jit
def tangent(H, dH, W, dW, db):
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
def jvp(theta, v, X, acts, sizes, act):
    """(dY (N, K), dH_L) = J v: the forward-mode derivative of the outputs along v
    (theta's shape), and of the last hidden layer's activations ((N, 0) if L = 0)."""
    N = X.shape[0]
    L = sizes.shape[0] - 2
    H = X
    dH = np.empty((N, 0))
    off = 0
    for l in range(L):
        W, _, nxt = weights(theta, off, sizes[l + 1], sizes[l])
        dW, db, _ = weights(v, off, sizes[l + 1], sizes[l])
        Hl = hidden_layer(acts, N, sizes, l)
        dH = through_act(tangent(H, dH, W, dW, db), Hl, act)
        H = Hl
        off = nxt
    W, _, _ = weights(theta, off, sizes[L + 1], sizes[L])
    dW, db, _ = weights(v, off, sizes[L + 1], sizes[L])
    return tangent(H, dH, W, dW, db), dH
