"""The price of the Gymnasium path: CartPole-v1 both ways, in one run on one machine.

The same environment, stepped by pgbench's native Numba cores (``cartpole-v1``) and
through the Gymnasium adapter (``{name: gymnasium, params: {id: CartPole-v1}}``:
``SyncVectorEnv`` copies with autoreset disabled, keyed resets, the policy's
batched passes), for the three things pgbench does with episodes:

* ``estimate``: the per-episode score and return sums of a REINFORCE estimate from
  2,000 episodes (the streaming kernel natively; 16 or 64 Gymnasium copies);
* ``segment``: the training rollouts of ``ppo-clip`` (8 lanes x 128 steps, no scores);
* ``train``: ``ppo-clip`` with a 64x64 policy, 50,000 env steps, its steps/s of
  training (evaluation and compilation excluded on both sides).

Each case is warmed up first, then timed ``--repeats`` times (median). BLAS is pinned to
one thread. Run::

    python benchmarks/gymnasium_path.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pgbench  # noqa: E402
from pgbench.kernels import build  # noqa: E402
from pgbench.sampling import Sampler  # noqa: E402

EPISODES = 2000
LANES, STEPS = 8, 128
TRAIN_STEPS = 50_000


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (compilation, pooled copies)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def estimate_case(env, repeats: int) -> float:
    """Steps/s of the episode sums a REINFORCE estimate reads (score and return sums)."""
    policy = pgbench.make_policy("linear-softmax", env)
    theta = policy.init(0)
    sampler = Sampler(env, policy)
    seconds, sums = timed(lambda: sampler.episode_sums(theta, EPISODES, 1), repeats)
    return int(sums.lengths.sum()) / seconds


def segment_case(env, repeats: int) -> float:
    policy = pgbench.make_policy("mlp-softmax", env)
    theta = policy.init(0)
    kernels = build(env, policy, "parallel")
    lanes = kernels.start_lanes(env.params, 0, LANES)
    seconds, _ = timed(lambda: kernels.segment(env.params, theta, lanes, STEPS, 500), repeats)
    return LANES * STEPS / seconds


def train_case(env, repeats: int) -> float:
    policy = pgbench.make_policy("mlp-softmax", env)
    rates = []
    for seed in range(repeats):
        _, curve = pgbench.train(
            "ppo-clip",
            env,
            policy,
            env_steps=TRAIN_STEPS,
            seed=seed,
            n_envs=8,
            n_steps=128,
            batch_size=256,
            n_epochs=4,
            eval_episodes=0,
        )
        last = curve[curve.metric == "seconds"].value.iloc[-1]
        steps = curve[curve.metric == "env_steps"].value.iloc[-1]
        rates.append(steps / last)
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    envs = {
        "native cartpole-v1": pgbench.make_env("cartpole-v1"),
        "gymnasium CartPole-v1 (16 copies)": pgbench.make_env("gymnasium", id="CartPole-v1"),
        "gymnasium CartPole-v1 (64 copies)": pgbench.make_env(
            "gymnasium", id="CartPole-v1", max_lanes=64
        ),
    }
    rows = []
    for label, env in envs.items():
        est = estimate_case(env, args.repeats)
        seg = segment_case(env, args.repeats) if "64" not in label else float("nan")
        train = train_case(env, args.repeats) if "64" not in label else float("nan")
        rows.append((label, est, seg, train))
        print(
            f"{label:36s} estimate {est:12,.0f}  segment {seg:12,.0f}  train {train:10,.0f}",
            flush=True,
        )
    base = rows[0]
    print("\n| path | estimate steps/s | segment steps/s | ppo-clip train steps/s |")
    print("|---|---:|---:|---:|")
    for label, est, seg, train in rows:
        cells = []
        for v, b in ((est, base[1]), (seg, base[2]), (train, base[3])):
            cells.append("-" if np.isnan(v) else f"{v:,.0f} ({v / b:.3g}x)")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
