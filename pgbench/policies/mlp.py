"""Multilayer perceptrons: flat layout, initialization, lane cores, and ``mlp-softmax``.

Network: inputs x (d,), hidden sizes ``hidden`` (0 to :data:`MAX_LAYERS` layers,
activation ``tanh`` or ``relu``), K linear outputs (A logits for
``mlp-softmax``, the mean for ``gaussian``, a value or A action values for
:mod:`pgbench.values`)::

    h1 = act(W1 x + b1),  h2 = act(W2 h1 + b2), ...,  y = W_o h_last + b_o

**Flat theta layout** (what algorithms and users may rely on): for each layer
l in order, ``W_l`` of shape (out_l, in_l) row-major, then ``b_l`` (out_l,).
For ``mlp-softmax`` on CartPole with hidden (64, 64):
``[W1 (64, 4), b1 (64), W2 (64, 64), b2 (64), W3 (2, 64), b3 (2)]``, P = 4610.
A Gaussian policy appends its log-std (:mod:`pgbench.policies.gaussian`).

Initialization (``init``): ``orthogonal`` (the default) follows Stable-Baselines3
(``ActorCriticPolicy.init_weights``): orthogonal weights (Saxe et al. 2014,
"Exact solutions to the nonlinear dynamics of learning in deep linear networks";
torch's ``orthogonal_`` construction: QR of a Gaussian matrix with the signs of
R's diagonal), gain sqrt(2) on hidden layers and 0.01 on a policy's output
layer (1 on a value's), zero biases. ``normal``: every weight and bias
N(0, init_scale^2), as :meth:`pgbench.policies.base.Policy.init` draws them.

Lane cores (:func:`make_trunk_cores`) are those of :mod:`pgbench.kernels.lane_nets`,
which documents the lane scratch rows they use (``scratch_rows = 2 K + 2 sum(hidden)``).
``score`` reuses the activations the preceding ``sample`` / ``log_prob`` left there
for the same observation (the drivers always call it right after ``sample``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field

from pgbench.errors import InvalidSpecError
from pgbench.kernels.lane_nets import make_lane_trunk
from pgbench.kernels.mathcore import ACTIVATIONS
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import MlpLogits
from pgbench.registry import POLICIES, Component

HIDDEN_GAIN = math.sqrt(2.0)
POLICY_OUT_GAIN = 0.01
MAX_LAYERS = 8
Activation = Literal["tanh", "relu"]
Init = Literal["orthogonal", "normal"]


# --------------------------------------------------------------------------- layout and init


def check_hidden(
    owner: str, hidden, min_layers: int = 1, max_layers: int = MAX_LAYERS
) -> tuple[int, ...]:
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


def check_activation(owner: str, activation) -> str:
    """``activation`` if it is ``tanh`` or ``relu``, else a one-line InvalidSpecError."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise InvalidSpecError(
            f"{owner}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
        )
    return activation


def check_init(owner: str, init) -> str:
    """``init`` if it is ``orthogonal`` or ``normal``, else a one-line InvalidSpecError."""
    if init not in ("orthogonal", "normal"):
        raise InvalidSpecError(f"{owner}: init must be orthogonal or normal, got {init!r}")
    return init


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


