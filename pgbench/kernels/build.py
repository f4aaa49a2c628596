"""build(env, policy, target) -> compiled kernels: where cores meet a decorator.

Targets: ``"serial"`` (njit), ``"parallel"`` (njit with prange) and ``"cuda"``
(numba-cuda, one thread per lane; imported lazily from :mod:`.cuda`).
Cores are undecorated functions from :mod:`pgbench.envs`, :mod:`pgbench.policies`
and this package; each layer is compiled with the target's device decorator
and handed to the next through closures, never through module globals.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

import pgbench.kernels.cpu as cpu
import pgbench.kernels.draws as draws
import pgbench.kernels.mathcore as mathcore
import pgbench.kernels.returns as returns
import pgbench.kernels.rng as rng
from pgbench.errors import InvalidSpecError
from pgbench.kernels.episodes import make_episode_cores
from pgbench.kernels.fingerprint import fingerprint

TARGETS = ("serial", "parallel", "cuda")


class EpisodeSums(NamedTuple):
    """Per-episode sums from the streaming kernel (E episodes, P parameters).

    returns (E,): sum_t gamma^t r_t.  total_rewards (E,): sum_t r_t (undiscounted).
    lengths (E,) int64: actions taken.  score_sums (E, P): sum_t grad log pi(a_t|s_t).
    rtg_sums (E, P): sum_t grad log pi(a_t|s_t) * sum_{t' >= t} gamma^t' r_t'.
    """

    returns: np.ndarray
    total_rewards: np.ndarray
    lengths: np.ndarray
    score_sums: np.ndarray
    rtg_sums: np.ndarray


class Trajectories(NamedTuple):
    """Stored episodes, padded to T steps (mask is 1 while the episode is alive).

    init_states (E, SD), obs (E, T, OD), actions (E, T) int64 (float64 for a
    continuous action), rewards (E, T),
    mask (E, T), score (E, T, P), lengths (E,) int64.
    """

    init_states: np.ndarray
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    score: np.ndarray
    lengths: np.ndarray


class Segment(NamedTuple):
    """T steps of L persistent lanes (a vectorised environment); see :meth:`Kernels.segment`.

    obs (L, T, OD): where ``actions[j, t]`` was taken.  actions (L, T) int64
    (float64 for a continuous action).  rewards (L, T).  terminated (L, T) 0/1:
    the step ended its episode in a terminal state.  truncated (L, T) 0/1: the
    step hit the horizon without terminating.  final_obs (L, T, OD): on a
    truncated step, the observation it led to (zeros elsewhere).
    episode_returns (L, T): undiscounted return of the episode that ended at
    (j, t), 0 elsewhere.  episode_lengths (L, T) int64: its length, 0 elsewhere.
    last_obs (L, OD): the observation each lane continues from.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    last_obs: np.ndarray

    @property
    def dones(self) -> np.ndarray:
        """(L, T) 0/1: the episode ended at this step (terminated or truncated)."""
        return np.maximum(self.terminated, self.truncated)


class Lanes:
    """Persistent state of L lanes between segments: lane ``j`` runs episodes
    ``j, j + L, j + 2L, ...``, episode ``e`` on the stream keyed by ``(seed, e)``.

    state (SD, L), keys (L,) uint64, episode (L,) int64, steps (L,) int64 (steps
    taken in the current episode), ret (L,) (its undiscounted return so far).
    """

    def __init__(self, seed: int, n_lanes: int, state_dim: int):
        self.seed = np.uint64(seed)
        self.state = np.zeros((state_dim, n_lanes))
        self.keys = np.zeros(n_lanes, np.uint64)
        self.episode = np.arange(n_lanes, dtype=np.int64)
        self.steps = np.zeros(n_lanes, np.int64)
        self.ret = np.zeros(n_lanes)

    @property
    def n_lanes(self) -> int:
        return int(self.episode.shape[0])

    def arrays(self):
        return self.state, self.keys, self.episode, self.steps, self.ret


def _compile_all(decorate, funcs: dict) -> SimpleNamespace:
    return SimpleNamespace(**{name: decorate(f) for name, f in funcs.items()})


def make_lib(decorate, pow2i, unit_from_bits) -> SimpleNamespace:
    """Compiled primitives of one target: exp, sincos, episode_key, uniform, step_counter,
    action_key, action_counter, and the inverse-CDF draw ``categorical(probs, j, n, u)``
    (:mod:`.draws`)."""
    math_cores = _compile_all(decorate, mathcore.make_math(pow2i))
    mix64 = decorate(rng.mix64)
    rng_cores = _compile_all(decorate, rng.make_rng(mix64, unit_from_bits))
    return SimpleNamespace(
        jit=decorate,
        exp=math_cores.exp,
        sincos=math_cores.sincos,
        mix64=mix64,
        episode_key=rng_cores.episode_key,
        uniform=rng_cores.uniform,
        step_counter=decorate(rng.step_counter),
        action_key=rng_cores.action_key,
        action_counter=decorate(rng.action_counter),
        categorical=decorate(draws.categorical),
    )


def _target_module(target: str):
    if target == "cuda":
        # Optional dependency (numba-cuda), imported only when asked for: its import
        # raises BackendUnavailableError where it is missing.
        import pgbench.kernels.cuda as cuda

        if not cuda.SIMULATOR:
            cuda.require_device()
        return cuda
    return cpu


def require_target(target: str) -> None:
    """Raise BackendUnavailableError unless ``target`` can run on this machine."""
    _target_module(target)


def source_hash() -> str:
    """sha256 of the kernel, environment and policy sources: what compiled code depends on."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for folder in ("kernels", "envs", "policies"):
        for path in sorted((root / folder).glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def set_threads(n: int) -> None:
    """Run this process's parallel kernels on ``n`` threads (their results do not depend
    on it: every episode has its own random stream and its own sums)."""
    import numba

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def runtime_info() -> dict:
    """Numba version, threading layer, thread count, CPU lanes and kernel source hash."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process yet
        layer = None
    return {
        "numba": numba.__version__,
        "threading_layer": layer,
        "num_threads": int(numba.get_num_threads()),
        "cpu_lanes": cpu.LANES,
        "kernel_source_sha256": source_hash(),
    }


