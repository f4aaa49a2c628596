"""Tanh multilayer perceptrons: flat layout, orthogonal init, lane cores, and ``mlp-softmax``.

Network: inputs x (d,), hidden sizes ``hidden`` (0, 1 or 2 tanh layers),
K linear outputs (A logits for ``mlp-softmax``, the mean for ``gaussian``, a
value or A action values for :mod:`pgbench.values`)::

    h1 = tanh(W1 x + b1),  h2 = tanh(W2 h1 + b2),  y = W3 h_last + b3

**Flat theta layout** (what algorithms and users may rely on): for each layer
l in order, ``W_l`` of shape (out_l, in_l) row-major, then ``b_l`` (out_l,).
For ``mlp-softmax`` on CartPole with hidden (64, 64):
``[W1 (64, 4), b1 (64), W2 (64, 64), b2 (64), W3 (2, 64), b3 (2)]``, P = 4610.
A Gaussian policy appends its log-std as the last entry.

Initialization follows Stable-Baselines3 (``ActorCriticPolicy.init_weights``):
orthogonal weights (Saxe et al. 2014, "Exact solutions to the nonlinear
dynamics of learning in deep linear networks"; torch's ``orthogonal_``
construction: QR of a Gaussian matrix with the signs of R's diagonal), gain
sqrt(2) on hidden layers and 0.01 on a policy's output layer, zero biases.

Lane cores keep a network's state in the lane scratch ``s`` (the ``probs``
array of the drivers), rows of lane ``j``:

    [0, K)                outputs y (the softmax overwrites them with probabilities)
    [K, K + h1)           h1          [K + h1, K + h1 + h2)  h2
    [R_G, R_G + K)        dL/dy, R_G = K + h1 + h2
    [R_G + K, ... + h2)   delta of layer 2, then h1 rows: delta of layer 1

so ``scratch_rows = 2 K + 2 (h1 + h2)``. ``score`` reuses the activations the
preceding ``sample`` / ``log_prob`` left there for the same observation (the
drivers always call it right after ``sample``). tanh is built from the
target's ``lib.exp`` (:func:`pgbench.kernels.mathcore.make_tanh`), so the CPU and
CUDA targets give the same bits.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, Field

from pgbench.errors import InvalidSpecError
from pgbench.kernels.mathcore import make_tanh
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import MlpLogits
from pgbench.registry import POLICIES, Component

HIDDEN_GAIN = math.sqrt(2.0)
POLICY_OUT_GAIN = 0.01


# --------------------------------------------------------------------------- layout and init


def check_hidden(owner: str, hidden, min_layers: int = 1, max_layers: int = 2) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive ints, or a one-line InvalidSpecError."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = [hidden]
    try:
        sizes = tuple(hidden)
    except TypeError:
        sizes = None
    ok = (
        sizes is not None
        and min_layers <= len(sizes) <= max_layers
        and all(
            isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0 for h in sizes
        )
    )
    if not ok:
        want = f"{min_layers} to {max_layers}" if min_layers != max_layers else f"{min_layers}"
        raise InvalidSpecError(
            f"{owner}: hidden must be a list of {want} positive layer sizes, got {hidden!r}"
        )
    return tuple(int(h) for h in sizes)


def hidden_sizes(owner: str, min_layers: int = 1) -> Any:
    """The type of a ``hidden`` parameter: layer sizes as :func:`check_hidden` accepts
    them (a list, a tuple or one int), held as a tuple of ints."""
    return Annotated[Any, AfterValidator(lambda h: check_hidden(owner, h, min_layers))]


def layer_shapes(d: int, hidden: tuple[int, ...], k: int) -> list[tuple[int, int]]:
    """(out, in) of each layer, input to output."""
    sizes = [d, *hidden, k]
    return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]


def n_params(d: int, hidden: tuple[int, ...], k: int) -> int:
    """Length of the network's flat parameter vector."""
    return sum(o * i + o for o, i in layer_shapes(d, hidden, k))


