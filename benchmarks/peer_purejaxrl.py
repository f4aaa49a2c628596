"""Training speed against the fastest peer: pgbench ``ppo-clip`` against PureJaxRL's PPO.

One run, one machine, CartPole-v1, PureJaxRL's own CartPole hyperparameters on both sides
(4 envs, 128 steps, 4 epochs of 4 minibatches of 128, gamma 0.99, GAE 0.95, clip 0.2,
ent 0.01, vf 0.5 on its clipped value loss, Adam 2.5e-4 linear to 0, eps 1e-5, max grad
norm 0.5, 64x64 tanh actor and critic; its value loss written in pgbench's terms is
``vf_coef: 0.25, value_clip_range: 0.2``, see ``PPO_HP``), the same env steps per seed,
compile excluded on both sides. Per row (1 seed, then S seeds) pgbench trains first, then
PureJaxRL; the figures are env steps per second of training (all seeds together) and each
seed's final greedy return (10 episodes).

* pgbench, 1 seed: ``pgbench.train`` after a short warm-up run, BLAS pinned to 1 thread.
  S seeds: ``pgbench.train_many`` (seeds at once in one process, one thread per core)
  where pgbench has it, else (or with ``--mode processes``) 2 worker processes, each
  warmed up before the clock starts, 1 Numba and 1 BLAS thread each; the output's
  ``mode`` says which (``threads`` / ``processes``).
* PureJaxRL: ``_purejaxrl_driver.py``, run by the peer virtual environment's python, imports
  ``make_train`` from the unmodified checkout and times ``jax.jit(make_train(config))``
  (1 seed) or ``jax.jit(jax.vmap(make_train(config)))`` (S seeds), compiled beforehand.

The peer's packages live in their own virtual environment (JAX is never a pgbench
dependency; gymnax 1.x changed ``step`` and breaks PureJaxRL)::

    python -m venv /tmp/peer-venv
    /tmp/peer-venv/bin/pip install "jax[cpu]" flax optax distrax "gymnax==0.0.9" brax navix
    python benchmarks/peer_purejaxrl.py --steps 500000 --seeds 8 --a2c --json peer.json

``--purejaxrl`` is the directory holding PureJaxRL's ``ppo.py`` and ``wrappers.py``
(default ``../shared/peers/purejaxrl`` from the repository root), ``--peer-python`` the
peer environment's interpreter. ``--steps`` is rounded down to whole updates (512 env
steps), the budget PureJaxRL's ``make_train`` can spend, so both sides take the same steps.
``--a2c`` adds pgbench ``a2c`` with its RL-zoo settings (n_steps 5, 8 envs:
``training_speed.PGBENCH_SETTINGS``) over the S seeds, steps/s only (no peer).
``JAX_ENABLE_X64=1`` runs the peer in float64; ``--precision float32`` runs pgbench's PPO
update in float32 (its explicit option; the default is float64).

The driver turns XLA's concurrency-optimized scheduler off: with it, the vmapped train
deadlocks on a 2-core machine (jaxlib 0.10.2: two batched orthogonal-QR initializers run
concurrently, each waits in ``ParallelBatchMap`` for work queued behind the other on the
2-thread intra-op pool); one seed runs at the same speed either way.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

_HERE = Path(__file__).resolve().parent
_PEER_ENV = dict(os.environ)  # before training_speed pins OMP/MKL/OpenBLAS threads to 1
sys.path.insert(0, str(_HERE))

import pgbench  # noqa: E402
from pgbench.kernels import runtime_info, set_threads  # noqa: E402

DRIVER = _HERE / "_purejaxrl_driver.py"
DEFAULT_CHECKOUT = _HERE.parent.parent / "shared" / "peers" / "purejaxrl"
SOLVED = 500.0  # CartPole-v1's largest return
TARGETS = {"1": 1.0, "S": 1.5}  # issue 14: pgbench / PureJaxRL steps/s, 1 seed and 8 seeds
EVAL_EPISODES = 10
ENV, POLICY, HIDDEN = "cartpole-v1", "mlp-softmax", [64, 64]
_BLAS_LIMIT = None  # a worker process's BLAS limit, held for the process's life

# PureJaxRL ppo.py's CartPole config in pgbench's terms (the critic's default is 64x64 tanh).
# Its value loss (ppo.py lines 179-186) is VF_COEF * 0.5 * mean max((V - R)^2, (V_clip - R)^2)
# with V clipped to V_old +- CLIP_EPS; pgbench's is vf_coef * mean (V - R)^2 (SB3's), with
# the same clip as value_clip_range: so vf_coef = 0.5 VF_COEF and value_clip_range = CLIP_EPS.
PPO_HP = dict(
    n_envs=4,
    n_steps=128,
    batch_size=128,
    n_epochs=4,
    gamma=0.99,
    gae_lambda=0.95,
    clip_range=0.2,
    ent_coef=0.01,
    vf_coef=0.25,
    value_clip_range=0.2,
    optimizer=dict(kind="adam", lr=2.5e-4, schedule="linear", eps=1e-5, max_grad_norm=0.5),
)
STEPS_PER_UPDATE = PPO_HP["n_envs"] * PPO_HP["n_steps"]


def make_env_policy():
    env = pgbench.make_env(ENV)
    return env, pgbench.make_policy(POLICY, env, hidden=HIDDEN)


def env_steps_spent(history) -> int:
    """Env steps a run really took (its ``env_steps`` metric: the last update's end)."""
    return int(history[history["metric"] == "env_steps"]["value"].max())


def greedy_return(theta, seed: int) -> float:
    """Mean return of ``EVAL_EPISODES`` greedy (argmax) episodes, streams 10_000 + seed."""
    env, policy = make_env_policy()
    return pgbench.evaluate(env, policy, theta, episodes=EVAL_EPISODES, seed=10_000 + seed)


def train_seed(algo: str, hp: dict, seed: int, steps: int) -> tuple:
    """(theta, env steps spent, wall seconds) of one ``pgbench.train`` run, no evaluation."""
    env, policy = make_env_policy()
    t0 = time.perf_counter()
    theta, history = pgbench.train(
        algo, env, policy, steps, seed, log_every=steps, eval_episodes=0, **hp
    )
    return theta, env_steps_spent(history), time.perf_counter() - t0


def warm_up(algo: str, hp: dict) -> None:
    """Compile (or load) every kernel of ``algo`` with a short throwaway run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short budget warns that it buys few updates
        train_seed(algo, hp, 12345, 5 * STEPS_PER_UPDATE)


def pgbench_one(algo: str, hp: dict, seed: int, steps: int) -> dict:
    warm_up(algo, hp)
    with threadpool_limits(1, user_api="blas"):
        theta, spent, wall = train_seed(algo, hp, seed, steps)
    return {
        "mode": "single",
        "steps": spent,
        "seeds": 1,
        "wall_s": wall,
        "steps_per_s": spent / wall,
        "greedy_returns": [greedy_return(theta, seed)],
    }


def _worker_init(barrier, algo: str, hp: dict) -> None:
    """A worker process's start: 1 Numba and 1 BLAS thread, kernels warm, then wait for
    the other worker, so that no compiling happens while the clock runs."""
    set_threads(1)
    global _BLAS_LIMIT
    _BLAS_LIMIT = threadpool_limits(1, user_api="blas")
    warm_up(algo, hp)
    barrier.wait(timeout=900)


def _worker_ready() -> int:
    return os.getpid()


def _worker_train(algo: str, hp: dict, seed: int, steps: int) -> tuple:
    theta, spent, _ = train_seed(algo, hp, seed, steps)
    return theta, spent


def many_mode(requested: str) -> str:
    """``threads`` or ``processes``: ``auto`` is threads where pgbench has ``train_many``."""
    if requested == "auto":
        return "threads" if hasattr(pgbench, "train_many") else "processes"
    return requested


def pgbench_many(
    algo: str, hp: dict, seeds: list[int], steps: int, evaluate: bool, mode: str
) -> dict:
    """S seeds: in one process (``pgbench.train_many``, mode ``threads``) or in 2
    warmed-up worker processes (``processes``); steps/s over all seeds, greedy returns if
    ``evaluate``."""
    if mode == "threads":
        env, policy = make_env_policy()
        kwargs = dict(log_every=steps, eval_episodes=0, **hp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pgbench.train_many(algo, env, policy, 5 * STEPS_PER_UPDATE, [12345, 12346], **kwargs)
        t0 = time.perf_counter()
        runs = pgbench.train_many(algo, env, policy, steps, seeds, **kwargs)
        wall = time.perf_counter() - t0
        thetas = [theta for theta, _ in runs]
        spent = [env_steps_spent(history) for _, history in runs]
    else:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=ctx, initializer=_worker_init, initargs=(barrier, algo, hp)
        ) as pool:
            pids = {f.result() for f in [pool.submit(_worker_ready) for _ in range(2)]}
            assert len(pids) == 2, pids  # both workers warm: each passed the barrier
            t0 = time.perf_counter()
            n = len(seeds)
            runs = list(pool.map(_worker_train, [algo] * n, [hp] * n, seeds, [steps] * n))
            wall = time.perf_counter() - t0
        thetas = [theta for theta, _ in runs]
        spent = [s for _, s in runs]
    out = {
        "mode": mode,
        "steps": spent[0],
        "seeds": len(seeds),
        "wall_s": wall,
        "steps_per_s": sum(spent) / wall,
    }
    if evaluate:
        out["greedy_returns"] = [greedy_return(t, s) for t, s in zip(thetas, seeds, strict=True)]
    return out


def purejaxrl(args, seeds: int, steps: int) -> dict | None:
    """The driver's JSON for ``seeds`` seeds of ``steps`` env steps, or None without the
    peer environment."""
    if not Path(args.peer_python).exists():
        return None
    cmd = [str(args.peer_python), str(DRIVER), str(args.purejaxrl)]
    cmd += ["--total-timesteps", str(steps), "--seeds", str(seeds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_PEER_ENV, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"PureJaxRL driver failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def solved(returns: list[float] | None) -> int | None:
    """How many seeds' greedy returns are CartPole's largest."""
    return None if returns is None else sum(r >= SOLVED - 1e-6 for r in returns)


def learning_target(n_seeds: int) -> int:
    """Seeds that must be solved: the issue's 7 of 8, scaled to ``n_seeds``."""
    return math.ceil(7 * n_seeds / 8)


def table_rows(rows: list[dict]) -> list[str]:
    """The printed table: one line per row dict (label, target, pgbench, peer or None)."""
    head = (
        f"{'':8} {'pgbench s/s':>12} {'PureJaxRL s/s':>14} {'ratio':>7} {'target':>7} "
        f"{'met':>8} {'pgbench 500s':>13} {'PureJaxRL 500s':>15}"
    )
    out = [head]
    for row in rows:
        ours, theirs = row["pgbench"], row["purejaxrl"]
        n = ours["seeds"]
        ratio = ours["steps_per_s"] / theirs["steps_per_s"] if theirs else None
        met = "-" if ratio is None else ("met" if ratio >= row["target"] else "not met")
        peer_sps = f"{theirs['steps_per_s']:14.0f}" if theirs else f"{'-':>14}"
        ratio_txt = f"{ratio:6.2f}x" if ratio is not None else f"{'-':>7}"
        peer_ok = f"{solved(theirs['greedy_returns'])}/{n}" if theirs else "-"
        out.append(
            f"{row['label']:8} {ours['steps_per_s']:12.0f} {peer_sps} {ratio_txt} "
            f"{row['target']:6.1f}x {met:>8} {solved(ours['greedy_returns'])}/{n:<11} "
            f"{peer_ok:>15}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--purejaxrl", type=Path, default=DEFAULT_CHECKOUT, help="checkout dir")
    ap.add_argument("--peer-python", type=Path, default=Path("/tmp/peer-venv/bin/python"))
    ap.add_argument("--steps", type=int, default=500_000, help="env steps per seed")
    ap.add_argument("--seeds", type=int, default=8, help="S, the seeds of the second row")
    ap.add_argument("--a2c", action="store_true", help="also pgbench a2c (zoo) over S seeds")
    ap.add_argument(
        "--mode",
        choices=("auto", "threads", "processes"),
        default="auto",
        help="pgbench's S seeds: train_many (threads) or 2 worker processes (auto: "
        "threads where pgbench has train_many)",
    )
    ap.add_argument(
        "--precision",
        choices=("float64", "float32"),
        default="float64",
        help="pgbench's PPO update arithmetic (float64, the default; float32 the option)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = ap.parse_args(argv)
    ppo_hp = {**PPO_HP, "precision": args.precision}
    mode = many_mode(args.mode)
    if mode == "threads" and not hasattr(pgbench, "train_many"):
        ap.error("--mode threads: this pgbench has no train_many")
    steps = args.steps // STEPS_PER_UPDATE * STEPS_PER_UPDATE
    if steps < STEPS_PER_UPDATE:
        ap.error(f"--steps must be at least one update ({STEPS_PER_UPDATE} env steps)")
    seeds = list(range(args.seeds))

    out: dict = {
        "command": " ".join(["python", *sys.argv]),
        "steps_per_seed": steps,
        "precision": args.precision,
        "pgbench_version": pgbench.__version__,
        "pgbench_runtime": runtime_info(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "rows": [],
    }
    print(
        f"CartPole-v1 PPO, {steps} env steps per seed, 1 and {args.seeds} seeds, "
        f"pgbench in {args.precision}"
    )
    for label, key, n in (("1 seed", "1", 1), (f"{args.seeds} seeds", "S", args.seeds)):
        ours = (
            pgbench_one("ppo-clip", ppo_hp, 0, steps)
            if n == 1
            else pgbench_many("ppo-clip", ppo_hp, seeds, steps, evaluate=True, mode=mode)
        )
        theirs = purejaxrl(args, n, steps)
        row = {"label": label, "target": TARGETS[key], "pgbench": ours, "purejaxrl": theirs}
        if theirs:
            row["ratio"] = ours["steps_per_s"] / theirs["steps_per_s"]
        out["rows"].append(row)
    if out["rows"][0]["purejaxrl"] is None:
        print(f"(no peer: {args.peer_python} not found; see this script's docstring)")
    else:
        peer = out["rows"][0]["purejaxrl"]
        print(f"PureJaxRL: JAX {peer['jax']}, float{'64' if peer['x64'] else '32'}")
    print(f"pgbench {args.seeds} seeds: {out['rows'][1]['pgbench']['mode']}")
    print("\n".join(table_rows(out["rows"])))
    print(
        f"learning target: greedy return {SOLVED:.0f} on at least "
        f"{learning_target(args.seeds)} of {args.seeds} seeds"
    )
    if args.a2c:
        from training_speed import PGBENCH_SETTINGS  # sets OMP/MKL/OpenBLAS threads to 1

        name, hp = PGBENCH_SETTINGS["a2c"]
        a2c = pgbench_many(name, hp, seeds, args.steps, evaluate=False, mode=mode)
        out["a2c"] = {"hp": hp, **a2c}
        print(
            f"a2c (zoo: {hp['n_envs']} envs, n_steps {hp['n_steps']}), {args.seeds} seeds "
            f"({a2c['mode']}): {a2c['steps_per_s']:.0f} steps/s"
        )
    out["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
