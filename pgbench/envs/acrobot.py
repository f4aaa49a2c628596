"""Acrobot-v1, step for step as Gymnasium's ``classic_control/acrobot.py``.

Two links (unit masses and lengths, centres of mass at 0.5, unit moments of
inertia, g = 9.8) hang from a fixed pivot; the joint between them is driven by
a torque of -1, 0 or +1 (actions 0, 1, 2). The state is
``(theta1, theta2, dtheta1, dtheta2)``: theta1 from straight down, theta2
relative to the first link. One step, in Gymnasium's order:

* ``torque = a - 1``, plus ``U(-n, n)`` if ``torque_noise_max`` n > 0;
* one classic RK4 step of ``dt = 0.2`` through Gymnasium's ``rk4``
  (``y + dt/6 (k1 + 2 k2 + 2 k3 + k4)``, stages at ``y + dt/2 k``) of the
  "book" dynamics (Sutton & Barto; :func:`make_dsdt`, Gymnasium's ``_dsdt``
  term by term);
* ``wrap`` both angles into [-pi, pi] (subtracting / adding 2 pi in a loop),
  ``bound`` the speeds to [-4 pi, 4 pi] and [-9 pi, 9 pi];
* terminated when ``-cos(theta1) - cos(theta2 + theta1) > 1`` (the tip above
  the bar); the reward is -1, or 0 on the terminating step.

Truncation after ``horizon`` steps (500 in Gymnasium's ``TimeLimit``). The
start state is U(-0.1, 0.1) in each of the four variables, rounded to float32
as Gymnasium's ``reset`` does (``.astype(np.float32)``); from then on the
state is float64, as Gymnasium keeps it. The observation is
``(cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2)`` in
float64 (Gymnasium returns a float32 copy).

The torque noise is drawn from the step's own keyed stream
(``lib.uniform(key, step_counter(t, 1))``), so it has Gymnasium's distribution
but not its numbers; with the default n = 0 nothing is drawn, as in Gymnasium.
Gymnasium's other class attributes (``dt``, ``book_or_nips``, the masses) are
not parameters here: Acrobot-v1 is the book dynamics at dt = 0.2.

Differences from Gymnasium are confined to the last bits: of sin / cos
(pgbench's own ``lib.sincos``, within 2 ulp of libm and identical on every
target), and of the squares ``dtheta**2`` and ``d2**2``, where Gymnasium's
numpy ``x**2`` is libm's ``pow(x, 2.0)`` (not always correctly rounded) and
ours is ``x * x``. The four derivative evaluations of a step amplify them.
Measured, one step from the same state: over the 5,820 states of 64 swinging-up
episodes (speeds up to 4 pi and 21), at most 9e-16 in the angles and 4e-15 in
the speeds (a few ulp); from about 100,000 states anywhere in the box, speeds
up to the bounds, at most 4e-14 in the angles and 5e-12 in the speeds (about
1500 ulp of 9 pi; large speeds amplify more). The dynamics are chaotic, so
whole trajectories drift apart (measured: 1e-14 after 50 steps, 1e-3 after
200); the tests compare one step from the same state, and whole episodes
(termination at the same step) while the two stay within 1e-8.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field

from pgbench.envs.base import Env, EnvCores
from pgbench.envs.checks import Gamma, Horizon, check_float, check_gamma, check_horizon, within
from pgbench.envs.score_ranges import ACROBOT
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

DT = 0.2  # seconds per step
L1 = 1.0  # length of link 1, m
M1 = 1.0  # mass of link 1, kg
M2 = 1.0
LC1 = 0.5  # position of the centre of mass of link 1, m
LC2 = 0.5
I1 = 1.0  # moments of inertia, kg m^2
I2 = 1.0
G = 9.8
PI = math.pi
MAX_VEL_1 = 4 * math.pi
MAX_VEL_2 = 9 * math.pi
RESET_LOW = -0.1
RESET_HIGH = 0.1
MAX_STEPS = 500
# Gymnasium's rk4 over t = [0, dt]: h = t[1] - t[0], stages at h / 2, weights h / 6.
RK_H = DT - 0
RK_HALF = RK_H / 2.0
RK_SIXTH = RK_H / 6.0
PARAM_NOISE = 0  # index of torque_noise_max in Env.params
NOISE_DRAW = 1  # the step's draw k of the torque noise


def wrap(x, m, big_m):
    """Gymnasium's ``wrap``: ``x`` moved into [m, M] by whole periods ``M - m``."""
    diff = big_m - m
    while x > big_m:
        x = x - diff
    while x < m:
        x = x + diff
    return x


def bound(x, m, big_m):
    """Gymnasium's ``bound``, ``min(max(x, m), M)`` with Python's comparisons."""
    y = m if m > x else x
    return big_m if big_m < y else y


