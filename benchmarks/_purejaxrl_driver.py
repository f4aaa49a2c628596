"""PureJaxRL's PPO on CartPole-v1, timed: the peer side of ``peer_purejaxrl.py``.

Run by the peer virtual environment's python (JAX, flax, optax, distrax, gymnax 0.0.9;
see ``peer_purejaxrl.py``), never by pgbench's::

    /tmp/peer-venv/bin/python benchmarks/_purejaxrl_driver.py ../shared/peers/purejaxrl \\
        --total-timesteps 500000 --seeds 8

It imports ``make_train`` from the unmodified PureJaxRL checkout given as the first
argument, builds the CartPole config of that ``ppo.py``'s ``__main__`` (DEBUG off: its
per-update host callback would be timed too), and trains 1 seed with
``jax.jit(make_train(config))`` or S seeds with ``jax.jit(jax.vmap(make_train(config)))``
over ``jax.random.split(key, S)``. The train function is compiled first
(``.lower(...).compile()``); only the compiled call is timed, up to
``jax.block_until_ready``. Then, untimed, each seed's trained parameters act greedily
(argmax of the logits) for ``--eval-episodes`` episodes of gymnax CartPole-v1 (at most
500 steps each). One JSON object goes to stdout (its last line): steps per seed, seeds,
wall seconds, steps/s over all seeds, the mean greedy return of each seed, JAX's version
and whether float64 was on (``JAX_ENABLE_X64=1`` is honoured, as JAX itself reads it).
XLA's concurrency-optimized scheduler is turned off (``XLA_FLAGS``) unless
``--concurrent-scheduler``: with it the vmapped train deadlocks on 2 cores.

:func:`purejaxrl_config` needs no JAX, so pgbench's tests can check it against
``peer_purejaxrl.py``'s pgbench hyperparameters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

MAX_EPISODE_STEPS = 500  # gymnax CartPole-v1's max_steps_in_episode
# Without it the vmapped train deadlocks on 2 cores (jaxlib 0.10.2): two batched QRs of the
# orthogonal initializers run at once, each waiting in ParallelBatchMap for pool threads.
SEQUENTIAL_SCHEDULER = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def purejaxrl_config(total_timesteps: int) -> dict:
    """The config dict of PureJaxRL ``ppo.py``'s ``__main__`` (CartPole-v1), DEBUG off
    and ``TOTAL_TIMESTEPS`` an int (``ppo.py`` writes ``5e5``)."""
    return {
        "LR": 2.5e-4,
        "NUM_ENVS": 4,
        "NUM_STEPS": 128,
        "TOTAL_TIMESTEPS": int(total_timesteps),
        "UPDATE_EPOCHS": 4,
        "NUM_MINIBATCHES": 4,
        "GAMMA": 0.99,
        "GAE_LAMBDA": 0.95,
        "CLIP_EPS": 0.2,
        "ENT_COEF": 0.01,
        "VF_COEF": 0.5,
        "MAX_GRAD_NORM": 0.5,
        "ACTIVATION": "tanh",
        "ENV_NAME": "CartPole-v1",
        "ANNEAL_LR": True,
        "DEBUG": False,
    }


def steps_per_seed(config: dict) -> int:
    """Env steps one seed really takes: whole updates of NUM_ENVS x NUM_STEPS, rounded
    down (``make_train``'s NUM_UPDATES)."""
    per_update = config["NUM_ENVS"] * config["NUM_STEPS"]
    return config["TOTAL_TIMESTEPS"] // per_update * per_update


def greedy_returns(ppo, config: dict, params, seeds: int, episodes: int, seed: int):
    """(seeds,) mean undiscounted return of ``episodes`` greedy episodes per seed;
    ``params`` carry a leading seed axis when ``seeds`` > 1."""
    import gymnax
    import jax
    import jax.numpy as jnp

    env, env_params = gymnax.make(config["ENV_NAME"])
    network = ppo.ActorCritic(env.action_space(env_params).n, activation=config["ACTIVATION"])

    def episode(p, key):
        key_reset, key_steps = jax.random.split(key)
        obs, state = env.reset(key_reset, env_params)

        def step(carry, key_step):
            obs, state, total, alive = carry
            pi, _ = network.apply(p, obs)
            action = jnp.argmax(pi.logits)
            obs, state, reward, done, _ = env.step(key_step, state, action, env_params)
            total = total + reward * alive  # the first episode only (gymnax auto-resets)
            return (obs, state, total, alive * (1.0 - done)), None

        carry = (obs, state, jnp.zeros(()), jnp.ones(()))
        carry, _ = jax.lax.scan(step, carry, jax.random.split(key_steps, MAX_EPISODE_STEPS))
        return carry[2]

    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)

    def seed_mean(p):
        return jax.vmap(episode, in_axes=(None, 0))(p, keys).mean()

    if seeds == 1:
        out = jax.jit(seed_mean)(params)[None]
    else:
        out = jax.jit(jax.vmap(seed_mean))(params)
    return [float(x) for x in jax.device_get(out)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="directory holding PureJaxRL's ppo.py")
    ap.add_argument("--total-timesteps", type=int, default=500_000, help="env steps per seed")
    ap.add_argument("--seeds", type=int, default=1, help="seeds trained in one vmapped call")
    ap.add_argument("--key", type=int, default=30, help="PRNGKey of the run (ppo.py's: 30)")
    ap.add_argument("--eval-episodes", type=int, default=10)
    ap.add_argument("--eval-key", type=int, default=10_000)
    ap.add_argument(
        "--concurrent-scheduler",
        action="store_true",
        help=f"leave XLA's scheduler as it is (default: {SEQUENTIAL_SCHEDULER})",
    )
    args = ap.parse_args(argv)

    if not args.concurrent_scheduler:  # before JAX loads XLA
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SEQUENTIAL_SCHEDULER}"
    sys.path.insert(0, str(args.checkout.resolve()))
    import jax
    import ppo  # PureJaxRL's, from the checkout

    config = purejaxrl_config(args.total_timesteps)
    train = ppo.make_train(config)
    key = jax.random.PRNGKey(args.key)
    if args.seeds == 1:
        fn, arg = jax.jit(train), key
    else:
        fn, arg = jax.jit(jax.vmap(train)), jax.random.split(key, args.seeds)

    t0 = time.perf_counter()
    compiled = fn.lower(arg).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(arg))
    wall = time.perf_counter() - t0

    params = out["runner_state"][0].params
    returns = greedy_returns(ppo, config, params, args.seeds, args.eval_episodes, args.eval_key)
    steps = steps_per_seed(config)
    print(
        json.dumps(
            {
                "steps": steps,
                "seeds": args.seeds,
                "wall_s": wall,
                "steps_per_s": steps * args.seeds / wall,
                "compile_s": compile_s,
                "greedy_returns": returns,
                "jax": jax.__version__,
                "x64": bool(jax.config.jax_enable_x64),
                "devices": [str(d) for d in jax.devices()],
                "xla_flags": os.environ.get("XLA_FLAGS", "").strip(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
