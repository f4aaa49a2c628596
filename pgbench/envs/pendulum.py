"""Pendulum-v1, step for step as Gymnasium's ``classic_control/pendulum.py``.

The inverted-pendulum swing-up with Gymnasium's constants (m = 1, l = 1,
dt = 0.05, gravity ``g`` = 10 by default, |thdot| <= 8, |u| <= 2). One step,
in Gymnasium's order:

* ``u = clip(a, -2, 2)`` (the environment clips the torque itself);
* ``cost = angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2`` on the state the
  action is taken in, and the reward is ``-cost``;
* ``thdot' = clip(thdot + (3 g / (2 l) sin th + 3 / (m l^2) u) dt, -8, 8)``;
* ``th' = th + thdot' dt`` (semi-implicit Euler; th is never wrapped).

The episode never terminates; it is truncated after ``horizon`` steps (200 in
Gymnasium's ``TimeLimit``). The start state is th ~ U[-pi, pi),
thdot ~ U[-1, 1). The state ``(th, thdot)`` is float64 (as Gymnasium keeps
it); the observation is ``(cos th, sin th, thdot)`` in float64 (Gymnasium
returns a float32 copy).

Differences from Gymnasium are confined to the last bits: of sin / cos
(pgbench's own, identical on every target), which enter the next speed, and of
the squares in the cost, where Gymnasium's numpy ``x**2`` calls libm's
``pow(x, 2.0)`` (glibc's is not always correctly rounded; about one step in a
thousand differs by an ulp) and ours is ``x * x``. ``angle_normalize`` is bit
for bit numpy's ``((x + pi) % (2 pi)) - pi`` for |x| < 1e9, computed with
+, -, *, / only (see :func:`angle_normalize`). The tests compare step for step.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_gamma, check_horizon
from pgbench.envs.score_ranges import PENDULUM
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

DEFAULT_G = 10.0
MASS = 1.0
LENGTH = 1.0
DT = 0.05
MAX_SPEED = 8.0
MAX_TORQUE = 2.0
MAX_STEPS = 200
RESET_TH = math.pi  # th ~ U[-RESET_TH, RESET_TH)
RESET_THDOT = 1.0  # thdot ~ U[-RESET_THDOT, RESET_THDOT)
# Gymnasium's 3.0 / (m * l**2), evaluated the same way.
TORQUE_GAIN = 3.0 / (MASS * LENGTH**2)
TWO_L = 2 * LENGTH
PARAM_G = 0  # index of g in Env.params

PI = math.pi
TWO_PI = 2 * math.pi  # the double numpy divides by: 2 * np.pi, exactly
# TWO_PI = TWO_PI_HI + TWO_PI_LO exactly, each with at most 25 significant bits
# (the double 2 pi has 50), so k * TWO_PI_HI and k * TWO_PI_LO are exact for
# integers |k| < 2**28 (Cody-Waite reduction).
TWO_PI_HI = math.ldexp(math.floor(math.ldexp(TWO_PI, 22)), -22)
TWO_PI_LO = TWO_PI - TWO_PI_HI
# Adding then subtracting 1.5 * 2**52 rounds a double (|v| < 2**51) to the nearest integer.
ROUND_MAGIC = 6755399441055744.0


def angle_normalize(x):
    """numpy's ``((x + pi) % (2 pi)) - pi``, bit for bit, for |x| < 1e9.

    numpy (like Python) computes ``y % p`` as ``m = fmod(y, p)`` (exact, the
    sign of ``y``) and then, where ``m < 0``, ``m + p`` (rounded): the floor
    convention, so the result lies in [-pi, pi] for negative ``x`` as well.
    Here ``fmod(|y|, p) = |y| - k p`` with ``k = floor(|y| / p)`` is evaluated
    exactly by a two-part Cody-Waite split of ``p`` (``|y| - k p`` is
    representable, so the two subtractions round nothing); ``k`` from the
    rounded quotient can be one too large, which a negative remainder reveals.
    Plain arithmetic only, so the CPU, CUDA and the simulator give the same
    bits and LLVM can vectorize it.
    """
    y = x + PI
    a = -y if y < 0.0 else y
    v = a / TWO_PI
    k = (v + ROUND_MAGIC) - ROUND_MAGIC  # nearest integer to v
    k = k - 1.0 if k > v else k  # floor(v), v >= 0
    r = (a - k * TWO_PI_HI) - k * TWO_PI_LO
    k = k - 1.0 if r < 0.0 else k  # the rounded quotient was one too large
    r = (a - k * TWO_PI_HI) - k * TWO_PI_LO  # fmod(|y|, 2 pi), exact
    m = -r if y < 0.0 else r  # fmod(y, 2 pi)
    m = m + TWO_PI if m < 0.0 else m  # numpy's floor-convention fix-up
    return m - PI


def make_cores(lib) -> EnvCores:
    uniform = lib.uniform
    sincos = lib.sincos
    normalize = lib.jit(angle_normalize)

    def reset(ep, key, state, j):
        state[0, j] = -RESET_TH + (2.0 * RESET_TH) * uniform(key, np.uint64(0))
        state[1, j] = -RESET_THDOT + (2.0 * RESET_THDOT) * uniform(key, np.uint64(1))

    def step(ep, key, t, state, j, a):
        th = state[0, j]
        thdot = state[1, j]
        g = ep[PARAM_G]
        # np.clip: NaN passes through
        u = -MAX_TORQUE if a < -MAX_TORQUE else a
        u = MAX_TORQUE if u > MAX_TORQUE else u
        n = normalize(th)
        cost = n * n + 0.1 * (thdot * thdot) + 0.001 * (u * u)
        sin_th, _ = sincos(th)
        new_thdot = thdot + ((3.0 * g / TWO_L) * sin_th + TORQUE_GAIN * u) * DT
        new_thdot = -MAX_SPEED if new_thdot < -MAX_SPEED else new_thdot
        new_thdot = MAX_SPEED if new_thdot > MAX_SPEED else new_thdot
        state[0, j] = th + new_thdot * DT
        state[1, j] = new_thdot
        return -cost, False

    def observe(ep, state, j, obs):
        sin_th, cos_th = sincos(state[0, j])
        obs[0, j] = cos_th
        obs[1, j] = sin_th
        obs[2, j] = state[1, j]

    return EnvCores(reset, step, observe)


class PendulumParams(HyperParams):
    """Parameters of ``pendulum-v1``."""

    g: float = Field(DEFAULT_G, description="gravity, m s^-2 (a finite number)")
    gamma: Gamma = Field(0.99, description="discount in (0, 1]")
    horizon: Horizon = Field(MAX_STEPS, description="truncation (200 in Gymnasium)")


def make_pendulum(g: float = DEFAULT_G, gamma: float = 0.99, horizon: int = MAX_STEPS) -> Env:
    """Pendulum-v1 with gravity ``g`` (m s^-2, 10 in Gymnasium); ``horizon`` is the
    truncation (200 in Gymnasium). One scalar continuous action, the torque,
    clipped by the environment to [-2, 2]."""
    g = float(g)
    return Env(
        name="pendulum-v1",
        n_actions=0,
        state_dim=2,
        obs_dim=3,
        n_states=None,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=np.array([g]),
        make_cores=make_cores,
        spec={"g": g, "gamma": float(gamma), "horizon": int(horizon)},
        action_dim=1,
        action_low=-MAX_TORQUE,
        action_high=MAX_TORQUE,
    )


ENVS.add(
    Component(
        name="pendulum-v1",
        score_range=PENDULUM,
        fn=make_pendulum,
        params=PendulumParams,
        summary="swing a pendulum up and hold it: one continuous torque in [-2, 2]",
        citation="Gymnasium Pendulum-v1",
    )
)
