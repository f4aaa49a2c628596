"""CUDA target (numba-cuda): one thread per lane, imported only when asked for.

Every CUDA import of pgbench lives here. With ``NUMBA_ENABLE_CUDASIM=1`` set
before numba is imported, the same drivers run in Numba's CUDA simulator on
the CPU, which is how CI checks them against the CPU drivers bit for bit.
On a real GPU, NVVM may contract multiply-adds, so arrays agree to rounding
rather than bit for bit.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np

from pgbench.errors import BackendUnavailableError

try:
    from numba import config as _numba_config
    from numba import cuda, float64, int64, uint64
except Exception as exc:  # numba-cuda missing or broken: a clear error on use
    raise BackendUnavailableError(
        f"the CUDA backend needs numba-cuda (pip install 'pgbench[cuda]'): {exc}"
    ) from None

SIMULATOR = bool(_numba_config.ENABLE_CUDASIM)
if SIMULATOR:
    # The simulator runs the uint64 stream arithmetic on numpy scalars, which warn
    # when they wrap; wrapping modulo 2**64 is the intended arithmetic.
    warnings.filterwarnings(
        "ignore", "overflow encountered in scalar", RuntimeWarning, "pgbench.kernels.rng"
    )
THREADS_PER_BLOCK = 32 if SIMULATOR else 128


def available() -> bool:
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


def require_device() -> None:
    if not available():
        raise BackendUnavailableError(
            "backend 'cuda' needs an NVIDIA GPU visible to numba-cuda (none found); "
            "use backend 'cpu', or NUMBA_ENABLE_CUDASIM=1 to simulate"
        )


def device_jit(func):
    """Decorator for cores on CUDA: inlined device functions."""
    if SIMULATOR:
        return cuda.jit(device=True)(func)
    return cuda.jit(device=True, forceinline=True)(func)


def _pow2i(n):
    """2.0 ** n for int32 n (exact power of two)."""
    return math.ldexp(1.0, n)


def _pow2i_simulated(n):
    """2.0 ** n; Python's ldexp wants a Python int."""
    return math.ldexp(1.0, int(n))


_TWO_M52 = 2.0**-52
_SHIFT12 = np.uint64(12)


def _unit_from_bits(z):
    """(z >> 12) * 2**-52 in [0, 1): the same bits as the CPU's mantissa trick."""
    return float(z >> _SHIFT12) * _TWO_M52


pow2i = device_jit(_pow2i_simulated if SIMULATOR else _pow2i)
unit_from_bits = device_jit(_unit_from_bits)


