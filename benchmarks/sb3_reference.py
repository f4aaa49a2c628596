"""Stable-Baselines3 reference for issue 4's "Speed" bullet: PPO and A2C on CartPole-v1.

Trains SB3 on Gymnasium ``CartPole-v1`` with the RL-baselines3-zoo's tuned CartPole-v1
hyperparameters and measures, per seed, what pgbench's ``ppo-clip`` and ``a2c`` are
compared against: env steps/s, the split of training time between rollout collection
and updates, and the env steps at which a deterministic evaluation first reaches 475.

Usage (SB3 is an optional dependency: ``pip install -e .[sb3]``)::

    python benchmarks/sb3_reference.py --algo ppo --steps 100000 --seeds 0 1 2 --json ppo.json
    python benchmarks/sb3_reference.py --algo a2c --steps 100000 --seeds 0 1 2 --json a2c.json
    python benchmarks/sb3_reference.py --algo ppo a2c --seeds 0 1 2 --json sb3.json   # both

This is a script, not a pytest file (pytest does not collect it).

Hyperparameters
---------------
Source: DLR-RM/rl-baselines3-zoo, ``hyperparams/ppo.yml`` and ``hyperparams/a2c.yml``,
``CartPole-v1`` entries (unchanged across the zoo's recent commits, e.g. 208b6fd for
ppo.yml and c6c209e for a2c.yml). ``lin_X`` is the zoo's ``rl_zoo3.utils.linear_schedule``:
``progress_remaining * X``, i.e. linear from X to 0 over the run. Keys the zoo leaves out
take SB3's defaults (SB3 2.9.2 ``PPO.__init__`` / ``A2C.__init__`` and ``MlpPolicy``),
listed below so nothing is implicit.

PPO (zoo: n_envs 8, n_timesteps 1e5, MlpPolicy, n_steps 32, batch_size 256,
gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0.0, learning_rate lin_0.001,
clip_range lin_0.2; SB3 defaults: vf_coef 0.5, max_grad_norm 0.5,
normalize_advantage True, clip_range_vf None, Adam eps 1e-5). 256 env steps per update,
20 epochs of 1 minibatch of 256 each.

A2C (zoo: n_envs 8, n_timesteps 5e5, MlpPolicy, ent_coef 0.0; SB3 defaults: n_steps 5,
gamma 0.99, gae_lambda 1.0, learning_rate 7e-4 constant, vf_coef 0.5,
max_grad_norm 0.5, RMSprop(alpha 0.99, eps 1e-5), normalize_advantage False).
40 env steps per update. The zoo trains A2C for 5e5 steps; this script's ``--steps``
defaults to 1e5 for both so the two algorithms are timed on the same budget.

Policy (SB3 ``MlpPolicy`` default for PPO/A2C): Flatten features, separate policy and
value MLPs of 64x64 with tanh, orthogonal init (gains sqrt(2), 0.01 policy head,
1 value head), categorical action head.

Environments: the training env is ``make_vec_env("CartPole-v1", n_envs=8, seed=seed,
vec_env_cls=DummyVecEnv)`` (each sub-env wrapped in Monitor, as the zoo does); no
normalization (the zoo sets none for CartPole). The eval env is a separate
``DummyVecEnv`` of one Monitor-wrapped ``CartPole-v1`` seeded with ``seed + 10_000``.
``device="cpu"``.

Measurement
-----------
* ``collect_rollouts`` and ``train`` of the model instance are wrapped with
  ``time.perf_counter`` timers. ``rollout_s`` is everything inside ``collect_rollouts``
  (policy forward, env steps, buffer, GAE); ``update_s`` is everything inside ``train``
  (minibatching, forward/backward, optimizer). ``other_s`` is the rest of ``learn``
  (SB3's logging and bookkeeping between the two).
* ``train_s`` = wall time of ``model.learn`` minus evaluation time, and
  ``steps_per_s`` = env steps / ``train_s``. ``wall_s`` is the whole seed, including
  building the model and envs and every evaluation.
* Evaluation: after the update that follows the first rollout reaching each multiple
  of ``--eval-freq`` env steps (default 10k), and therefore also after the final update,
  the current policy is run deterministically (argmax) for ``--eval-episodes``
  (default 10) episodes on the eval env, with ``evaluate_policy``; the recorded step is
  the actual env step count at that point (e.g. 10240 for PPO, whose updates come every
  256 steps). ``steps_to_475`` is the step of the first evaluation with mean return
  >= 475 (None if never); ``final_eval`` is the evaluation of the final policy.
  Evaluation is deterministic and uses its own env RNG, so it does not change training.
* Before the first timed seed, a short untimed warm-up run (two updates) loads
  torch's kernels so the first seed is not charged for them.
* Machine load: ``other_cores_before`` (a 0.5 s sample before the seed) and
  ``other_cores_during`` are the cores that *other* processes kept busy, from
  ``/proc/stat`` minus this process's CPU time. A seed with more than 0.2 is flagged:
  with 2 torch threads on 2 cores, one other busy process can slow SB3's PPO updates
  more than 10x (OpenMP threads wait on a descheduled peer), so only runs on an
  otherwise idle machine are comparable. ``--wait-idle S`` waits up to S seconds for
  the machine to go idle before each seed, and ``--retries N`` reruns a flagged seed
  up to N times (training is deterministic per seed and thread count, so a rerun
  changes only the timings). Each run records ``clean``; the summary counts them.

Thread pinning (for a fair comparison on the same cores)
--------------------------------------------------------
Before numpy or torch are imported, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``NUMEXPR_NUM_THREADS`` are set to ``--threads`` (default 2,
the machine's core count), then ``torch.set_num_threads(threads)`` and
``torch.set_num_interop_threads(1)`` are called. SB3 and the envs run in this one process
(DummyVecEnv, no subprocesses), so SB3 uses at most ``--threads`` compute threads, the
same 2 cores pgbench gets when run with ``NUMBA_NUM_THREADS=2``. Process CPU seconds
are recorded next to wall seconds (``cpu_s``) to show how many cores were used.
``--threads 1`` checks whether SB3 is faster single-threaded, and it is here: on an idle
2-core AMD EPYC (SB3 2.9.2, torch 2.13.0 CPU), PPO ran at a median 6.8k steps/s with 1
thread against 6.2k with 2, and A2C at 15.1k with either. Compare pgbench with SB3's
faster setting, and run both on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

ALGOS = ("ppo", "a2c")
EVAL_THRESHOLD = 475.0
BUSY_LIMIT = 0.2  # cores used by other processes above which a seed's timing is not clean


def _pin_threads(threads: int) -> None:
    """Set thread-count env vars; must run before numpy/torch are imported."""
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        os.environ[var] = str(threads)


def linear_schedule(initial_value: float):
    """rl_zoo3.utils.linear_schedule: ``progress_remaining * initial_value``."""

    def func(progress_remaining: float) -> float:
        return progress_remaining * initial_value

    return func


def zoo_hyperparams(algo: str) -> dict[str, Any]:
    """RL-zoo CartPole-v1 hyperparameters with SB3's defaults made explicit."""
    if algo == "ppo":
        return dict(
            n_envs=8,
            n_steps=32,
            batch_size=256,
            n_epochs=20,
            gamma=0.98,
            gae_lambda=0.8,
            learning_rate="lin_0.001",
            clip_range="lin_0.2",
            ent_coef=0.0,
            vf_coef=0.5,
            max_grad_norm=0.5,
            normalize_advantage=True,
            policy="MlpPolicy (pi 64x64 tanh, vf 64x64 tanh, separate)",
            optimizer="Adam(eps=1e-5)",
        )
    if algo == "a2c":
        return dict(
            n_envs=8,
            n_steps=5,
            gamma=0.99,
            gae_lambda=1.0,
            learning_rate=7e-4,
            ent_coef=0.0,
            vf_coef=0.5,
            max_grad_norm=0.5,
            use_rms_prop=True,
            rms_prop_eps=1e-5,
            normalize_advantage=False,
            policy="MlpPolicy (pi 64x64 tanh, vf 64x64 tanh, separate)",
            optimizer="RMSprop(alpha=0.99, eps=1e-5)",
        )
    raise ValueError(f"unknown algo {algo!r}; expected one of {ALGOS}")


