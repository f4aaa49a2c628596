"""build(env, policy, target) -> compiled kernels: where cores meet a decorator.

Targets: ``"serial"`` (njit), ``"parallel"`` (njit with prange) and ``"cuda"``
(numba-cuda, one thread per lane; imported lazily from :mod:`.cuda`).
Cores are undecorated functions from :mod:`pgbench.envs`, :mod:`pgbench.policies`
and this package; each layer is compiled with the target's device decorator
and handed to the next through closures, never through module globals.

Driver choice: the ``"parallel"`` target's :class:`Kernels` and :class:`ReturnOps` run a
call on the serial target's drivers when it is too small to split (one block of episodes,
fewer than ``SERIAL_BELOW_*`` units of work), when this process runs Numba on one thread,
and for every call of a thread inside :func:`serial_calls`. Results are the same bit for bit
either way (each episode and each row is computed alone); only the time differs.
(Over 400 lines: the output containers and the two call-routing classes live beside
``build``; splitting them out is a mechanical move.)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
from numba import get_num_threads

import pgbench.kernels.cpu as cpu
import pgbench.kernels.draws as draws
import pgbench.kernels.mathcore as mathcore
import pgbench.kernels.returns as returns
import pgbench.kernels.rng as rng
from pgbench.errors import InvalidSpecError
from pgbench.kernels.episodes import make_episode_cores
from pgbench.kernels.fingerprint import fingerprint

TARGETS = ("serial", "parallel", "cuda")

# Work below which the "parallel" target runs a call on the serial drivers; measured with
# benchmarks/driver_choice.py (its docstring says how). Episodes x horizon for stream and
# rollout (an upper bound on the steps: a call cannot know its episodes' lengths before it
# runs); rows x columns for the return scans.
SERIAL_BELOW_STEPS = 1 << 13
SERIAL_BELOW_CELLS = 1 << 16

_THREAD = threading.local()  # serial_depth: open serial_calls() blocks; last: see last_driver


@contextlib.contextmanager
def serial_calls():
    """Within the block, every kernel call made by this thread runs on serial drivers.

    For threads that call kernels at the same time (seeds trained side by side): each then
    stays on its own core, and no two threads enter a parallel region at once (Numba's
    ``workqueue`` threading layer does not allow it). Other threads are not affected;
    blocks nest. Results are unchanged.
    """
    depth = getattr(_THREAD, "serial_depth", 0)
    _THREAD.serial_depth = depth + 1
    try:
        yield
    finally:
        _THREAD.serial_depth = depth


def last_driver() -> str | None:
    """Which drivers ("serial", "parallel", "cuda") ran this thread's last Kernels or
    ReturnOps call; None before the first. A hook for tests of the driver choice."""
    return getattr(_THREAD, "last", None)


def _serial_wanted(work: int, splits: int, below: int) -> bool:
    """Whether a parallel-target call of ``work`` units over ``splits`` independent parts
    (prange iterations) should run serially."""
    return (
        splits < 2
        or work < below
        or getattr(_THREAD, "serial_depth", 0) > 0
        or get_num_threads() == 1
    )


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
    """Compiled kernels for one (environment cores, policy cores, target).

    ``serial``: for the parallel target, a function returning the serial target's Kernels
    of the same pair, called on the first call small enough to run there (see
    :func:`_serial_wanted`); None: every call runs on ``drivers``.
    """

    def __init__(self, target: str, dims, drivers, continuous: bool = False, serial=None):
        self.target = target
        self.dims = dims
        self.continuous = continuous
        self.action_dtype = np.float64 if continuous else np.int64
        self._drivers = drivers
        self._stream = drivers.stream
        self._rollout = drivers.rollout
        self._segment = drivers.segment
        self._reset_lanes = drivers.reset_lanes
        self._make_serial = serial
        self._serial: Kernels | None = None

    def _runner(self, n_episodes: int, horizon: int) -> Kernels | None:
        """The serial Kernels if a call of ``n_episodes`` x ``horizon`` should run there,
        else None (run here, noted for :func:`last_driver`)."""
        if self._make_serial is not None and _serial_wanted(
            n_episodes * horizon, cpu.n_blocks_for(n_episodes), SERIAL_BELOW_STEPS
        ):
            if self._serial is None:  # compiled (or loaded from disk) on first use
                self._serial = self._make_serial()
            return self._serial
        _THREAD.last = self.target
        return None

    def stream(
        self, ep, theta, seed: int, n_episodes: int, horizon: int, gamma: float
    ) -> EpisodeSums:
        """Per-episode sums of ``n_episodes`` episodes of at most ``horizon`` steps."""
        serial = self._runner(n_episodes, horizon)
        if serial is not None:
            return serial.stream(ep, theta, seed, n_episodes, horizon, gamma)
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
        serial = self._runner(n_episodes, horizon)
        if serial is not None:
            return serial.rollout(ep, theta, seed, n_episodes, horizon, scores)
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
        an episode when it terminates or reaches ``horizon`` steps. (The segment driver
        is serial on every CPU target: training segments are a few lanes.)"""
        _THREAD.last = "cuda" if self.target == "cuda" else "serial"
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
    recipe = _Recipe(
        fingerprint(env.make_cores), fingerprint(policy.make_cores),
        env.make_cores, policy.make_cores, dims, env.continuous,
    )  # fmt: skip
    return _built(recipe, target)


