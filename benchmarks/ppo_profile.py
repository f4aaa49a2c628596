"""Where the time of a PPO run goes: PureJaxRL's CartPole settings, profiled by part.

Trains ``ppo-clip`` (4 envs x 128 steps, 4 epochs of 4 minibatches of 128, 64x64 tanh
policy and critic, Adam 2.5e-4 linear, as ``benchmarks/peer_purejaxrl.py`` but with the
plain value loss, vf_coef 0.5, which revisions before ``value_clip_range`` accept) under
cProfile after a warm-up, BLAS on one thread, and sums the profile's own time per part:

* ``rollout``: the segment kernel (env steps and the lane MLP);
* ``network passes``: batched forward / backward kernels called from Python;
* ``optimizer``: the Adam step kernel called from Python;
* ``fused epochs``: the compiled update of every epoch and minibatch (when fused);
* ``python``: everything else (the interpreter between kernels, numpy temporaries).

Run it in any checkout (it imports the pgbench found first on ``sys.path``)::

    python benchmarks/ppo_profile.py --steps 100000 [--precision float32] [--json out.json]
    PYTHONPATH=/path/to/other/checkout python benchmarks/ppo_profile.py --steps 100000

The same command in two checkouts, alternately, gives the before / after table of
BENCHMARKS.md. Shares differ between machines; read them as ratios.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
import warnings

from threadpoolctl import threadpool_limits

HP = dict(
    n_envs=4, n_steps=128, batch_size=128, n_epochs=4, gamma=0.99, gae_lambda=0.95,
    clip_range=0.2, ent_coef=0.01, vf_coef=0.5,
    optimizer=dict(kind="adam", lr=2.5e-4, schedule="linear", eps=1e-5, max_grad_norm=0.5),
)  # fmt: skip

PARTS = {
    "rollout": ("kernels/cpu.py", "segment"),
    "network passes": ("kernels/nets.py", None),
    "optimizer": ("kernels/optim.py", None),
    "fused epochs": ("kernels/fused", None),
}


def part_of(filename: str, func: str) -> str:
    for part, (where, name) in PARTS.items():
        if where in filename.replace("\\", "/") and (name is None or name == func):
            return part
    return "python"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--precision", default=None, help="float32 (fused path only)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import pgbench

    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[64, 64])
    hp = dict(HP)
    if args.precision:
        hp["precision"] = args.precision

    def train(steps, seed):
        return pgbench.train(
            "ppo-clip", env, policy, steps, seed, log_every=steps, eval_episodes=0, **hp
        )

    with threadpool_limits(1, user_api="blas"):
        train(4096, 1)  # compile / load every kernel
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        train(args.steps, 0)
        prof.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats
    seconds = dict.fromkeys([*PARTS, "python"], 0.0)
    for (filename, _, func), (_, _, tottime, _, _) in stats.items():
        seconds[part_of(filename, func)] += tottime
    total = sum(seconds.values())
    print(f"pgbench {pgbench.__file__}")
    print(f"{args.steps} env steps in {wall:.2f} s under the profiler ({args.steps / wall:,.0f} "
          f"steps/s)")  # fmt: skip
    for part, s in seconds.items():
        print(f"  {part:15} {s:6.3f} s  {100 * s / total:5.1f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": args.steps, "wall": wall, "seconds": seconds}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