def _schedule(value):
    if isinstance(value, str) and value.startswith("lin_"):
        return linear_schedule(float(value[4:]))
    return value


def build_model(algo: str, seed: int):
    """SB3 model and its vectorised training env, exactly as configured above."""
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    hp = zoo_hyperparams(algo)
    env = make_vec_env("CartPole-v1", n_envs=hp["n_envs"], seed=seed, vec_env_cls=DummyVecEnv)
    common = dict(
        n_steps=hp["n_steps"],
        gamma=hp["gamma"],
        gae_lambda=hp["gae_lambda"],
        learning_rate=_schedule(hp["learning_rate"]),
        ent_coef=hp["ent_coef"],
        vf_coef=hp["vf_coef"],
        max_grad_norm=hp["max_grad_norm"],
        normalize_advantage=hp["normalize_advantage"],
        seed=seed,
        device="cpu",
        verbose=0,
    )
    if algo == "ppo":
        model = PPO(
            "MlpPolicy",
            env,
            batch_size=hp["batch_size"],
            n_epochs=hp["n_epochs"],
            clip_range=_schedule(hp["clip_range"]),
            **common,
        )
    else:
        model = A2C(
            "MlpPolicy",
            env,
            use_rms_prop=hp["use_rms_prop"],
            rms_prop_eps=hp["rms_prop_eps"],
            **common,
        )
    return model


