"""Gaussian policy for a scalar continuous action: a ~ N(mu_theta(x), sigma^2).

The mean mu is a linear map of the observation (``hidden=[]``, the default)
or a tanh MLP (e.g. ``hidden=[64, 64]``); the log standard deviation is one
state-independent parameter, the LAST entry of theta (as Stable-Baselines3's
``DiagGaussianDistribution``). theta = [mean network in the layout of
:mod:`pgbench.policies.mlp` (W (1, d), b (1) for the linear mean), log sigma],
P = n_params + 1. The action is unbounded; the environment clips it.

Sampling is by inversion, a = mu + sigma Phi^-1(u), with Wichura's
Algorithm AS 241 (PPND16; Applied Statistics 37(3), 477-484, 1988; relative
accuracy about 1e-16) on u nudged into (0, 1) (``u`` in [0, 1) becomes
``min(max(u, 2^-53), 1 - 2^-53)``, so u = 1/2 still gives the mean exactly).

Score (Williams 1992): with z = (a - mu) / sigma,
d log pi / d mu = z / sigma (backpropagated through the mean network) and
d log pi / d log sigma = z^2 - 1.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

import pgbench.policies.mlp as mlp
from pgbench.errors import InvalidSpecError
from pgbench.kernels.nets import LOG_2PI
from pgbench.params import HyperParams
from pgbench.policies.base import Policy, PolicyCores
from pgbench.policies.distributions import MlpGaussian
from pgbench.registry import POLICIES, Component

U_MIN = 2.0**-53
U_MAX = 1.0 - 2.0**-53
HALF_LOG_2PI = 0.5 * LOG_2PI

# AS 241 (PPND16) coefficients: |q| <= 0.425 (a, b), the near tail r <= 5 (c, d), far tail (e, f).
A0, A1 = 3.3871328727963666080e0, 1.3314166789178437745e2
A2, A3 = 1.9715909503065514427e3, 1.3731693765509461125e4
A4, A5 = 4.5921953931549871457e4, 6.7265770927008700853e4
A6, A7 = 3.3430575583588128105e4, 2.5090809287301226727e3
B1, B2 = 4.2313330701600911252e1, 6.8718700749205790830e2
B3, B4 = 5.3941960214247511077e3, 2.1213794301586595867e4
B5, B6 = 3.9307895800092710610e4, 2.8729085735721942674e4
B7 = 5.2264952788528545610e3
C0, C1 = 1.42343711074968357734e0, 4.63033784615654529590e0
C2, C3 = 5.76949722146069140550e0, 3.64784832476320460504e0
C4, C5 = 1.27045825245236838258e0, 2.41780725177450611770e-1
C6, C7 = 2.27238449892691845833e-2, 7.74545014278341407640e-4
D1, D2 = 2.05319162663775882187e0, 1.67638483018380384940e0
D3, D4 = 6.89767334985100004550e-1, 1.48103976427480074590e-1
D5, D6 = 1.51986665636164571966e-2, 5.47593808499534494600e-4
D7 = 1.05075007164441684324e-9
E0, E1 = 6.65790464350110377720e0, 5.46378491116411436990e0
E2, E3 = 1.78482653991729133580e0, 2.96560571828504891230e-1
E4, E5 = 2.65321895265761230930e-2, 1.24266094738807843860e-3
E6, E7 = 2.71155556874348757815e-5, 2.01033439929228813265e-7
F1, F2 = 5.99832206555887937690e-1, 1.36929880922735805310e-1
F3, F4 = 1.48753612908506148525e-2, 7.86869131145613259100e-4
F5, F6 = 1.84631831751005468180e-5, 1.42151175831644588870e-7
F7 = 2.04426310338993978564e-15


def ppnd16(p):
    """Phi^-1(p), the standard normal quantile, for p in (0, 1): AS 241 (Wichura 1988).

    An undecorated core (compiled by the kernels for every target); uses only
    arithmetic, ``math.log`` and ``math.sqrt``.
    """
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = ((((((A7 * r + A6) * r + A5) * r + A4) * r + A3) * r + A2) * r + A1) * r + A0
        den = ((((((B7 * r + B6) * r + B5) * r + B4) * r + B3) * r + B2) * r + B1) * r + 1.0
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = ((((((C7 * r + C6) * r + C5) * r + C4) * r + C3) * r + C2) * r + C1) * r + C0
        den = ((((((D7 * r + D6) * r + D5) * r + D4) * r + D3) * r + D2) * r + D1) * r + 1.0
    else:
        r -= 5.0
        num = ((((((E7 * r + E6) * r + E5) * r + E4) * r + E3) * r + E2) * r + E1) * r + E0
        den = ((((((F7 * r + F6) * r + F5) * r + F4) * r + F3) * r + F2) * r + F1) * r + 1.0
    x = num / den
    return -x if q < 0.0 else x


def _make_cores_factory(d: int, hidden: tuple[int, ...], P: int):
    LS = P - 1  # index of log sigma

    def make_cores(lib) -> PolicyCores:
        exp = lib.exp
        ndtri = lib.jit(ppnd16)
        forward, backward, R_G = mlp.make_trunk_cores(lib, d, hidden, 1)

        def sample(theta, obs, j, u, probs):
            """Mean into probs[0, j]; returns mu + sigma Phi^-1(u)."""
            forward(theta, obs, j, probs)
            p = min(max(u, U_MIN), U_MAX)
            return probs[0, j] + exp(theta[LS]) * ndtri(p)

        def log_prob(theta, obs, j, a, probs):
            forward(theta, obs, j, probs)
            ls = theta[LS]
            z = (a - probs[0, j]) * exp(-ls)
            return -0.5 * z * z - ls - HALF_LOG_2PI

        def score(theta, obs, j, a, probs, g):
            inv_std = exp(-theta[LS])
            z = (a - probs[0, j]) * inv_std
            probs[R_G, j] = z * inv_std
            backward(theta, obs, j, probs, g)
            g[LS, j] = z * z - 1.0

        return PolicyCores(sample, log_prob, score)

    return make_cores


def mean_ref(theta, obs, d, hidden) -> np.ndarray:
    """numpy reference: (N, d) observations -> (N, 1) means (what ``sample`` writes to row 0)."""
    return mlp.forward_ref(theta[:-1], obs, d, hidden, 1)


def score_ref(theta, obs, actions, d, hidden) -> np.ndarray:
    """numpy reference: (N, P) rows of grad log pi(a_n | x_n)."""
    mu = mean_ref(theta, obs, d, hidden)[:, 0]
    inv_std = math.exp(-theta[-1])
    z = (np.asarray(actions, dtype=np.float64) - mu) * inv_std
    rows = mlp.vjp_rows_ref(theta[:-1], obs, (z * inv_std)[:, None], d, hidden, 1)
    return np.concatenate([rows, (z * z - 1.0)[:, None]], axis=1)


def log_prob_ref(theta, obs, actions, d, hidden) -> np.ndarray:
    """numpy reference: (N,) log N(a_n; mu(x_n), sigma^2)."""
    mu = mean_ref(theta, obs, d, hidden)[:, 0]
    z = (np.asarray(actions, dtype=np.float64) - mu) * math.exp(-theta[-1])
    return -0.5 * z * z - theta[-1] - HALF_LOG_2PI


MeanHidden = mlp.hidden_sizes("gaussian", min_layers=0)


class GaussianParams(HyperParams):
    """Parameters of ``gaussian``."""

    hidden: MeanHidden = Field(
        (), description="mean network layer sizes: [] (linear mean), 1 or 2 layers"
    )
    log_std_init: float = Field(0.0, description="initial log sigma (a finite number)")


def make_gaussian(env, hidden=(), log_std_init: float = 0.0) -> Policy:
    """Gaussian policy for ``env``'s scalar continuous action.

    Args (validated by :class:`GaussianParams`):
        hidden: mean network hidden sizes: [] (linear mean, default), or 1 or 2 layers.
        log_std_init: initial log sigma (the last parameter).
    """
    hidden = tuple(hidden)
    if not env.continuous:
        raise InvalidSpecError(
            f"gaussian needs a continuous action; {env.describe()} has {env.n_actions} discrete "
            "actions (use a softmax policy)"
        )
    if env.action_dim != 1:
        raise InvalidSpecError(
            f"gaussian supports a scalar action; {env.describe()} has action_dim={env.action_dim}"
        )
    if env.discrete_obs:
        raise InvalidSpecError(f"gaussian needs vector observations; {env.describe()} has states")
    log_std_init = float(log_std_init)
    D = env.obs_dim
    P = mlp.n_params(D, hidden, 1) + 1

    def init_fn(seed: int) -> np.ndarray:
        net = mlp.orthogonal_init(seed, D, hidden, 1, mlp.POLICY_OUT_GAIN)
        return np.append(net, log_std_init)

    return Policy(
        name="gaussian",
        n_actions=0,
        obs_dim=D,
        n_params=P,
        theta_shape=(P,),
        init_scale=0.0,
        make_cores=_make_cores_factory(D, hidden, P),
        probs_ref=lambda theta, obs: mean_ref(theta, obs, D, hidden),
        score_ref=lambda theta, obs, actions: score_ref(theta, obs, actions, D, hidden),
        action_dim=1,
        scratch_rows=mlp.scratch_rows(hidden, 1),
        distributions=MlpGaussian(D, hidden),
        init_fn=init_fn,
    )


POLICIES.add(Component(name="gaussian", fn=make_gaussian, params=GaussianParams))
