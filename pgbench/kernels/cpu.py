"""CPU target: primitives as LLVM intrinsics, and the block-of-lanes drivers.

Drivers walk the work as ``prange`` over blocks of ``LANES`` lanes; inside a
block the time loop is outside and a contiguous loop over lanes inside, over
structure-of-arrays scratch, so LLVM vectorizes one step of many episodes at
once. A lane whose episode ends takes the block's next unstarted episode at
once, so unequal episode lengths leave no lane idle until the block's pool of
episodes is empty.
The same source is compiled with ``parallel=True`` (prange) and ``False``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from pgbench.kernels.fingerprint import enable_stable_cache

LANES = 16
EPISODES_PER_LANE = 64
MAX_BLOCKS = 512

DEVICE_OPTIONS = {"fastmath": False, "error_model": "numpy", "boundscheck": False}


def device_jit(func):
    """Decorator for cores (and kernels' helpers) on the CPU: compiled, inlined by LLVM
    into the drivers and kernels that call them."""
    return njit(forceinline=True, **DEVICE_OPTIONS)(func)


def driver_jit(func, parallel: bool = False):
    """Decorator for drivers and the other kernels called from Python (the batched
    network passes of :mod:`.nets`, the optimizer steps of :mod:`.optim`): ``nogil``,
    cached on disk under a closure-content key (:func:`.fingerprint.enable_stable_cache`)."""
    return enable_stable_cache(njit(parallel=parallel, nogil=True, **DEVICE_OPTIONS)(func))


@intrinsic
def pow2i(typingctx, n):
    """2.0 ** n for int32 n in [-1022, 1023], built from the exponent bits."""
    if not isinstance(n, types.Integer):
        return None
    sig = types.float64(n)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        wide = builder.sext(args[0], i64) if n.bitwidth < 64 else args[0]
        biased = builder.add(wide, ir.Constant(i64, 1023))
        bits = builder.shl(biased, ir.Constant(i64, 52))
        return builder.bitcast(bits, ir.DoubleType())

    return sig, codegen


@intrinsic
def unit_from_bits(typingctx, z):
    """(z >> 12) * 2**-52 in [0, 1) for uint64 z, via the mantissa of a double in [1, 2)."""
    if not isinstance(z, types.Integer):
        return None
    sig = types.float64(z)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        mant = builder.lshr(args[0], ir.Constant(i64, 12))
        bits = builder.or_(mant, ir.Constant(i64, 0x3FF0000000000000))
        one_two = builder.bitcast(bits, ir.DoubleType())
        return builder.fsub(one_two, ir.Constant(ir.DoubleType(), 1.0))

    return sig, codegen


def make_drivers(cores, dims, parallel: bool):
    """Compile the streaming and storing drivers from compiled lane ``cores``.

    Block ``b`` owns episodes ``[b * per_block, (b + 1) * per_block)``; a lane
    whose episode ends takes the block's next unstarted episode, so lanes stay
    busy until the block's pool is empty. Which lane runs an episode never
    changes its result (streams are keyed by episode index).
    """
    SD, OD, A, P = dims
    L = LANES
    begin, act = cores.begin, cores.act
    clear_sums, accumulate, write_sums = cores.clear_sums, cores.accumulate, cores.write_sums
    store_init, store_step = cores.store_init, cores.store_step
    # Rows of the one scratch buffer of a block (float rows, then int rows viewed as such).
    R_STATE, R_OBS, R_PROBS = 0, SD, SD + OD
    R_G = R_PROBS + A
    R_CSUM, R_RTG = R_G + P, R_G + 2 * P
    R_RET, R_TOTAL, R_DISC, R_KEYS, R_STEPS, R_EPISODE, R_DONE = range(R_G + 3 * P, R_G + 3 * P + 7)
    W_ROWS = R_DONE + 1

    def stream(ep, theta, seed, horizon, gamma, n_blocks, ret_o, total_o, len_o, csum_o, rtg_o):
        """Per-episode sums of ``len(ret_o)`` episodes; no trajectory is stored."""
        n_episodes = ret_o.shape[0]
        per_block = (n_episodes + n_blocks - 1) // n_blocks
        for b in prange(n_blocks):
            # All lane scratch lives in one buffer: one base pointer, so LLVM
            # vectorizes the lane loop without runtime alias checks.
            work = np.zeros((W_ROWS, L))
            state = work[R_STATE : R_STATE + SD]
            obs = work[R_OBS : R_OBS + OD]
            probs = work[R_PROBS : R_PROBS + A]
            g = work[R_G : R_G + P]
            csum = work[R_CSUM : R_CSUM + P]
            rtg = work[R_RTG : R_RTG + P]
            ret = work[R_RET]
            total = work[R_TOTAL]
            disc = work[R_DISC]
            keys = work.view(np.uint64)[R_KEYS]
            steps = work.view(np.int64)[R_STEPS]
            episode = work.view(np.int64)[R_EPISODE]
            done = work.view(np.int64)[R_DONE]
            first = b * per_block
            last = min(first + per_block, n_episodes)
            next_e = first
            active = 0
            for j in range(L):
                # a lane without work replays episode `first` and writes nothing
                e = next_e if next_e < last else -1
                episode[j] = e
                begin(ep, seed, max(e, first), state, keys, steps, disc, j)
                clear_sums(ret, total, csum, rtg, j)
                if e >= 0:
                    next_e += 1
                    active += 1
            while active > 0:
                n_done = 0
                for j in range(L):
                    a, r, terminated = act(ep, theta, state, obs, probs, g, keys, steps, j)
                    accumulate(ret, total, csum, rtg, g, disc, j, r, gamma)
                    steps[j] += 1
                    d = terminated or steps[j] >= horizon
                    done[j] = d
                    n_done += d
                if n_done == 0:
                    continue
                for j in range(L):
                    e = episode[j]
                    if done[j] != 0 and e >= 0:
                        write_sums(
                            e, j, steps, ret, total, csum, rtg, ret_o, total_o, len_o, csum_o, rtg_o
                        )
                        if next_e < last:
                            episode[j] = next_e
                            begin(ep, seed, next_e, state, keys, steps, disc, j)
                            clear_sums(ret, total, csum, rtg, j)
                            next_e += 1
                        else:
                            episode[j] = -1
                            active -= 1

    def rollout(ep, theta, seed, n_blocks, init_o, obs_o, act_o, rew_o, mask_o, score_o, len_o):
        """Whole trajectories of ``len(len_o)`` episodes into pre-zeroed arrays."""
        n_episodes = len_o.shape[0]
        horizon = act_o.shape[1]
        per_block = (n_episodes + n_blocks - 1) // n_blocks
        for b in prange(n_blocks):
            work = np.zeros((W_ROWS, L))
            state = work[R_STATE : R_STATE + SD]
            obs = work[R_OBS : R_OBS + OD]
            probs = work[R_PROBS : R_PROBS + A]
            g = work[R_G : R_G + P]
            disc = work[R_DISC]
            keys = work.view(np.uint64)[R_KEYS]
            steps = work.view(np.int64)[R_STEPS]
            episode = work.view(np.int64)[R_EPISODE]
            first = b * per_block
            last = min(first + per_block, n_episodes)
            next_e = first
            active = 0
            for j in range(L):
                e = next_e if next_e < last else -1
                episode[j] = e
                if e >= 0:
                    begin(ep, seed, e, state, keys, steps, disc, j)
                    store_init(e, state, j, init_o)
                    next_e += 1
                    active += 1
            while active > 0:
                for j in range(L):
                    e = episode[j]
                    if e < 0:
                        continue
                    t = steps[j]
                    a, r, terminated = act(ep, theta, state, obs, probs, g, keys, steps, j)
                    store_step(e, t, obs, g, j, a, r, obs_o, act_o, rew_o, mask_o, score_o)
                    steps[j] = t + 1
                    if terminated or t + 1 >= horizon:
                        len_o[e] = t + 1
                        if next_e < last:
                            episode[j] = next_e
                            begin(ep, seed, next_e, state, keys, steps, disc, j)
                            store_init(next_e, state, j, init_o)
                            next_e += 1
                        else:
                            episode[j] = -1
                            active -= 1

    stream_c = driver_jit(stream, parallel)
    rollout_c = driver_jit(rollout, parallel)

    def run_stream(ep, theta, seed, horizon, gamma, *out):
        stream_c(ep, theta, seed, horizon, gamma, n_blocks_for(len(out[0])), *out)

    def run_rollout(ep, theta, seed, *out):
        rollout_c(ep, theta, seed, n_blocks_for(len(out[-1])), *out)

    segment_c, reset_c = _make_segment_drivers(cores, dims)
    return SimpleNamespace(
        stream=run_stream, rollout=run_rollout, segment=segment_c, reset_lanes=reset_c
    )


def _make_segment_drivers(cores, dims):
    """Drivers of persistent lanes (a vectorised environment) for training loops.

    Lane ``j`` runs episodes ``j, j + L, j + 2 L, ...`` (L lanes), each on its own
    keyed stream, and keeps its state between calls. Serial: a training segment
    is a few lanes (8 in the RL zoo's CartPole settings); actor threads (A3C)
    run their own segments concurrently, which ``nogil`` allows.
    """
    SD, OD, A, P = dims
    begin, sample_step, record = cores.begin, cores.sample_step, cores.record_transition
    observe = cores.observe_lane

    def reset_lanes(ep, seed, state, keys, episode, steps, ret):
        """Start episode ``episode[j]`` in every lane ``j``."""
        disc = np.zeros(episode.shape[0])
        for j in range(episode.shape[0]):
            begin(ep, seed, episode[j], state, keys, steps, disc, j)
            ret[j] = 0.0

    def segment(
        ep, theta, seed, horizon, state, keys, episode, steps, ret,
        obs_o, act_o, rew_o, term_o, trunc_o, final_obs_o, done_ret_o, done_len_o, last_obs_o,
    ):  # fmt: skip
        """``T = act_o.shape[1]`` steps of every lane, resetting finished episodes.

        A truncated step (``steps == horizon``) records the observation it led
        to in ``final_obs_o`` (for bootstrapping); an ended episode records its
        undiscounted return and length at its last step. ``last_obs_o`` gets the
        observation each lane continues from.
        """
        L = episode.shape[0]
        T = act_o.shape[1]
        obs = np.zeros((OD, L))
        probs = np.zeros((A, L))
        disc = np.zeros(L)
        for t in range(T):
            for j in range(L):
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
        for j in range(L):
            observe(ep, state, j, obs)
            for k in range(OD):
                last_obs_o[j, k] = obs[k, j]

    return driver_jit(segment, False), driver_jit(reset_lanes, False)


def n_blocks_for(n_episodes: int) -> int:
    """Blocks for ``n_episodes``: about EPISODES_PER_LANE episodes per lane, at most
    MAX_BLOCKS. A function of the count only; results do not depend on it anyway."""
    per_block = LANES * EPISODES_PER_LANE
    return int(max(1, min(MAX_BLOCKS, -(-n_episodes // per_block))))


def make_return_drivers(cores, parallel: bool):
    """prange over episode rows for each scan core in ``cores``."""
    discounted_return, reward_to_go = cores.discounted_return, cores.reward_to_go
    td_errors, gae, gae_segment = cores.td_errors, cores.gae, cores.gae_segment

    def discounted_return_rows(rewards, mask, gamma, out):
        for e in prange(rewards.shape[0]):
            discounted_return(rewards, mask, gamma, out, e)

    def reward_to_go_rows(rewards, mask, gamma, out):
        for e in prange(rewards.shape[0]):
            reward_to_go(rewards, mask, gamma, out, e)

    def td_errors_rows(rewards, values, mask, gamma, out):
        for e in prange(rewards.shape[0]):
            td_errors(rewards, values, mask, gamma, out, e)

    def gae_rows(rewards, values, mask, gamma, lam, out):
        for e in prange(rewards.shape[0]):
            gae(rewards, values, mask, gamma, lam, out, e)

    def gae_segment_rows(rewards, values, next_values, dones, gamma, lam, out):
        for e in prange(rewards.shape[0]):
            gae_segment(rewards, values, next_values, dones, gamma, lam, out, e)

    return SimpleNamespace(
        gae_segment=driver_jit(gae_segment_rows, parallel),
        discounted_return=driver_jit(discounted_return_rows, parallel),
        reward_to_go=driver_jit(reward_to_go_rows, parallel),
        td_errors=driver_jit(td_errors_rows, parallel),
        gae=driver_jit(gae_rows, parallel),
    )
