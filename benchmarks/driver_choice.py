"""Serial or parallel drivers: time per call of both over a range of work sizes.

The "parallel" target's kernels run a call on the serial drivers when it is small
(:mod:`pgbench.kernels.build`: ``SERIAL_BELOW_STEPS`` episodes x horizon for stream and
rollout, ``SERIAL_BELOW_CELLS`` rows x columns for the return scans, and always when the
call is a single prange iteration). This script times, per size, the serial target's
drivers against the parallel target's own drivers (``build.without_choice``: no routing),
both compiled and warmed up first, interleaved call by call (serial then parallel, then the
other order), and prints the median microseconds per call of each, their ratio, and which
the routed kernels pick.

Cases: ``stream``/``rollout`` on Pendulum-v1 x gaussian (no termination, so a call takes
exactly episodes x horizon steps), ``stream`` on CartPole-v1 x linear-softmax at its full
horizon (the issue's shape; episodes of ~70 steps, so the work is an upper bound), and the
``reward_to_go`` and ``gae`` scans over random (rows, columns) arrays.

How the thresholds were chosen (2 cores, Numba 0.68.1, omp threading layer over GNU
libgomp): ``python benchmarks/driver_choice.py`` on a quiet machine, and with ``--load``
(one core kept busy, as when another job shares the machine).

* Stream and rollout: a call of at most 1024 episodes is one block (``cpu.n_blocks_for``),
  which the parallel driver runs on one thread anyway: it was never faster than serial
  (0.98-1.47x serial's time quiet), and under ``--load`` it sometimes waited milliseconds for
  the busy core (E=1024, T=32: 7.2 ms against 0.66 ms serial). That is the issue's
  REINFORCE case (16 episodes per update). With two or more blocks, parallel took 0.51-0.61x
  serial's time on every call of at least 8192 steps (quiet); below that (a horizon of a few
  steps) it broke even at 1025 x 1 and saved at most ~40 us (stream) or ~100 us (rollout,
  4096 x 1). Hence
  ``SERIAL_BELOW_STEPS = 2**13``: a parallel call then does at least ~170 us of serial work,
  some 50x the ~3 us wake-up of the second thread.
* Return scans: the quiet crossover is 2^13-2^15 cells depending on the row width (narrow
  rows are cheaper per cell: 4096 x 8 was still 1.8x slower in parallel for reward-to-go,
  16 x 512 already 0.72x). Every call of at least 2^16 cells took 0.54-0.71x serial's time
  in parallel; below it the saving was at most ~10 us. Hence ``SERIAL_BELOW_CELLS = 2**16``.

Under ``--load`` the parallel drivers were at best even with serial and often several ms
slower (a timeslice of the busy core) at any size: the thresholds are set for a machine the
process has to itself; a process sharing the cores should run on one Numba thread (the
choice is then always serial) or inside ``serial_calls()``.

    python benchmarks/driver_choice.py              # the table (under a minute)
    python benchmarks/driver_choice.py --load       # the same with one core kept busy
    python benchmarks/driver_choice.py --only stream-pendulum --rounds 40
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

import pgbench

kb = importlib.import_module("pgbench.kernels.build")  # the module (pgbench.kernels.build is
# also the name of its function build, re-exported by pgbench.kernels)

# A moderately good CartPole policy (~70 steps per episode), as in benchmarks/gate_cases.py.
CARTPOLE_THETA = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 5.0, 1.0, 0.0)
EPISODES = (16, 128, 1024, 1025, 2048, 4096, 16384)
HORIZONS = (1, 8, 32, 200)
ROWS = (16, 256, 1024, 4096, 16384)
COLUMNS = (8, 64, 512)
MAX_WORK = 1 << 23  # larger calls take long and say nothing new


def _kernel_pair(env_name: str, policy_name: str):
    env = pgbench.make_env(env_name)
    policy = pgbench.make_policy(policy_name, env)
    parallel = kb.build(env, policy, "parallel")
    return env, policy, kb.build(env, policy, "serial"), kb.without_choice(parallel), parallel


def stream_cases(env_name, policy_name, theta, horizons):
    """(label, work, calls) per size; calls = (serial, parallel, routed) zero-arg callables."""
    env, policy, serial, parallel, routed = _kernel_pair(env_name, policy_name)
    theta = np.asarray(policy.init(0) if theta is None else theta, dtype=np.float64)
    for E in EPISODES:
        for T in horizons or (env.horizon,):
            if E * T > MAX_WORK:
                continue

            def calls(E=E, T=T):
                return tuple(
                    (lambda k=k: k.stream(env.params, theta, 1, E, T, env.gamma))
                    for k in (serial, parallel, routed)
                )

            yield f"E={E} T={T}", E * T, calls


def rollout_cases():
    env, policy, serial, parallel, routed = _kernel_pair("pendulum-v1", "gaussian")
    theta = np.asarray(policy.init(0), dtype=np.float64)
    for E in EPISODES:
        for T in HORIZONS:
            if E * T > MAX_WORK // 4:  # stores (E, T, P) scores
                continue

            def calls(E=E, T=T):
                return tuple(
                    (lambda k=k: k.rollout(env.params, theta, 1, E, T))
                    for k in (serial, parallel, routed)
                )

            yield f"E={E} T={T}", E * T, calls


def scan_cases(scan: str):
    serial = kb.build_returns("serial")
    routed = kb.build_returns("parallel")
    parallel = kb.without_choice(routed)
    rng = np.random.default_rng(0)
    for rows in ROWS:
        for cols in COLUMNS:
            if rows * cols > MAX_WORK:
                continue
            rewards = rng.normal(size=(rows, cols))
            mask = np.ones((rows, cols))
            values = rng.normal(size=(rows, cols + 1))

            def calls(r=rewards, m=mask, v=values):
                if scan == "gae":
                    return tuple(
                        (lambda o=o: o.gae(r, v, m, 0.99, 0.95)) for o in (serial, parallel, routed)
                    )
                return tuple(
                    (lambda o=o: o.reward_to_go(r, m, 0.99)) for o in (serial, parallel, routed)
                )

            yield f"rows={rows} cols={cols}", rows * cols, calls


CASES: dict[str, Callable] = {
    "stream-pendulum": lambda: stream_cases("pendulum-v1", "gaussian", None, HORIZONS),
    "stream-cartpole": lambda: stream_cases("cartpole-v1", "linear-softmax", CARTPOLE_THETA, ()),
    "rollout-pendulum": rollout_cases,
    "reward-to-go": lambda: scan_cases("reward_to_go"),
    "gae": lambda: scan_cases("gae"),
}


def _time(call) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def measure(calls, rounds: int) -> tuple[float, float, str]:
    """(serial us, parallel us, routed driver) medians over ``rounds`` interleaved pairs,
    each pair at least ~1 ms of calls per side."""
    serial, parallel, routed = calls()
    routed()
    chosen = kb.last_driver()
    for _ in range(3):  # warm up: compile / load, fault in the arrays, start the threads
        serial(), parallel()
    per_pair = max(1, int(1e-3 / max(_time(serial), 1e-7)))
    s_times, p_times = [], []
    for r in range(rounds):
        order = ((serial, s_times), (parallel, p_times))
        for call, out in order if r % 2 == 0 else order[::-1]:
            out.extend(_time(call) for _ in range(per_pair))
    return statistics.median(s_times) * 1e6, statistics.median(p_times) * 1e6, chosen


def _spin(stop) -> None:
    while not stop.is_set():
        pass


@contextlib.contextmanager
def busy_core(on: bool):
    """A process spinning on one core for the duration (``on``), else nothing."""
    if not on:
        yield
        return
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_spin, args=(stop,), daemon=True)
    proc.start()
    try:
        yield
    finally:
        stop.set()
        proc.join(5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="interleaved pairs per size")
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="cases to run")
    ap.add_argument("--load", action="store_true", help="keep one core busy meanwhile")
    args = ap.parse_args(argv)
    import numba

    print(
        f"numba {numba.__version__}, {numba.get_num_threads()} threads, thresholds: "
        f"steps {kb.SERIAL_BELOW_STEPS}, cells {kb.SERIAL_BELOW_CELLS}"
        + (", one core busy" if args.load else "")
    )
    print(f"{'case':<18} {'size':<18} {'work':>9} {'serial us':>10} {'parallel us':>12} "
          f"{'par/ser':>8}  routed")  # fmt: skip
    with busy_core(args.load):
        for name in args.only or CASES:
            for label, work, calls in CASES[name]():
                s, p, chosen = measure(calls, args.rounds)
                print(
                    f"{name:<18} {label:<18} {work:>9} {s:>10.1f} {p:>12.1f} {p / s:>8.2f}  "
                    f"{chosen}",
                    flush=True,
                )
    print(f"threading layer: {numba.threading_layer()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