def _blocks(n: int) -> int:
    return max(1, -(-n // THREADS_PER_BLOCK))


def make_drivers(cores, dims):
    """Streaming and storing kernels: thread i runs episodes i, i + n_threads, ..."""
    SD, OD, A, P = dims
    begin, act = cores.begin, cores.act
    clear_sums, accumulate, write_sums = cores.clear_sums, cores.accumulate, cores.write_sums
    store_init, store_step = cores.store_init, cores.store_step

    @cuda.jit
    def stream(ep, theta, seed, horizon, gamma, ret_o, total_o, len_o, csum_o, rtg_o):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n_episodes = ret_o.shape[0]
        state = cuda.local.array((SD, 1), float64)
        obs = cuda.local.array((OD, 1), float64)
        probs = cuda.local.array((A, 1), float64)
        g = cuda.local.array((P, 1), float64)
        csum = cuda.local.array((P, 1), float64)
        rtg = cuda.local.array((P, 1), float64)
        ret = cuda.local.array(1, float64)
        total = cuda.local.array(1, float64)
        disc = cuda.local.array(1, float64)
        keys = cuda.local.array(1, uint64)
        steps = cuda.local.array(1, int64)
        e = i
        while e < n_episodes:
            begin(ep, seed, e, state, keys, steps, disc, 0)
            clear_sums(ret, total, csum, rtg, 0)
            running = True
            while running:
                a, r, terminated = act(ep, theta, state, obs, probs, g, keys, steps, 0)
                accumulate(ret, total, csum, rtg, g, disc, 0, r, gamma)
                steps[0] += 1
                running = not (terminated or steps[0] >= horizon)
            write_sums(e, 0, steps, ret, total, csum, rtg, ret_o, total_o, len_o, csum_o, rtg_o)
            e += stride

    @cuda.jit
    def rollout(ep, theta, seed, init_o, obs_o, act_o, rew_o, mask_o, score_o, len_o):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n_episodes = len_o.shape[0]
        horizon = act_o.shape[1]
        state = cuda.local.array((SD, 1), float64)
        obs = cuda.local.array((OD, 1), float64)
        probs = cuda.local.array((A, 1), float64)
        g = cuda.local.array((P, 1), float64)
        disc = cuda.local.array(1, float64)
        keys = cuda.local.array(1, uint64)
        steps = cuda.local.array(1, int64)
        e = i
        while e < n_episodes:
            begin(ep, seed, e, state, keys, steps, disc, 0)
            store_init(e, state, 0, init_o)
            running = True
            while running:
                t = steps[0]
                a, r, terminated = act(ep, theta, state, obs, probs, g, keys, steps, 0)
                store_step(e, t, obs, g, 0, a, r, obs_o, act_o, rew_o, mask_o, score_o)
                steps[0] = t + 1
                running = not (terminated or t + 1 >= horizon)
            len_o[e] = steps[0]
            e += stride

    def run_stream(ep, theta, seed, horizon, gamma, *out):
        stream[_blocks(len(out[0])), THREADS_PER_BLOCK](ep, theta, seed, horizon, gamma, *out)

    def run_rollout(ep, theta, seed, *out):
        rollout[_blocks(len(out[-1])), THREADS_PER_BLOCK](ep, theta, seed, *out)

    segment, reset_lanes = _make_segment_drivers(cores, dims)
    return SimpleNamespace(
        stream=run_stream, rollout=run_rollout, segment=segment, reset_lanes=reset_lanes
    )


def _make_segment_drivers(cores, dims):
    """Persistent lanes for training loops: thread ``j`` owns lane ``j`` and walks
    its T steps; the lane state lives in device arrays between calls."""
    SD, OD, A, P = dims
    begin, sample_step, record = cores.begin, cores.sample_step, cores.record_transition
    observe = cores.observe_lane

    @cuda.jit
    def reset_kernel(ep, seed, state, keys, episode, steps, ret, disc):
        j = cuda.grid(1)
        if j < episode.shape[0]:
            begin(ep, seed, episode[j], state, keys, steps, disc, j)
            ret[j] = 0.0

    @cuda.jit
    def segment_kernel(
        ep, theta, seed, horizon, state, keys, episode, steps, ret,
        obs_o, act_o, rew_o, term_o, trunc_o, final_obs_o, done_ret_o, done_len_o, last_obs_o,
        obs, probs, disc,
    ):  # fmt: skip
        j = cuda.grid(1)
        L = episode.shape[0]
        if j >= L:
            return
        T = act_o.shape[1]
        for t in range(T):
            a, r, terminated = sample_step(ep, theta, state, obs, probs, keys, steps, j)
            record(j, t, obs, a, r, terminated, obs_o, act_o, rew_o, term_o)
            steps[j] += 1
            ret[j] += r
            truncated = (not terminated) and steps[j] >= horizon
            if terminated or truncated:
                if truncated:
                    trunc_o[j, t] = 1.0
                    observe(ep, state, j, obs)
                    for k in range(OD):
                        final_obs_o[j, t, k] = obs[k, j]
                done_ret_o[j, t] = ret[j]
                done_len_o[j, t] = steps[j]
                episode[j] += L
                begin(ep, seed, episode[j], state, keys, steps, disc, j)
                ret[j] = 0.0
        observe(ep, state, j, obs)
        for k in range(OD):
            last_obs_o[j, k] = obs[k, j]

    def reset_lanes(ep, seed, state, keys, episode, steps, ret):
        L = episode.shape[0]
        reset_kernel[_blocks(L), THREADS_PER_BLOCK](
            ep, seed, state, keys, episode, steps, ret, np.zeros(L)
        )

    def segment(ep, theta, seed, horizon, state, keys, episode, steps, ret, *out):
        L = episode.shape[0]
        scratch = (np.zeros((OD, L)), np.zeros((A, L)), np.zeros(L))
        segment_kernel[_blocks(L), THREADS_PER_BLOCK](
            ep, theta, seed, horizon, state, keys, episode, steps, ret, *out, *scratch
        )

    return segment, reset_lanes


def make_return_drivers(cores):
    """One thread per episode row for each scan core."""
    discounted_return, reward_to_go = cores.discounted_return, cores.reward_to_go
    td_errors, gae, gae_segment = cores.td_errors, cores.gae, cores.gae_segment

    @cuda.jit
    def discounted_return_rows(rewards, mask, gamma, out):
        e = cuda.grid(1)
        if e < rewards.shape[0]:
            discounted_return(rewards, mask, gamma, out, e)

    @cuda.jit
    def reward_to_go_rows(rewards, mask, gamma, out):
        e = cuda.grid(1)
        if e < rewards.shape[0]:
            reward_to_go(rewards, mask, gamma, out, e)

    @cuda.jit
    def td_errors_rows(rewards, values, mask, gamma, out):
        e = cuda.grid(1)
        if e < rewards.shape[0]:
            td_errors(rewards, values, mask, gamma, out, e)

    @cuda.jit
    def gae_rows(rewards, values, mask, gamma, lam, out):
        e = cuda.grid(1)
        if e < rewards.shape[0]:
            gae(rewards, values, mask, gamma, lam, out, e)

    @cuda.jit
    def gae_segment_rows(rewards, values, next_values, dones, gamma, lam, out):
        e = cuda.grid(1)
        if e < rewards.shape[0]:
            gae_segment(rewards, values, next_values, dones, gamma, lam, out, e)

    def launch(kernel):
        def run(*args):
            kernel[_blocks(args[0].shape[0]), THREADS_PER_BLOCK](*args)

        return run

    return SimpleNamespace(
        discounted_return=launch(discounted_return_rows),
        reward_to_go=launch(reward_to_go_rows),
        td_errors=launch(td_errors_rows),
        gae=launch(gae_rows),
        gae_segment=launch(gae_segment_rows),
    )