def activate_ref(z: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """numpy reference of a hidden layer's activation."""
    return np.tanh(z) if activation == "tanh" else np.where(z > 0.0, z, 0.0)


def slope_ref(h: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """The activation's derivative, from its value h: 1 - h^2 (tanh), 1[h > 0] (ReLU)."""
    return 1.0 - h * h if activation == "tanh" else (h > 0.0).astype(np.float64)


def activations_ref(
    theta, obs, d, hidden, k, activation: str = "tanh"
) -> tuple[list[np.ndarray], np.ndarray]:
    """numpy reference: ([x, h1, ...] inputs of each layer, y (N, k) outputs)."""
    layers = unpack(theta, d, hidden, k)
    acts = [np.asarray(obs, dtype=np.float64)]
    for W, b in layers[:-1]:
        acts.append(activate_ref(acts[-1] @ W.T + b, activation))
    W, b = layers[-1]
    return acts, acts[-1] @ W.T + b


def forward_ref(
    theta: np.ndarray, x: np.ndarray, d: int, hidden: tuple[int, ...], k: int, activation="tanh"
):
    """numpy reference: (N, d) inputs -> (N, k) outputs."""
    return activations_ref(theta, x, d, hidden, k, activation)[1]


def vjp_rows_ref(theta, obs, dy, d, hidden, k, activation: str = "tanh") -> np.ndarray:
    """numpy reference: (N, n_params) rows dy[n] . dy_n/dtheta, by explicit backprop."""
    layers = unpack(theta, d, hidden, k)
    acts, _ = activations_ref(theta, obs, d, hidden, k, activation)
    n = acts[0].shape[0]
    per_layer = [None] * len(layers)
    delta = np.asarray(dy, dtype=np.float64)
    for l in range(len(layers) - 1, -1, -1):
        h = acts[l]
        per_layer[l] = np.concatenate(
            [(delta[:, :, None] * h[:, None, :]).reshape(n, -1), delta], axis=1
        )
        if l > 0:
            delta = (delta @ layers[l][0]) * slope_ref(h, activation)
    return np.concatenate(per_layer, axis=1)


def scratch_rows(hidden: tuple[int, ...], k: int) -> int:
    return 2 * k + 2 * sum(hidden)


# --------------------------------------------------------------------------- lane cores


def make_trunk_cores(
    lib, d: int, hidden: tuple[int, ...], k: int, activation: str = "tanh", head2: bool = False
):
    """``(forward, backward, R_G)`` lane cores of the network (compiled with ``lib.jit``):
    :func:`pgbench.kernels.lane_nets.make_lane_trunk`, which documents them and the lane
    scratch rows they use; ``head2`` adds a second linear head of ``k`` outputs on the
    last hidden layer (rows ``[k, 2 k)``)."""
    return make_lane_trunk(lib, d, hidden, k, ACTIVATIONS[activation], head2)


def _make_softmax_cores_factory(d: int, hidden: tuple[int, ...], A: int, activation: str):
    def make_cores(lib) -> PolicyCores:
        exp = lib.exp
        categorical = lib.categorical
        forward, backward, R_G = make_trunk_cores(lib, d, hidden, A, activation)

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


def softmax_probs_ref(theta, obs, d, hidden, A, activation: str = "tanh") -> np.ndarray:
    """numpy reference: (N, d) observations -> (N, A) probabilities."""
    z = forward_ref(theta, obs, d, hidden, A, activation)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_score_ref(theta, obs, actions, d, hidden, A, activation: str = "tanh") -> np.ndarray:
    """numpy reference: (N, P) rows of grad log pi(a_n | x_n)."""
    p = softmax_probs_ref(theta, obs, d, hidden, A, activation)
    dy = np.eye(A)[np.asarray(actions)] - p
    return vjp_rows_ref(theta, obs, dy, d, hidden, A, activation)


SoftmaxHidden = hidden_sizes("mlp-softmax")


class MlpSoftmaxParams(HyperParams):
    """Parameters of ``mlp-softmax``."""

    hidden: SoftmaxHidden = Field((64, 64), description=f"1 to {MAX_LAYERS} layer sizes")
    activation: Activation = Field("tanh", description="hidden-layer activation: tanh or relu")
    init: Init = Field(
        "orthogonal", description="orthogonal (SB3 gains sqrt 2, 0.01) or normal (init_scale)"
    )
    init_scale: float = Field(
        0.1, ge=0.0, description="std of every initial weight and bias (init: normal)"
    )


def make_mlp_softmax(
    env,
    hidden=(64, 64),
    activation: str = "tanh",
    init: str = "orthogonal",
    init_scale: float = 0.1,
) -> Policy:
    """Softmax over A logits of an MLP of ``env``'s observation vector.

    Args (validated by :class:`MlpSoftmaxParams`):
        hidden: 1 to 8 hidden layer sizes (default [64, 64]).
        activation: ``tanh`` (default) or ``relu`` on the hidden layers.
        init: ``orthogonal`` (default; Stable-Baselines3's) or ``normal``: every
            parameter N(0, init_scale^2).
    """
    hidden = check_hidden("mlp-softmax", hidden)
    activation = check_activation("mlp-softmax", activation)
    orth = check_init("mlp-softmax", init) == "orthogonal"
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
        init_scale=0.0 if orth else float(init_scale),
        make_cores=_make_softmax_cores_factory(D, hidden, A, activation),
        probs_ref=lambda theta, obs: softmax_probs_ref(theta, obs, D, hidden, A, activation),
        score_ref=lambda theta, obs, actions: softmax_score_ref(
            theta, obs, actions, D, hidden, A, activation
        ),
        scratch_rows=scratch_rows(hidden, A),
        distributions=MlpLogits(D, hidden, A, activation),
        init_fn=(lambda seed: orthogonal_init(seed, D, hidden, A, POLICY_OUT_GAIN))
        if orth
        else None,
    )


POLICIES.add(Component(name="mlp-softmax", fn=make_mlp_softmax, params=MlpSoftmaxParams))