def make_dsdt(sincos):
    """Gymnasium's ``_dsdt`` ("book"), the same operations in the same order; squares are
    ``x * x`` (``0.5 * 0.5`` and ``1.0 * 1.0`` are exact as Gymnasium's ``**2`` is)."""

    def dsdt(s, a):
        """(dtheta1, dtheta2, ddtheta1, ddtheta2) at the state ``s`` (a 4-tuple), torque
        ``a``."""
        theta1, theta2, dtheta1, dtheta2 = s
        sin2, cos2 = sincos(theta2)
        d1 = M1 * (LC1 * LC1) + M2 * (L1 * L1 + LC2 * LC2 + 2 * L1 * LC2 * cos2) + I1 + I2
        d2 = M2 * (LC2 * LC2 + L1 * LC2 * cos2) + I2
        _, cos_12 = sincos(theta1 + theta2 - PI / 2.0)
        phi2 = M2 * LC2 * G * cos_12
        _, cos_1 = sincos(theta1 - PI / 2)
        phi1 = (
            -M2 * L1 * LC2 * (dtheta2 * dtheta2) * sin2
            - 2 * M2 * L1 * LC2 * dtheta2 * dtheta1 * sin2
            + (M1 * LC1 + M2 * L1) * G * cos_1
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - M2 * L1 * LC2 * (dtheta1 * dtheta1) * sin2 - phi2) / (
            M2 * (LC2 * LC2) + I2 - (d2 * d2) / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return dtheta1, dtheta2, ddtheta1, ddtheta2

    return dsdt


def shift(y, k, h):
    """``y + h k`` of two 4-tuples: the state of an RK4 stage."""
    return y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3]


def rk4_combine(y, k1, k2, k3, k4):
    """Gymnasium's ``y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)``, per component."""
    return (
        y[0] + RK_SIXTH * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
        y[1] + RK_SIXTH * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]),
        y[2] + RK_SIXTH * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2]),
        y[3] + RK_SIXTH * (k1[3] + 2 * k2[3] + 2 * k3[3] + k4[3]),
    )


def make_cores(lib) -> EnvCores:
    uniform = lib.uniform
    step_counter = lib.step_counter
    sincos = lib.sincos
    dsdt = lib.jit(make_dsdt(sincos))
    shift_c = lib.jit(shift)
    combine = lib.jit(rk4_combine)
    wrap_c = lib.jit(wrap)
    bound_c = lib.jit(bound)

    def reset(ep, key, state, j):
        for k in range(4):
            v = RESET_LOW + (RESET_HIGH - RESET_LOW) * uniform(key, np.uint64(k))
            state[k, j] = np.float64(np.float32(v))

    def step(ep, key, t, state, j, a):
        noise = ep[PARAM_NOISE]
        torque = a - 1.0
        if noise > 0.0:
            torque += -noise + (noise + noise) * uniform(key, step_counter(t, NOISE_DRAW))
        y = (state[0, j], state[1, j], state[2, j], state[3, j])
        k1 = dsdt(y, torque)
        k2 = dsdt(shift_c(y, k1, RK_HALF), torque)
        k3 = dsdt(shift_c(y, k2, RK_HALF), torque)
        k4 = dsdt(shift_c(y, k3, RK_H), torque)
        ns = combine(y, k1, k2, k3, k4)
        s0 = wrap_c(ns[0], -PI, PI)
        s1 = wrap_c(ns[1], -PI, PI)
        state[0, j] = s0
        state[1, j] = s1
        state[2, j] = bound_c(ns[2], -MAX_VEL_1, MAX_VEL_1)
        state[3, j] = bound_c(ns[3], -MAX_VEL_2, MAX_VEL_2)
        _, cos_0 = sincos(s0)
        _, cos_10 = sincos(s1 + s0)
        terminated = -cos_0 - cos_10 > 1.0
        return (0.0 if terminated else -1.0), terminated

    def observe(ep, state, j, obs):
        sin_0, cos_0 = sincos(state[0, j])
        sin_1, cos_1 = sincos(state[1, j])
        obs[0, j] = cos_0
        obs[1, j] = sin_0
        obs[2, j] = cos_1
        obs[3, j] = sin_1
        obs[4, j] = state[2, j]
        obs[5, j] = state[3, j]

    return EnvCores(reset, step, observe)


class AcrobotParams(HyperParams):
    """Parameters of ``acrobot-v1``."""

    torque_noise_max: Annotated[float, within("acrobot torque_noise_max", 0.0, math.inf)] = Field(
        0.0, description="torque noise U(-n, n) added each step (0 in Gymnasium: none)"
    )
    gamma: Gamma = Field(0.99, description="discount in (0, 1]")
    horizon: Horizon = Field(MAX_STEPS, description="truncation (500 in Gymnasium)")


def make_acrobot(
    torque_noise_max: float = 0.0, gamma: float = 0.99, horizon: int = MAX_STEPS
) -> Env:
    """Acrobot-v1: 3 actions (torque -1, 0, +1), reward -1 per step until the tip swings
    above the bar; ``horizon`` is the truncation (500 in Gymnasium)."""
    noise = check_float("acrobot torque_noise_max", torque_noise_max, 0.0, math.inf)
    return Env(
        name="acrobot-v1",
        n_actions=3,
        state_dim=4,
        obs_dim=6,
        n_states=None,
        horizon=check_horizon(horizon),
        gamma=check_gamma(gamma),
        params=np.array([noise]),
        make_cores=make_cores,
        spec={"torque_noise_max": noise, "gamma": float(gamma), "horizon": int(horizon)},
    )


ENVS.add(
    Component(
        name="acrobot-v1",
        score_range=ACROBOT,
        fn=make_acrobot,
        params=AcrobotParams,
        summary="swing the tip of a two-link arm above a bar: 3 torques, reward -1 per step",
        citation=(
            "Sutton (1996), NIPS 8; Sutton & Barto (2018), Reinforcement Learning: "
            "An Introduction; Gymnasium Acrobot-v1"
        ),
    )
)
