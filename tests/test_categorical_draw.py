"""The inverse-CDF draw of the lane cores (``lib.categorical``) against a numpy oracle.

Every discrete policy core and the joint two-agent policy draw their action with
``categorical(probs, j, n, u)``; here it runs on a fixed grid of uniforms (CPU,
and in the CUDA simulator process the CUDA target too) and on the rows where
rounding leaves the cumulative sum below ``u`` in front of zero probabilities.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

import pgbench
from pgbench.envs.games import ipd_payoffs, joint_game_env
from pgbench.games.joint import joint_policy
from pgbench.kernels.build import target_lib

try:  # the simulator swaps this module global for its own inside kernels
    from numba import cuda
except ImportError:  # numba-cuda missing: only the cudasim test needs it
    cuda = None

M = 4096
GRID = (np.arange(M) + 0.5) / M  # fixed uniforms in (0, 1)
U_TOP = 1.0 - 2.0**-53  # the largest double below 1
U_STREAM_TOP = 1.0 - 2.0**-52  # the largest uniform the streams produce (52 bits)
# Rows whose positive probabilities sum (left to right) to 1 - 2**-52 < U_TOP, so the
# raw count of cumulative sums <= U_TOP lands on a trailing zero.
SHORT = 0.75 - 2.0**-52
GUARD_ROWS = [
    ([0.25, 0.0, SHORT, 0.0], 2),  # a trailing and an interior zero: back to index 2
    ([1.0 - 2.0**-52, 0.0, 0.0], 0),  # two trailing zeros
    ([0.0, 0.0, 0.0], 0),  # nothing positive: index 0
    ([0.25, SHORT], 1),  # short sum but no zero: the last index, no guard needed
]


def _rows():
    """Distributions (one per list entry) of 1 to 6 outcomes, some with zeros."""
    rng = np.random.default_rng(7)
    rows = [[1.0], [0.0, 1.0], [1.0, 0.0], [0.2, 0.0, 0.5, 0.3], [0.0, 0.5, 0.0, 0.5, 0.0]]
    for n in (2, 3, 5, 6):
        z = rng.normal(scale=2.0, size=n)
        p = np.exp(z - z.max())
        rows.append(list(p / p.sum()))
    return rows


def _column_block(rows):
    """rows -> (probs (n_max, n_rows) with row r in column r, sizes (n_rows,))."""
    n_max = max(len(r) for r in rows)
    probs = np.zeros((n_max, len(rows)))
    for j, r in enumerate(rows):
        probs[: len(r), j] = r
    return probs, np.array([len(r) for r in rows], np.int64)


def oracle(p, u):
    """Index drawn from p (n,) by u: count of cumsum(p)[:-1] <= u, then down past zeros."""
    i = int(np.searchsorted(np.cumsum(p)[:-1], u, side="right"))
    while i > 0 and p[i] <= 0.0:
        i -= 1
    return i


@numba.njit
def _draw_cpu(categorical, probs, sizes, u):
    out = np.empty((probs.shape[1], u.shape[0]), np.int64)
    for j in range(probs.shape[1]):
        for k in range(u.shape[0]):
            out[j, k] = categorical(probs, j, sizes[j], u[k])
    return out


def _draw_cuda(probs, sizes, u):
    categorical = target_lib("cuda").categorical

    @cuda.jit
    def draw(probs, sizes, u, out):
        k = cuda.grid(1)
        if k < u.shape[0]:
            for j in range(probs.shape[1]):
                out[j, k] = categorical(probs, j, sizes[j], u[k])

    out = np.zeros((probs.shape[1], u.shape[0]), np.int64)
    draw[-(-u.shape[0] // 32), 32](probs, sizes, np.ascontiguousarray(u), out)
    return out


def _check_grid(draw, u):
    rows = _rows()
    probs, sizes = _column_block(rows)
    got = draw(probs, sizes, u)
    for j, p in enumerate(rows):
        p = np.asarray(p)
        assert got[j].tolist() == [oracle(p, x) for x in u]
        freq = np.bincount(got[j], minlength=len(p)) / len(u)
        assert np.all(freq[p == 0.0] == 0.0)
        # each interval [c_{i-1}, c_i) holds its length times M grid points, give or take one
        np.testing.assert_array_less(np.abs(freq - p), 1.0 / len(u) + 1e-12)


def _check_guard(draw):
    probs, sizes = _column_block([r for r, _ in GUARD_ROWS])
    got = draw(probs, sizes, np.array([U_TOP, U_STREAM_TOP, 0.0]))
    for j, (p, expected) in enumerate(GUARD_ROWS):
        raw = int(np.searchsorted(np.cumsum(p)[:-1], U_TOP, side="right"))
        assert raw == len(p) - 1  # the raw count runs past the positive probabilities
        assert got[j, 0] == expected == oracle(np.asarray(p), U_TOP)
        assert p[got[j, 0]] > 0.0 or not any(p)
        assert got[j, 1] == oracle(np.asarray(p), U_STREAM_TOP)
        assert got[j, 2] == oracle(np.asarray(p), 0.0)


def _cpu(probs, sizes, u):
    return _draw_cpu(target_lib("serial").categorical, probs, sizes, u)


def test_draw_frequencies_match_probabilities_on_a_grid():
    _check_grid(_cpu, GRID)


def test_draw_never_lands_on_a_zero_probability():
    _check_guard(_cpu)


@numba.njit
def _sample_grid(sample, theta, obs, u, W):
    """Action of every (observation column j, uniform k) and the probs the core wrote."""
    n = obs.shape[1]
    probs = np.zeros((W, n))
    actions = np.empty((n, u.shape[0]), np.int64)
    for j in range(n):
        for k in range(u.shape[0]):
            actions[j, k] = sample(theta, obs, j, u[k], probs)
    return actions, probs


POLICY_CASES = ["linear-softmax-2", "linear-softmax-3", "tabular-softmax", "mlp-softmax",
                "joint-memory-1"]  # fmt: skip


def _policy_case(name):
    """(policy, observations (obs_dim, N) as lane columns)."""
    rng = np.random.default_rng(3)
    cartpole = pgbench.make_env("cartpole-v1")
    three = dataclasses.replace(cartpole, n_actions=3)  # the general softmax path
    if name.startswith("linear-softmax"):
        env = cartpole if name.endswith("2") else three
        return pgbench.make_policy("linear-softmax", env), rng.normal(size=(4, 6))
    if name == "mlp-softmax":
        return pgbench.make_policy("mlp-softmax", three, hidden=[8]), rng.normal(size=(4, 6))
    if name == "tabular-softmax":
        garnet = pgbench.make_env("garnet", n_states=4, n_actions=3)
        return pgbench.make_policy("tabular-softmax", garnet), np.arange(4.0).reshape(1, 4)
    ipd = joint_game_env("ipd", ipd_payoffs()[0].ravel(), 0.96, 10)
    return joint_policy(ipd), np.arange(5.0).reshape(1, 5)


@pytest.mark.parametrize("scale", [2.0, 1000.0])  # 1000: probabilities that are exactly 0
@pytest.mark.parametrize("name", POLICY_CASES)
def test_policy_sample_cores_draw_with_the_oracle(name, scale):
    pol, obs = _policy_case(name)
    theta = scale * np.random.default_rng(5).normal(size=pol.n_params)
    lib = target_lib("serial")
    sample = lib.jit(pol.make_cores(lib).sample)
    u = np.concatenate([GRID[::16], [U_STREAM_TOP]])
    W = max(pol.n_actions, pol.scratch_rows, 1)
    actions, probs = _sample_grid(sample, theta, np.ascontiguousarray(obs), u, W)
    A = pol.n_actions
    for j in range(obs.shape[1]):
        assert actions[j].tolist() == [oracle(probs[:A, j], x) for x in u]
    if scale > 100.0:
        assert np.any(probs[:A] == 0.0)  # the case exercises zero probabilities


@pytest.mark.cudasim
def test_cuda_draw_equals_cpu_and_oracle():
    _check_grid(_draw_cuda, GRID[::8])
    _check_guard(_draw_cuda)
    probs, sizes = _column_block(_rows())
    u = GRID[::8]
    np.testing.assert_array_equal(_draw_cuda(probs, sizes, u), _cpu(probs, sizes, u))