@functools.cache
def target_lib(target: str) -> SimpleNamespace:
    """Compiled primitives for ``target`` (serial and parallel share the CPU's)."""
    mod = _target_module(target)
    return make_lib(mod.device_jit, mod.pow2i, mod.unit_from_bits)


def cpu_lib() -> SimpleNamespace:
    return target_lib("serial")


def check_pair(env, policy) -> tuple[int, int, int, int]:
    """(SD, OD, W, P) after checking that ``policy`` was made for ``env``; W is the
    lane scratch rows the policy cores get (``probs``), at least the action count."""
    if (
        policy.n_actions != env.n_actions
        or policy.obs_dim != env.obs_dim
        or policy.action_dim != env.action_dim
    ):
        raise InvalidSpecError(
            f"policy {policy.name} (A={policy.n_actions}, action_dim={policy.action_dim}, "
            f"obs_dim={policy.obs_dim}) does not fit environment {env.describe()} "
            f"(A={env.n_actions}, action_dim={env.action_dim}, obs_dim={env.obs_dim})"
        )
    width = max(env.n_actions, policy.scratch_rows, 1)
    return env.state_dim, env.obs_dim, width, policy.n_params


class Kernels:
    """Compiled kernels for one (environment cores, policy cores, target)."""

    def __init__(self, target: str, dims, drivers, continuous: bool = False):
        self.target = target
        self.dims = dims
        self.action_dtype = np.float64 if continuous else np.int64
        self._stream = drivers.stream
        self._rollout = drivers.rollout
        self._segment = drivers.segment
        self._reset_lanes = drivers.reset_lanes

    def stream(
        self, ep, theta, seed: int, n_episodes: int, horizon: int, gamma: float
    ) -> EpisodeSums:
        """Per-episode sums of ``n_episodes`` episodes of at most ``horizon`` steps."""
        _, _, _, P = self.dims
        E = n_episodes
        out = EpisodeSums(
            np.zeros(E), np.zeros(E), np.zeros(E, np.int64), np.zeros((E, P)), np.zeros((E, P))
        )
        if E:
            self._stream(ep, theta, np.uint64(seed), int(horizon), float(gamma), *out)
        return out

    def rollout(
        self, ep, theta, seed: int, n_episodes: int, horizon: int, scores: bool = True
    ) -> Trajectories:
        """``n_episodes`` stored episodes, padded to ``horizon`` steps; with
        ``scores=False`` the score array has 0 columns (nothing stored)."""
        SD, OD, _, P = self.dims
        E, T = n_episodes, horizon
        out = Trajectories(
            np.zeros((E, SD)),
            np.zeros((E, T, OD)),
            np.zeros((E, T), self.action_dtype),
            np.zeros((E, T)),
            np.zeros((E, T)),
            np.zeros((E, T, P if scores else 0)),
            np.zeros(E, np.int64),
        )
        if E:
            self._rollout(ep, theta, np.uint64(seed), *out)
        return out

    def start_lanes(self, ep, seed: int, n_lanes: int) -> Lanes:
        """``n_lanes`` lanes at the start of their first episodes."""
        lanes = Lanes(seed, n_lanes, self.dims[0])
        self._reset_lanes(ep, lanes.seed, *lanes.arrays())
        return lanes

    def segment(self, ep, theta, lanes: Lanes, n_steps: int, horizon: int) -> Segment:
        """``n_steps`` steps of every lane of ``lanes`` (advanced in place), resetting
        an episode when it terminates or reaches ``horizon`` steps."""
        _, OD, _, _ = self.dims
        L, T = lanes.n_lanes, n_steps
        out = Segment(
            np.zeros((L, T, OD)),
            np.zeros((L, T), self.action_dtype),
            np.zeros((L, T)),
            np.zeros((L, T)),
            np.zeros((L, T)),
            np.zeros((L, T, OD)),
            np.zeros((L, T)),
            np.zeros((L, T), np.int64),
            np.zeros((L, OD)),
        )
        self._segment(ep, theta, lanes.seed, int(horizon), *lanes.arrays(), *out)
        return out