def unpack(theta: np.ndarray, d: int, hidden: tuple[int, ...], k: int):
    """[(W (out, in), b (out,)), ...] views into theta, input layer first."""
    layers, off = [], 0
    for o, i in layer_shapes(d, hidden, k):
        layers.append(
            (theta[off : off + o * i].reshape(o, i), theta[off + o * i : off + o * i + o])
        )
        off += o * i + o
    return layers


def orthogonal(rng: np.random.Generator, rows: int, cols: int, gain: float) -> np.ndarray:
    """(rows, cols) matrix with orthonormal rows or columns (whichever are fewer),
    times ``gain``: torch.nn.init.orthogonal_'s construction."""
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q


def orthogonal_init(
    seed: int, d: int, hidden: tuple[int, ...], k: int, out_gain: float
) -> np.ndarray:
    """Flat (P,) parameters: orthogonal weights (gain sqrt 2 hidden, ``out_gain``
    output), zero biases, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    parts = []
    shapes = layer_shapes(d, hidden, k)
    for l, (o, i) in enumerate(shapes):
        gain = out_gain if l == len(shapes) - 1 else HIDDEN_GAIN
        parts += [orthogonal(rng, o, i, gain).reshape(-1), np.zeros(o)]
    return np.concatenate(parts)


def forward_ref(theta: np.ndarray, x: np.ndarray, d: int, hidden: tuple[int, ...], k: int):
    """numpy reference: (N, d) inputs -> (N, k) outputs."""
    h = np.asarray(x, dtype=np.float64)
    layers = unpack(theta, d, hidden, k)
    for W, b in layers[:-1]:
        h = np.tanh(h @ W.T + b)
    W, b = layers[-1]
    return h @ W.T + b


def scratch_rows(hidden: tuple[int, ...], k: int) -> int:
    return 2 * k + 2 * sum(hidden)


# --------------------------------------------------------------------------- lane cores


def make_trunk_cores(lib, d: int, hidden: tuple[int, ...], k: int):
    """``(forward, backward)`` lane cores of the network (compiled with ``lib.jit``).

    ``forward(theta, obs, j, s)``: y into ``s[0:k, j]``, activations into their rows.
    ``backward(theta, obs, j, s, g)``: given dL/dy in ``s[R_G:R_G + k, j]`` and the
    activations of the same observation, ``g[p, j] = dL/dtheta_p`` for the network's
    parameters p (the first ``n_params`` rows).
    """
    h1, h2 = (tuple(hidden) + (0, 0))[:2]
    n_hidden = len(hidden)
    tanh = lib.jit(make_tanh(lib.exp))
    R_H1, R_H2 = k, k + h1
    R_G = k + h1 + h2
    R_D2 = R_G + k
    R_D1 = R_D2 + h2
    O_W1 = 0
    O_W2 = h1 * d + h1
    O_W3 = O_W2 + h2 * h1 + h2
    O_OUT = 0 if n_hidden == 0 else (O_W2 if n_hidden == 1 else O_W3)

    @lib.jit
    def dense(theta, ow, n_out, n_in, src, r_src, s, r_dst, j, act):
        """s[r_dst + q, j] = (tanh of) b_q + sum_i W[q, i] src[r_src + i, j].

        The sum runs as four interleaved partial sums (i mod 4), added in a fixed
        order: four independent add chains keep a CPU core busy where one chain
        would wait on each add's latency, and every target still computes the same
        bits. With unsigned indices a 64x64 layer takes 1.5 us instead of 2.5 us.
        """
        ob = ow + n_out * n_in
        n4 = n_in - n_in % 4
        for q in range(n_out):
            row = ow + q * n_in
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            for i in range(0, n4, 4):
                # unsigned indices: no negative-index wraparound test per load
                w = np.uint64(row + i)
                x = np.uint64(r_src + i)
                uj = np.uint64(j)
                a0 += theta[w] * src[x, uj]
                a1 += theta[w + np.uint64(1)] * src[x + np.uint64(1), uj]
                a2 += theta[w + np.uint64(2)] * src[x + np.uint64(2), uj]
                a3 += theta[w + np.uint64(3)] * src[x + np.uint64(3), uj]
            for i in range(n4, n_in):
                a0 += theta[row + i] * src[r_src + i, j]
            z = theta[ob + q] + ((a0 + a1) + (a2 + a3))
            s[r_dst + q, j] = tanh(z) if act else z

    @lib.jit
    def layer_grad(theta, ow, n_out, n_in, src, r_src, s, r_delta, j, g):
        """Gradient of a dense layer from its output delta s[r_delta + q, j]."""
        ob = ow + n_out * n_in
        for q in range(n_out):
            dq = s[r_delta + q, j]
            for i in range(n_in):
                g[ow + q * n_in + i, j] = dq * src[r_src + i, j]
            g[ob + q, j] = dq

    @lib.jit
    def delta_below(theta, ow, n_out, n_in, s, r_delta, r_h, r_out, j):
        """s[r_out + i, j] = (sum_q delta_q W[q, i]) (1 - h_i^2): the delta of the tanh
        layer (activations at r_h) feeding the layer (weights at ow) with delta at r_delta."""
        for i in range(n_in):
            acc = 0.0
            for q in range(n_out):
                acc += s[r_delta + q, j] * theta[ow + q * n_in + i]
            h = s[r_h + i, j]
            s[r_out + i, j] = acc * (1.0 - h * h)

    def forward(theta, obs, j, s):
        if n_hidden == 0:
            dense(theta, O_OUT, k, d, obs, 0, s, 0, j, False)
        elif n_hidden == 1:
            dense(theta, O_W1, h1, d, obs, 0, s, R_H1, j, True)
            dense(theta, O_OUT, k, h1, s, R_H1, s, 0, j, False)
        else:
            dense(theta, O_W1, h1, d, obs, 0, s, R_H1, j, True)
            dense(theta, O_W2, h2, h1, s, R_H1, s, R_H2, j, True)
            dense(theta, O_OUT, k, h2, s, R_H2, s, 0, j, False)

    def backward(theta, obs, j, s, g):
        if n_hidden == 0:
            layer_grad(theta, O_OUT, k, d, obs, 0, s, R_G, j, g)
        elif n_hidden == 1:
            layer_grad(theta, O_OUT, k, h1, s, R_H1, s, R_G, j, g)
            delta_below(theta, O_OUT, k, h1, s, R_G, R_H1, R_D1, j)
            layer_grad(theta, O_W1, h1, d, obs, 0, s, R_D1, j, g)
        else:
            layer_grad(theta, O_OUT, k, h2, s, R_H2, s, R_G, j, g)
            delta_below(theta, O_OUT, k, h2, s, R_G, R_H2, R_D2, j)
            layer_grad(theta, O_W2, h2, h1, s, R_H1, s, R_D2, j, g)
            delta_below(theta, O_W2, h2, h1, s, R_D2, R_H1, R_D1, j)
            layer_grad(theta, O_W1, h1, d, obs, 0, s, R_D1, j, g)

    return lib.jit(forward), lib.jit(backward), R_G


def _make_softmax_cores_factory(d: int, hidden: tuple[int, ...], A: int):
    def make_cores(lib) -> PolicyCores:
        exp = lib.exp
        categorical = lib.categorical
        forward, backward, R_G = make_trunk_cores(lib, d, hidden, A)

        @lib.jit
        def _softmax(s, j):
            """Logits in s[0:A, j] -> probabilities; returns (max logit, sum of exps)."""
            m = s[0, j]
            for a in range(1, A):
                m = max(m, s[a, j])
            tot = 0.0
            for a in range(A):
                w = exp(s[a, j] - m)
                s[a, j] = w
                tot += w
            inv = 1.0 / tot
            for a in range(A):
                s[a, j] *= inv
            return m, tot

        def sample(theta, obs, j, u, probs):
            forward(theta, obs, j, probs)
            _softmax(probs, j)
            return categorical(probs, j, A, u)

        def log_prob(theta, obs, j, a, probs):
            forward(theta, obs, j, probs)
            za = probs[a, j]
            m, tot = _softmax(probs, j)
            return za - m - math.log(tot)

        def score(theta, obs, j, a, probs, g):
            for b in range(A):
                probs[R_G + b, j] = (1.0 if b == a else 0.0) - probs[b, j]
            backward(theta, obs, j, probs, g)

        return PolicyCores(sample, log_prob, score)

    return make_cores


# --------------------------------------------------------------------------- mlp-softmax


def softmax_probs_ref(theta, obs, d, hidden, A) -> np.ndarray:
    """numpy reference: (N, d) observations -> (N, A) probabilities."""
    z = forward_ref(theta, obs, d, hidden, A)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def activations_ref(theta, obs, d, hidden, k) -> tuple[list[np.ndarray], np.ndarray]:
    """numpy reference: ([x, h1, ...] inputs of each layer, y (N, k) outputs)."""
    layers = unpack(theta, d, hidden, k)
    acts = [np.asarray(obs, dtype=np.float64)]
    for W, b in layers[:-1]:
        acts.append(np.tanh(acts[-1] @ W.T + b))
    W, b = layers[-1]
    return acts, acts[-1] @ W.T + b


def vjp_rows_ref(theta, obs, dy, d, hidden, k) -> np.ndarray:
    """numpy reference: (N, n_params) rows dy[n] . dy_n/dtheta, by explicit backprop."""
    layers = unpack(theta, d, hidden, k)
    acts, _ = activations_ref(theta, obs, d, hidden, k)
    n = acts[0].shape[0]
    per_layer = [None] * len(layers)
    delta = np.asarray(dy, dtype=np.float64)
    for l in range(len(layers) - 1, -1, -1):
        h = acts[l]
        per_layer[l] = np.concatenate(
            [(delta[:, :, None] * h[:, None, :]).reshape(n, -1), delta], axis=1
        )
        if l > 0:
            delta = (delta @ layers[l][0]) * (1.0 - h * h)
    return np.concatenate(per_layer, axis=1)


def softmax_score_ref(theta, obs, actions, d, hidden, A) -> np.ndarray:
    """numpy reference: (N, P) rows of grad log pi(a_n | x_n)."""
    p = softmax_probs_ref(theta, obs, d, hidden, A)
    return vjp_rows_ref(theta, obs, np.eye(A)[np.asarray(actions)] - p, d, hidden, A)


SoftmaxHidden = hidden_sizes("mlp-softmax")


class MlpSoftmaxParams(HyperParams):
    """Parameters of ``mlp-softmax``."""

    hidden: SoftmaxHidden = Field((64, 64), description="1 or 2 layer sizes")


def make_mlp_softmax(env, hidden=(64, 64)) -> Policy:
    """Softmax over A logits of a tanh MLP of ``env``'s observation vector.

    Args:
        hidden: 1 or 2 hidden layer sizes (default [64, 64]), as
            :class:`MlpSoftmaxParams` validates them.
    """
    hidden = tuple(hidden)
    if env.continuous:
        raise InvalidSpecError(
            f"mlp-softmax needs discrete actions; {env.describe()} has a continuous action "
            "(use gaussian)"
        )
    if env.discrete_obs:
        raise InvalidSpecError(
            f"mlp-softmax needs vector observations; {env.describe()} has discrete states "
            "(use tabular-softmax)"
        )
    A, D = env.n_actions, env.obs_dim
    P = n_params(D, hidden, A)
    return Policy(
        name="mlp-softmax",
        n_actions=A,
        obs_dim=D,
        n_params=P,
        theta_shape=(P,),
        init_scale=0.0,
        make_cores=_make_softmax_cores_factory(D, hidden, A),
        probs_ref=lambda theta, obs: softmax_probs_ref(theta, obs, D, hidden, A),
        score_ref=lambda theta, obs, actions: softmax_score_ref(theta, obs, actions, D, hidden, A),
        scratch_rows=scratch_rows(hidden, A),
        distributions=MlpLogits(D, hidden, A),
        init_fn=lambda seed: orthogonal_init(seed, D, hidden, A, POLICY_OUT_GAIN),
    )


POLICIES.add(Component(name="mlp-softmax", fn=make_mlp_softmax, params=MlpSoftmaxParams))
