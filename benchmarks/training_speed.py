"""Training speed, side by side: pgbench ``ppo-clip`` / ``a2c`` against Stable-Baselines3.

One process, one machine, one thread each (BLAS and torch pinned to 1): for every
seed, pgbench trains with the RL-zoo's CartPole-v1 settings, then SB3 trains with
the same settings (:mod:`sb3_reference` builds the SB3 models), alternating so that
a slow patch of the machine slows both. The figure of merit is the ratio of env
steps per second of training (evaluation time excluded on both sides), per seed and
as the median over seeds::

    python benchmarks/training_speed.py --steps 50000 --seeds 0 1 2 --json speed.json

Without SB3 installed (``pip install -e .[sb3]``) only pgbench's figures are printed.
Absolute steps/s vary between machines several-fold; the ratios are what
``BENCHMARKS.md`` records.

pgbench settings (``suites/algorithms.yaml`` uses the same):

* ``ppo-clip``: 8 envs, n_steps 32, batch 256, 20 epochs, gamma 0.98, GAE lambda 0.8,
  Adam lr 1e-3 linear to 0 (eps 1e-5), clip 0.2 linear to 0, max grad norm 0.5,
  64x64 tanh policy (``mlp-softmax``) and critic.
* ``a2c``: 8 envs, n_steps 5, gamma 0.99, n-step returns, RMSprop lr 7e-4 (alpha 0.99,
  eps 1e-5), max grad norm 0.5, ent_coef 0, 64x64 tanh policy and critic.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy / torch load their thread pools

sys.path.insert(0, str(Path(__file__).resolve().parent))

PGBENCH_SETTINGS = {
    "ppo": (
        "ppo-clip",
        dict(
            n_envs=8,
            n_steps=32,
            batch_size=256,
            n_epochs=20,
            gamma=0.98,
            gae_lambda=0.8,
            clip_range=0.2,
            clip_schedule="linear",
            ent_coef=0.0,
            optimizer=dict(kind="adam", lr=1e-3, schedule="linear", eps=1e-5, max_grad_norm=0.5),
        ),
    ),
    "a2c": ("a2c", dict(n_envs=8, n_steps=5, ent_coef=0.0)),
}


def pgbench_seed(algo: str, seed: int, steps: int) -> dict:
    """Train pgbench's version of ``algo`` for ``steps`` env steps without evaluation."""
    import pgbench

    name, params = PGBENCH_SETTINGS[algo]
    env = pgbench.make_env("cartpole-v1")
    policy = pgbench.make_policy("mlp-softmax", env, hidden=[64, 64])
    t0 = time.perf_counter()
    theta, history = pgbench.train(
        name, env, policy, steps, seed, log_every=steps, eval_episodes=0, **params
    )
    wall = time.perf_counter() - t0
    final = pgbench.evaluate(env, policy, theta, episodes=10, seed=10_000 + seed)
    seconds = history[history["metric"] == "seconds"]["value"].max()
    return {
        "steps_per_s": steps / wall,
        "train_s": wall,
        "seconds_metric": seconds,
        "final_eval": final,
    }


def sb3_seed(algo: str, seed: int, steps: int) -> dict | None:
    try:
        import sb3_reference
    except ImportError:
        return None
    try:
        run = sb3_reference.run_seed(algo, seed, steps, eval_freq=0, eval_episodes=10)
    except ImportError:
        return None
    return {k: run[k] for k in ("steps_per_s", "train_s", "final_eval", "other_cores_during")}


def warm_up(algos) -> bool:
    """Compile pgbench's kernels and load torch's before anything is timed; SB3 found?"""
    for algo in algos:
        pgbench_seed(algo, 12345, 2048)
    try:
        import sb3_reference
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        for algo in algos:
            sb3_reference._warmup(algo)
        return True
    except ImportError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", nargs="+", choices=tuple(PGBENCH_SETTINGS), default=["ppo", "a2c"])
    ap.add_argument("--steps", type=int, default=50_000, help="env steps per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", type=Path, default=None, help="write every run here")
    args = ap.parse_args(argv)

    have_sb3 = warm_up(args.algo)
    out: dict = {"command": " ".join(["python", *sys.argv]), "steps": args.steps, "runs": []}
    print(f"{'algo':5} {'seed':>4} {'pgbench s/s':>12} {'SB3 s/s':>9} {'ratio':>7}")
    for algo in args.algo:
        for seed in args.seeds:
            ours = pgbench_seed(algo, seed, args.steps)
            theirs = sb3_seed(algo, seed, args.steps) if have_sb3 else None
            ratio = ours["steps_per_s"] / theirs["steps_per_s"] if theirs else None
            out["runs"].append(
                {"algo": algo, "seed": seed, "pgbench": ours, "sb3": theirs, "ratio": ratio}
            )
            sb3_txt = f"{theirs['steps_per_s']:9.0f}" if theirs else f"{'-':>9}"
            ratio_txt = f"{ratio:7.2f}" if ratio else f"{'-':>7}"
            print(f"{algo:5} {seed:4d} {ours['steps_per_s']:12.0f} {sb3_txt} {ratio_txt}")
    for algo in args.algo:
        runs = [r for r in out["runs"] if r["algo"] == algo]
        ours = statistics.median(r["pgbench"]["steps_per_s"] for r in runs)
        line = f"{algo}: pgbench median {ours:.0f} steps/s"
        if have_sb3:
            theirs = statistics.median(r["sb3"]["steps_per_s"] for r in runs)
            ratio = statistics.median(r["ratio"] for r in runs)
            line += f", SB3 {theirs:.0f} steps/s, median ratio {ratio:.2f}x"
        print(line)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