def _make_eval_env(seed: int):
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = DummyVecEnv([lambda: Monitor(gym.make("CartPole-v1"))])
    env.seed(seed)
    return env


class _Instrument:
    """Times ``collect_rollouts`` and ``train`` and evaluates after updates."""

    def __init__(self, model, eval_env, eval_freq: int, eval_episodes: int):
        from stable_baselines3.common.evaluation import evaluate_policy

        self.model = model
        self.eval_env = eval_env
        self.eval_freq = eval_freq
        self.eval_episodes = eval_episodes
        self._evaluate_policy = evaluate_policy
        self.rollout_s = 0.0
        self.update_s = 0.0
        self.eval_s = 0.0
        self.n_rollouts = 0
        self.n_updates = 0
        self.evals: list[dict[str, float]] = []
        self._next_eval = eval_freq
        self._orig_collect = model.collect_rollouts
        self._orig_train = model.train
        model.collect_rollouts = self._collect
        model.train = self._train

    def _collect(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self._orig_collect(*args, **kwargs)
        self.rollout_s += time.perf_counter() - t0
        self.n_rollouts += 1
        return out

    def _train(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self._orig_train(*args, **kwargs)
        self.update_s += time.perf_counter() - t0
        self.n_updates += 1
        if self.eval_freq > 0 and self.model.num_timesteps >= self._next_eval:
            self.evaluate()
            while self._next_eval <= self.model.num_timesteps:
                self._next_eval += self.eval_freq
        return out

    def evaluate(self) -> dict[str, float]:
        t0 = time.perf_counter()
        mean, std = self._evaluate_policy(
            self.model,
            self.eval_env,
            n_eval_episodes=self.eval_episodes,
            deterministic=True,
        )
        self.eval_s += time.perf_counter() - t0
        rec = {"step": int(self.model.num_timesteps), "mean": float(mean), "std": float(std)}
        self.evals.append(rec)
        return rec


def run_seed(algo: str, seed: int, steps: int, eval_freq: int, eval_episodes: int) -> dict:
    snap0 = _cpu_snapshot()
    time.sleep(0.5)
    snap1 = _cpu_snapshot()
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    model = build_model(algo, seed)
    eval_env = _make_eval_env(seed + 10_000)
    inst = _Instrument(model, eval_env, eval_freq, eval_episodes)

    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    learn_s = time.perf_counter() - t0
    if not inst.evals or inst.evals[-1]["step"] != model.num_timesteps:
        inst.evaluate()  # --eval-freq 0, or the last update missed the schedule
    wall_s = time.perf_counter() - t_start
    cpu_s = time.process_time() - cpu_start
    snap2 = _cpu_snapshot()

    train_s = learn_s - inst.eval_s
    env_steps = int(model.num_timesteps)
    first = next((e["step"] for e in inst.evals if e["mean"] >= EVAL_THRESHOLD), None)
    eval_env.close()
    model.env.close()
    return {
        "algo": algo,
        "seed": seed,
        "env_steps": env_steps,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "train_s": train_s,
        "rollout_s": inst.rollout_s,
        "update_s": inst.update_s,
        "other_s": train_s - inst.rollout_s - inst.update_s,
        "eval_s": inst.eval_s,
        "n_rollouts": inst.n_rollouts,
        "n_updates": inst.n_updates,
        "steps_per_s": env_steps / train_s,
        "rollout_s_per_100k": inst.rollout_s * 1e5 / env_steps,
        "update_s_per_100k": inst.update_s * 1e5 / env_steps,
        "other_cores_before": _other_cores(snap0, snap1),
        "other_cores_during": _other_cores(snap1, snap2),
        "steps_to_475": first,
        "final_eval": inst.evals[-1]["mean"],
        "evals": inst.evals,
    }


def _warmup(algo: str) -> None:
    """Untimed: two updates, so torch's first-call costs land outside the timed seeds."""
    model = build_model(algo, seed=12345)
    steps_per_update = zoo_hyperparams(algo)["n_envs"] * zoo_hyperparams(algo)["n_steps"]
    model.learn(total_timesteps=2 * steps_per_update)
    model.env.close()


def _cpu_snapshot():
    """(wall, this process's CPU seconds, busy ticks, total ticks) from /proc/stat, or None."""
    try:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return time.perf_counter(), time.process_time(), sum(vals) - vals[3] - vals[4], sum(vals)


def _other_cores(a, b) -> float | None:
    """Cores kept busy by *other* processes between two snapshots (Linux only)."""
    if a is None or b is None or b[3] <= a[3] or b[0] <= a[0]:
        return None
    ncpu = os.cpu_count() or 1
    all_busy = (b[2] - a[2]) / (b[3] - a[3]) * ncpu
    own = (b[1] - a[1]) / (b[0] - a[0])
    return round(max(0.0, all_busy - own), 3)


def _wait_idle(timeout: float) -> float:
    """Wait (up to ``timeout`` s) until other processes use < BUSY_LIMIT cores; seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        a = _cpu_snapshot()
        time.sleep(1.0)
        busy = _other_cores(a, _cpu_snapshot())
        if busy is None or busy <= BUSY_LIMIT:
            break
    return round(time.perf_counter() - t0, 1)


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs: list[dict]) -> dict:
    keys = (
        "steps_per_s",
        "wall_s",
        "train_s",
        "rollout_s_per_100k",
        "update_s_per_100k",
        "eval_s",
        "final_eval",
        "cpu_s",
    )
    out = {k: _median([r[k] for r in runs]) for k in keys}
    reached = [r["steps_to_475"] for r in runs]
    out["steps_to_475_median"] = (
        statistics.median([s if s is not None else float("inf") for s in reached])
        if reached
        else None
    )
    if out["steps_to_475_median"] == float("inf"):
        out["steps_to_475_median"] = None
    out["n_reached_475"] = sum(s is not None for s in reached)
    out["n_seeds"] = len(runs)
    out["n_clean"] = sum(bool(r.get("clean")) for r in runs)
    return out


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def print_table(algo: str, runs: list[dict], summary: dict, file=sys.stdout) -> None:
    head = (
        f"{'seed':>6} {'steps':>7} {'steps/s':>8} {'train s':>8} {'rollout s':>9} "
        f"{'update s':>9} {'other s':>8} {'eval s':>7} {'wall s':>7} {'cpu/wall':>8} "
        f"{'to 475':>7} {'final':>6} {'clean':>5}"
    )
    print(
        f"\nSB3 {algo.upper()} on CartPole-v1 (rollout/update seconds as measured; "
        f"per-100k medians below)",
        file=file,
    )
    print(head, file=file)
    print("-" * len(head), file=file)
    for r in runs:
        print(
            f"{r['seed']:>6} {r['env_steps']:>7} {r['steps_per_s']:>8.0f} {r['train_s']:>8.2f} "
            f"{r['rollout_s']:>9.2f} {r['update_s']:>9.2f} {r['other_s']:>8.2f} "
            f"{r['eval_s']:>7.2f} {r['wall_s']:>7.2f} {r['cpu_s'] / r['wall_s']:>8.2f} "
            f"{_fmt(r['steps_to_475'], '>7d')} {r['final_eval']:>6.1f} "
            f"{'yes' if r.get('clean') else 'NO':>5}",
            file=file,
        )
    s = summary
    print(
        f"median: {s['steps_per_s']:.0f} steps/s; per 100k steps {s['rollout_s_per_100k']:.2f} s "
        f"rollouts + {s['update_s_per_100k']:.2f} s updates; eval >= {EVAL_THRESHOLD:.0f} first at "
        f"{_fmt(s['steps_to_475_median'], '.0f')} steps ({s['n_reached_475']}/{s['n_seeds']} seeds "
        f"reached it); final eval {s['final_eval']:.1f}; "
        f"{s['n_clean']}/{s['n_seeds']} seeds timed on an idle machine",
        file=file,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--algo", nargs="+", choices=ALGOS, default=["ppo"])
    p.add_argument("--steps", type=int, default=100_000, help="env steps per seed (default 1e5)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default 2)")
    p.add_argument(
        "--eval-freq", type=int, default=10_000, help="env steps between evals; 0: final only"
    )
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each seed, wait up to this many seconds for other processes to go idle",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=0,
        help="rerun a seed whose timing was not clean up to this many times (last one is kept)",
    )
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run")
    p.add_argument("--json", type=str, default=None, help="write results here")
    args = p.parse_args(argv)

    _pin_threads(args.threads)
    try:
        import torch
    except ImportError:
        print("SB3 reference needs the optional extra: pip install -e '.[sb3]'", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    import gymnasium
    import numpy
    import stable_baselines3

    meta = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "steps": args.steps,
        "seeds": args.seeds,
        "eval_freq": args.eval_freq,
        "eval_episodes": args.eval_episodes,
        "eval_threshold": EVAL_THRESHOLD,
        "hyperparams_source": "DLR-RM/rl-baselines3-zoo hyperparams/{ppo,a2c}.yml, CartPole-v1",
        "hyperparams": {a: zoo_hyperparams(a) for a in args.algo},
    }
    try:
        with open("/proc/cpuinfo") as fh:
            meta["cpu"] = next(
                ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    print(
        f"SB3 {meta['stable_baselines3']}, torch {meta['torch']} "
        f"({meta['torch_threads']} threads), "
        f"gymnasium {meta['gymnasium']}, {meta['cpu']} x{meta['cpu_count']}"
    )

    results: dict[str, Any] = {"meta": meta, "algos": {}}
    t_all = time.perf_counter()
    for algo in args.algo:
        if not args.no_warmup:
            _warmup(algo)
        runs = []
        for seed in args.seeds:
            for attempt in range(1 + args.retries):
                waited = _wait_idle(args.wait_idle)
                r = run_seed(algo, seed, args.steps, args.eval_freq, args.eval_episodes)
                r["attempt"] = attempt
                r["waited_for_idle_s"] = waited
                busy = max(r["other_cores_before"] or 0.0, r["other_cores_during"] or 0.0)
                r["clean"] = busy <= BUSY_LIMIT
                print(
                    f"  {algo} seed {seed}: {r['steps_per_s']:.0f} steps/s, "
                    f"wall {r['wall_s']:.1f} s, to 475: {r['steps_to_475']}, "
                    f"final {r['final_eval']:.1f}"
                    + ("" if r["clean"] else f"  [NOT CLEAN: others used {busy:.1f} cores]"),
                    flush=True,
                )
                if r["clean"]:
                    break
            runs.append(r)
        summary = summarize(runs)
        results["algos"][algo] = {"runs": runs, "summary": summary}
        print_table(algo, runs, summary)
    meta["total_wall_s"] = time.perf_counter() - t_all
    print(f"\ntotal wall {meta['total_wall_s']:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