_BUILT: dict[tuple, Kernels] = {}


def build(env, policy, target: str = "parallel") -> Kernels:
    """Compiled kernels for ``env`` x ``policy`` on ``target`` (memoized per process); for
    an environment stepped from Python (no cores), its own drivers
    (``env.make_drivers(policy, target)``, with the same methods)."""
    if target not in TARGETS:
        raise InvalidSpecError(f"unknown kernel target {target!r}; use one of {TARGETS}")
    dims = check_pair(env, policy)
    if env.make_cores is None:  # stepped from Python: the env brings its own drivers
        return env.make_drivers(policy, target)
    key = (fingerprint(env.make_cores), fingerprint(policy.make_cores), target)
    if key not in _BUILT:
        _BUILT[key] = _build(env, policy, target, dims)
    return _BUILT[key]


def _build(env, policy, target, dims) -> Kernels:
    mod = _target_module(target)
    lib = target_lib(target)
    env_c = _compile_tuple(mod.device_jit, env.make_cores(lib))
    pol_c = _compile_tuple(mod.device_jit, policy.make_cores(lib))
    lane = _compile_all(mod.device_jit, make_episode_cores(lib, env_c, pol_c, dims))
    if target == "cuda":
        drivers = mod.make_drivers(lane, dims)
    else:
        drivers = mod.make_drivers(lane, dims, parallel=(target == "parallel"))
    return Kernels(target, dims, drivers, continuous=env.continuous)


def _compile_tuple(decorate, cores):
    return type(cores)(*(decorate(f) for f in cores))


class ReturnOps:
    """Return scans over padded (E, T) arrays on one target; outputs are new arrays."""

    def __init__(self, target: str, drivers):
        self.target = target
        self._d = drivers

    def discounted_return(self, rewards, mask, gamma: float) -> np.ndarray:
        """(E,) sum_t gamma^t r_t."""
        out = np.zeros(rewards.shape[0])
        self._d.discounted_return(rewards, mask, float(gamma), out)
        return out

    def reward_to_go(self, rewards, mask, gamma: float) -> np.ndarray:
        """(E, T) sum_{t' >= t} gamma^(t' - t) r_t'."""
        out = np.zeros(rewards.shape)
        self._d.reward_to_go(rewards, mask, float(gamma), out)
        return out

    def td_errors(self, rewards, values, mask, gamma: float) -> np.ndarray:
        """(E, T) r_t + gamma V_{t+1} - V_t; ``values`` is (E, T + 1)."""
        out = np.zeros(rewards.shape)
        self._d.td_errors(rewards, values, mask, float(gamma), out)
        return out

    def gae(self, rewards, values, mask, gamma: float, lam: float) -> np.ndarray:
        """(E, T) GAE(gamma, lambda) advantages; ``values`` is (E, T + 1)."""
        out = np.zeros(rewards.shape)
        self._d.gae(rewards, values, mask, float(gamma), float(lam), out)
        return out

    def gae_segment(self, rewards, values, next_values, dones, gamma: float, lam: float):
        """(L, T) GAE(gamma, lambda) advantages of a training segment (see
        :class:`Segment`); all inputs (L, T), ``next_values`` as in the core."""
        out = np.zeros(rewards.shape)
        self._d.gae_segment(rewards, values, next_values, dones, float(gamma), float(lam), out)
        return out


@functools.cache
def build_returns(target: str = "parallel") -> ReturnOps:
    """Compiled return scans for ``target``."""
    if target not in TARGETS:
        raise InvalidSpecError(f"unknown kernel target {target!r}; use one of {TARGETS}")
    mod = _target_module(target)
    cores = _compile_all(mod.device_jit, returns.make_return_cores())
    if target == "cuda":
        return ReturnOps(target, mod.make_return_drivers(cores))
    return ReturnOps(target, mod.make_return_drivers(cores, parallel=(target == "parallel")))