class _Recipe(NamedTuple):
    """What compiled kernels are made from: the two core factories (and their
    fingerprints, the memo key), the dimensions and the action kind."""

    env_key: str
    policy_key: str
    make_env_cores: object
    make_policy_cores: object
    dims: tuple
    continuous: bool


def _built(recipe: _Recipe, target: str) -> Kernels:
    key = (recipe.env_key, recipe.policy_key, target)
    if key not in _BUILT:
        _BUILT[key] = _build(recipe, target)
    return _BUILT[key]


def _build(recipe: _Recipe, target: str) -> Kernels:
    mod = _target_module(target)
    lib = target_lib(target)
    dims = recipe.dims
    env_c = _compile_tuple(mod.device_jit, recipe.make_env_cores(lib))
    pol_c = _compile_tuple(mod.device_jit, recipe.make_policy_cores(lib))
    lane = _compile_all(mod.device_jit, make_episode_cores(lib, env_c, pol_c, dims))
    if target == "cuda":
        return Kernels(target, dims, mod.make_drivers(lane, dims), recipe.continuous)
    parallel = target == "parallel"
    drivers = mod.make_drivers(lane, dims, parallel=parallel)
    serial = functools.partial(_built, recipe, "serial") if parallel else None
    return Kernels(target, dims, drivers, recipe.continuous, serial=serial)


def without_choice(ops):
    """``ops`` (Kernels or ReturnOps) running every call on its own target's drivers,
    whatever its size: for benchmarks/driver_choice.py, which times both kinds."""
    if isinstance(ops, Kernels):
        return Kernels(ops.target, ops.dims, ops._drivers, ops.continuous)
    return ReturnOps(ops.target, ops._d)


def _compile_tuple(decorate, cores):
    return type(cores)(*(decorate(f) for f in cores))


class ReturnOps:
    """Return scans over padded (E, T) arrays on one target; outputs are new arrays.

    ``serial``: for the parallel target, a function returning the serial target's
    ReturnOps, used for calls of fewer than ``SERIAL_BELOW_CELLS`` cells (or one row); None:
    every call runs on ``drivers``.
    """

    def __init__(self, target: str, drivers, serial=None):
        self.target = target
        self._d = drivers
        self._serial = serial

    def _drivers(self, rewards):
        """The drivers a scan over ``rewards`` (E, T) runs on."""
        rows = rewards.shape[0]
        if self._serial is not None and _serial_wanted(rewards.size, rows, SERIAL_BELOW_CELLS):
            _THREAD.last = "serial"
            return self._serial()._d
        _THREAD.last = self.target
        return self._d

    def discounted_return(self, rewards, mask, gamma: float) -> np.ndarray:
        """(E,) sum_t gamma^t r_t."""
        out = np.zeros(rewards.shape[0])
        self._drivers(rewards).discounted_return(rewards, mask, float(gamma), out)
        return out

    def reward_to_go(self, rewards, mask, gamma: float) -> np.ndarray:
        """(E, T) sum_{t' >= t} gamma^(t' - t) r_t'."""
        out = np.zeros(rewards.shape)
        self._drivers(rewards).reward_to_go(rewards, mask, float(gamma), out)
        return out

    def td_errors(self, rewards, values, mask, gamma: float) -> np.ndarray:
        """(E, T) r_t + gamma V_{t+1} - V_t; ``values`` is (E, T + 1)."""
        out = np.zeros(rewards.shape)
        self._drivers(rewards).td_errors(rewards, values, mask, float(gamma), out)
        return out

    def gae(self, rewards, values, mask, gamma: float, lam: float) -> np.ndarray:
        """(E, T) GAE(gamma, lambda) advantages; ``values`` is (E, T + 1)."""
        out = np.zeros(rewards.shape)
        self._drivers(rewards).gae(rewards, values, mask, float(gamma), float(lam), out)
        return out

    def gae_segment(self, rewards, values, next_values, dones, gamma: float, lam: float):
        """(L, T) GAE(gamma, lambda) advantages of a training segment (see
        :class:`Segment`); all inputs (L, T), ``next_values`` as in the core."""
        out = np.zeros(rewards.shape)
        d = self._drivers(rewards)
        d.gae_segment(rewards, values, next_values, dones, float(gamma), float(lam), out)
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
    if target == "serial":
        return ReturnOps(target, mod.make_return_drivers(cores, parallel=False))
    serial = functools.partial(build_returns, "serial")  # memoized: built on first use
    return ReturnOps(target, mod.make_return_drivers(cores, parallel=True), serial=serial)
