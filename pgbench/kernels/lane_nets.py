"""Lane cores of a dense network: one observation per lane, one source for every target.

A network maps inputs x (d,) through hidden layers of sizes ``hidden`` (any
number, activation tanh or ReLU) to k linear outputs, and optionally to a
second linear head of k outputs on the last hidden layer (a Gaussian's
state-dependent log-std)::

    h_1 = act(W_1 x + b_1), ..., h_L = act(W_L h_(L-1) + b_L)
    y = W_o h_L + b_o                      (h_0 = x when L = 0)
    y' = W_s h_L + b_s                     (the second head, if any)

Flat theta layout (:mod:`pgbench.policies.mlp` documents it for users): for
each layer in order ``W (out, in)`` row-major then ``b (out,)``; the second
head's ``W_s, b_s`` right after the output layer. Parameters after the
network (a Gaussian's log-std) are the caller's.

:func:`make_lane_trunk` composes, for one network shape, ``forward`` and
``backward`` lane cores that keep the network's state in the lane scratch
``s`` (rows of lane ``j``; ``kt = k``, or ``2 k`` with the second head)::

    [0, kt)              outputs y (then y'), [kt, kt + h_1) h_1, ... h_L
    [R_G, R_G + kt)      dL/dy (then dL/dy'), R_G = kt + sum(hidden)
    [R_G + kt, ...)      deltas: of layer L first (h_L rows), then L - 1, ..., 1

so ``scratch_rows = 2 kt + 2 sum(hidden)``. The per-layer cores of
:func:`make_layer_cores` take every size and offset as an argument, so the
batched sampler of :mod:`.gaussian_nets` runs the very same arithmetic with
sizes known only at run time. tanh is built from the target's ``exp``
(:func:`.mathcore.make_tanh`) and ReLU is a comparison, so the CPU and CUDA
targets give the same bits.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pgbench.kernels.mathcore import LINEAR, RELU, TANH, make_tanh


def make_layer_cores(jit, tanh) -> SimpleNamespace:
    """Per-layer lane cores ``dense``, ``layer_grad``, ``delta_below`` compiled with ``jit``
    (a target's device decorator) around that target's compiled ``tanh``."""

    @jit
    def activate(z, act):
        """act(z) for an activation code of :mod:`.mathcore` (LINEAR, TANH, RELU)."""
        if act == TANH:
            return tanh(z)
        if act == RELU:
            return z if z > 0.0 else 0.0
        return z

    @jit
    def dense(theta, ow, n_out, n_in, src, r_src, s, r_dst, j, act):
        """s[r_dst + q, j] = act(b_q + sum_i W[q, i] src[r_src + i, j]), act a code of
        :mod:`.mathcore` (LINEAR, TANH, RELU), W at ``theta[ow:]``, b after it.

        Each output's sum runs as four interleaved partial sums (i mod 4), added in a
        fixed order, so every target computes the same bits. Four outputs are summed at
        once (sixteen independent add chains, each input loaded once for the four rows)
        and the activations applied after all the sums, so that a CPU core keeps its
        multiply-add units and its tanh evaluations overlapped instead of waiting on one
        chain's latency: a 64x64 tanh layer takes 1.4 us instead of 2.7-3.2 us
        (BENCHMARKS.md). Unsigned indices skip the negative-index wraparound test.
        """
        ob = ow + n_out * n_in
        n4 = n_in - n_in % 4
        uj = np.uint64(j)
        one, two, three = np.uint64(1), np.uint64(2), np.uint64(3)
        stride = np.uint64(n_in)
        q = 0
        while q + 4 <= n_out:
            r0 = ow + q * n_in
            a00 = a01 = a02 = a03 = 0.0
            a10 = a11 = a12 = a13 = 0.0
            a20 = a21 = a22 = a23 = 0.0
            a30 = a31 = a32 = a33 = 0.0
            for i in range(0, n4, 4):
                x = np.uint64(r_src + i)
                x0, x1 = src[x, uj], src[x + one, uj]
                x2, x3 = src[x + two, uj], src[x + three, uj]
                w = np.uint64(r0 + i)
                a00 += theta[w] * x0
                a01 += theta[w + one] * x1
                a02 += theta[w + two] * x2
                a03 += theta[w + three] * x3
                w += stride
                a10 += theta[w] * x0
                a11 += theta[w + one] * x1
                a12 += theta[w + two] * x2
                a13 += theta[w + three] * x3
                w += stride
                a20 += theta[w] * x0
                a21 += theta[w + one] * x1
                a22 += theta[w + two] * x2
                a23 += theta[w + three] * x3
                w += stride
                a30 += theta[w] * x0
                a31 += theta[w + one] * x1
                a32 += theta[w + two] * x2
                a33 += theta[w + three] * x3
            for i in range(n4, n_in):
                xi = src[r_src + i, j]
                a00 += theta[r0 + i] * xi
                a10 += theta[r0 + n_in + i] * xi
                a20 += theta[r0 + 2 * n_in + i] * xi
                a30 += theta[r0 + 3 * n_in + i] * xi
            s[r_dst + q, j] = theta[ob + q] + ((a00 + a01) + (a02 + a03))
            s[r_dst + q + 1, j] = theta[ob + q + 1] + ((a10 + a11) + (a12 + a13))
            s[r_dst + q + 2, j] = theta[ob + q + 2] + ((a20 + a21) + (a22 + a23))
            s[r_dst + q + 3, j] = theta[ob + q + 3] + ((a30 + a31) + (a32 + a33))
            q += 4
        blocked = q
        for q in range(blocked, n_out):  # the last n_out mod 4 outputs, one at a time
            row = ow + q * n_in
            a0 = a1 = a2 = a3 = 0.0
            for i in range(0, n4, 4):
                w = np.uint64(row + i)
                x = np.uint64(r_src + i)
                a0 += theta[w] * src[x, uj]
                a1 += theta[w + one] * src[x + one, uj]
                a2 += theta[w + two] * src[x + two, uj]
                a3 += theta[w + three] * src[x + three, uj]
            for i in range(n4, n_in):
                a0 += theta[row + i] * src[r_src + i, j]
            s[r_dst + q, j] = theta[ob + q] + ((a0 + a1) + (a2 + a3))
        if act != LINEAR:
            for q in range(n_out):
                s[r_dst + q, uj] = activate(s[r_dst + q, uj], act)

    @jit
    def layer_grad(theta, ow, n_out, n_in, src, r_src, s, r_delta, j, g):
        """Gradient of a dense layer from its output delta s[r_delta + q, j]."""
        ob = ow + n_out * n_in
        for q in range(n_out):
            dq = s[r_delta + q, j]
            for i in range(n_in):
                g[ow + q * n_in + i, j] = dq * src[r_src + i, j]
            g[ob + q, j] = dq

    @jit
    def delta_below(theta, ow, n_out, r_delta, ow2, n_out2, r_delta2, n_in, s, r_h, r_out, j, act):
        """s[r_out + i, j] = act'(h_i) sum_q delta_q W[q, i]: the delta of the layer with
        activations h at r_h, feeding the layer of weights at ``ow`` with delta at
        ``r_delta`` and (``n_out2 > 0``) a second one at ``ow2`` with delta at ``r_delta2``.
        act'(h) is 1 - h^2 for tanh, (h > 0) for ReLU."""
        for i in range(n_in):
            acc = 0.0
            for q in range(n_out):
                acc += s[r_delta + q, j] * theta[ow + q * n_in + i]
            for q in range(n_out2):
                acc += s[r_delta2 + q, j] * theta[ow2 + q * n_in + i]
            h = s[r_h + i, j]
            if act == RELU:
                s[r_out + i, j] = acc if h > 0.0 else 0.0
            else:
                s[r_out + i, j] = acc * (1.0 - h * h)

    return SimpleNamespace(dense=dense, layer_grad=layer_grad, delta_below=delta_below)


def layer_offsets(d: int, hidden: tuple[int, ...], k: int) -> list[int]:
    """Offset in theta of each layer's W, input layer first, then the output layer's,
    then the end of the network (where a second head starts)."""
    sizes = [d, *hidden, k]
    offs = [0]
    for i in range(len(sizes) - 1):
        offs.append(offs[-1] + sizes[i + 1] * sizes[i] + sizes[i + 1])
    return offs


def make_lane_trunk(lib, d: int, hidden: tuple[int, ...], k: int, act: int, head2: bool = False):
    """``(forward, backward, R_G)`` lane cores of one network (compiled with ``lib.jit``).

    ``forward(theta, obs, j, s)``: y into ``s[0:k, j]`` (y' into ``s[k:2k, j]``), the
    activations into their rows. ``backward(theta, obs, j, s, g)``: given dL/dy (and
    dL/dy') from row ``R_G`` on and the activations of the same observation,
    ``g[p, j] = dL/dtheta_p`` for the network's parameters p (and the second head's).
    ``act``: TANH or RELU (:mod:`.mathcore`).
    """
    jit = lib.jit
    cores = make_layer_cores(jit, jit(make_tanh(lib.exp)))
    dense, layer_grad, delta_below = cores.dense, cores.layer_grad, cores.delta_below
    L = len(hidden)
    kt = 2 * k if head2 else k
    offs = layer_offsets(d, hidden, k)
    O_OUT, O_HEAD2 = offs[L], offs[L + 1]
    r_h = [kt + sum(hidden[:i]) for i in range(L)]
    R_G = kt + sum(hidden)
    r_d = [0] * L  # delta rows: the last hidden layer's first
    row = R_G + kt
    for i in range(L - 1, -1, -1):
        r_d[i] = row
        row += hidden[i]
    n_top = hidden[-1] if L else d
    r_top = r_h[-1] if L else 0

    def fwd(ow, n_out, n_in, from_obs, r_src, r_dst, a):
        if from_obs:

            def step(theta, obs, j, s):
                dense(theta, ow, n_out, n_in, obs, r_src, s, r_dst, j, a)

        else:

            def step(theta, obs, j, s):
                dense(theta, ow, n_out, n_in, s, r_src, s, r_dst, j, a)

        return jit(step)

    def grad(ow, n_out, n_in, from_obs, r_src, r_delta):
        if from_obs:

            def step(theta, obs, j, s, g):
                layer_grad(theta, ow, n_out, n_in, obs, r_src, s, r_delta, j, g)

        else:

            def step(theta, obs, j, s, g):
                layer_grad(theta, ow, n_out, n_in, s, r_src, s, r_delta, j, g)

        return jit(step)

    def delta(ow, n_out, r_delta, ow2, n_out2, r_delta2, n_in, rh, r_out):
        def step(theta, obs, j, s, g):
            delta_below(
                theta, ow, n_out, r_delta, ow2, n_out2, r_delta2, n_in, s, rh, r_out, j, act
            )

        return jit(step)

    sizes = [d, *hidden]
    forward_steps = [
        fwd(offs[i], hidden[i], sizes[i], i == 0, r_h[i - 1] if i else 0, r_h[i], act)
        for i in range(L)
    ]
    forward_steps.append(fwd(O_OUT, k, n_top, L == 0, r_top, 0, LINEAR))
    if head2:
        forward_steps.append(fwd(O_HEAD2, k, n_top, L == 0, r_top, k, LINEAR))
    backward_steps = [grad(O_OUT, k, n_top, L == 0, r_top, R_G)]
    if head2:
        backward_steps.append(grad(O_HEAD2, k, n_top, L == 0, r_top, R_G + k))
    for i in range(L - 1, -1, -1):
        if i == L - 1:  # below the output layer (and the second head)
            n2 = k if head2 else 0
            step = delta(O_OUT, k, R_G, O_HEAD2, n2, R_G + k, hidden[i], r_h[i], r_d[i])
        else:
            step = delta(offs[i + 1], hidden[i + 1], r_d[i + 1], 0, 0, 0, hidden[i], r_h[i], r_d[i])
        backward_steps.append(step)
        backward_steps.append(
            grad(offs[i], hidden[i], sizes[i], i == 0, r_h[i - 1] if i else 0, r_d[i])
        )
    return _chain4(jit, forward_steps), _chain5(jit, backward_steps), R_G


def _chain4(jit, steps):
    """One core ``(theta, obs, j, s)`` running ``steps`` in order (each inlined)."""
    run = steps[0]
    for nxt in steps[1:]:
        run = _then4(jit, run, nxt)
    return run


def _then4(jit, first, second):
    def both(theta, obs, j, s):
        first(theta, obs, j, s)
        second(theta, obs, j, s)

    return jit(both)


def _chain5(jit, steps):
    """One core ``(theta, obs, j, s, g)`` running ``steps`` in order (each inlined)."""
    run = steps[0]
    for nxt in steps[1:]:
        run = _then5(jit, run, nxt)
    return run


def _then5(jit, first, second):
    def both(theta, obs, j, s, g):
        first(theta, obs, j, s, g)
        second(theta, obs, j, s, g)

    return jit(both)
