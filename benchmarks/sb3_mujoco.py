"""Stable-Baselines3 PPO on HalfCheetah-v5, Hopper-v5 and Walker2d-v5 with the RL Baselines3
Zoo's settings: the SB3 side of ``suites/mujoco.yaml`` (issue 13).

Trains SB3 ``PPO`` one (task, seed) at a time, single-threaded (the other core runs
pgbench), and records the learning curve at pgbench's grid, in pgbench's tidy layout, so
that ``benchmarks/mujoco_side_by_side.py`` sets it next to ``pgbench run
suites/mujoco.yaml``. Run with the SB3 environment (stable-baselines3, torch, gymnasium,
mujoco; pgbench is not needed)::

    python benchmarks/sb3_mujoco.py --out DIR        # 3 tasks x seeds 0-4 x 1M steps
    python benchmarks/sb3_mujoco.py --tasks hopper --seeds 0 --steps 4096 \\
        --eval-every 2048 --out /tmp/sb3_smoke       # a smoke run

Runs go seed by seed, each seed on every task (so partial results have the same seeds on
the tasks they cover); a run whose CSV exists is skipped, so the same command resumes.
This is a script, not a pytest file; one file of about 580 lines, most of them the
settings and this record of them, kept together so that the SB3 side is one file.

Hyperparameters
---------------
Source: DLR-RM/rl-baselines3-zoo ``hyperparams/ppo.yml`` (commit 208b6fd), entries
``HalfCheetah-v4``, ``Hopper-v4`` and ``Walker2d-v4`` (the zoo tunes -v4; -v5 is the same
task and reward), and the zoo's ``ExpManager``: ``make_vec_env(env_id, n_envs, seed)``
(each env in a ``Monitor``, ``DummyVecEnv``), then ``VecNormalize(env, gamma=gamma)``
where the entry says ``normalize: true`` (the zoo gives VecNormalize the algorithm's
gamma); a float ``learning_rate`` / ``clip_range`` is a constant. Keys the zoo leaves out
take SB3 2.9.2's defaults (``PPO.__init__``, ``ActorCriticPolicy.__init__``,
``VecNormalize.__init__``). Every value below is what the script passes (the test
``tests/test_mujoco_side_by_side.py`` checks this table against :func:`settings`)::

    key                         halfcheetah  hopper       walker2d     source
    PPO.n_steps                 512          512          512          zoo
    PPO.batch_size              64           32           32           zoo
    PPO.n_epochs                20           5            20           zoo
    PPO.gamma                   0.98         0.999        0.99         zoo
    PPO.gae_lambda              0.92         0.99         0.95         zoo
    PPO.learning_rate           2.0633e-05   9.80828e-05  5.05041e-05  zoo (constant)
    PPO.clip_range              0.1          0.2          0.1          zoo (constant)
    PPO.ent_coef                0.000401762  0.00229519   0.000585045  zoo
    PPO.vf_coef                 0.58096      0.835671     0.871923     zoo
    PPO.max_grad_norm           0.8          0.7          1.0          zoo
    PPO.clip_range_vf           None         None         None         SB3 default
    PPO.normalize_advantage     True         True         True         SB3 default
    PPO.use_sde                 False        False        False        SB3 default
    PPO.sde_sample_freq         -1           -1           -1           SB3 default
    PPO.target_kl               None         None         None         SB3 default
    PPO.stats_window_size       100          100          100          SB3 default
    PPO.rollout_buffer_class    RolloutBuffer RolloutBuffer RolloutBuffer SB3 default
    PPO.device                  cpu          cpu          cpu          this script
    policy.class                MlpPolicy    MlpPolicy    MlpPolicy    zoo
    policy.net_arch_pi          [256,256]    [256,256]    [64,64]      zoo / SB3 default
    policy.net_arch_vf          [256,256]    [256,256]    [64,64]      zoo / SB3 default
    policy.activation_fn        ReLU         ReLU         Tanh         zoo / SB3 default
    policy.ortho_init           False        False        True         zoo / SB3 default
    policy.log_std_init         -2.0         -2.0         0.0          zoo / SB3 default
    policy.full_std             True         True         True         SB3 default
    policy.use_expln            False        False        False        SB3 default
    policy.squash_output        False        False        False        SB3 default
    policy.features_extractor   FlattenExtractor FlattenExtractor FlattenExtractor SB3 default
    policy.share_features_extractor True     True         True         SB3 default
    policy.optimizer            Adam         Adam         Adam         SB3 default
    policy.optimizer_eps        1e-05        1e-05        1e-05        SB3 default
    policy.optimizer_betas      [0.9,0.999]  [0.9,0.999]  [0.9,0.999]  torch default
    VecNormalize.norm_obs       True         True         True         zoo (normalize)
    VecNormalize.norm_reward    True         True         True         zoo (normalize)
    VecNormalize.gamma          0.98         0.999        0.99         zoo (= PPO.gamma)
    VecNormalize.clip_obs       10.0         10.0         10.0         SB3 default
    VecNormalize.clip_reward    10.0         10.0         10.0         SB3 default
    VecNormalize.epsilon        1e-08        1e-08        1e-08        SB3 default
    env.n_envs                  1            1            1            zoo
    env.vec_env_cls             DummyVecEnv  DummyVecEnv  DummyVecEnv  zoo default
    env.n_timesteps             1000000      1000000      1000000      zoo (--steps)

(``PPO.max_grad_norm`` is ``1`` in the zoo's Walker2d entry.) The zoo's ``Walker2d-v4``
entry has no ``policy_kwargs``: SB3's default ``MlpPolicy`` (64x64 tanh, orthogonal
init, log std 0), unlike the two others and unlike ``suites/mujoco.yaml``, whose
``ppo-walker2d`` runs the 256x256 ReLU policy. ``--policy suite`` gives Walker2d the
HalfCheetah / Hopper ``policy_kwargs`` (the network pgbench's suite runs there); the
default, ``--policy zoo``, is the zoo's. The ``policy_label`` column says which network
ran: ``sb3-zoo-256-relu`` or ``sb3-zoo-64-tanh``.

Seeds: ``PPO(seed=k)`` (torch, numpy, ``random`` and the action space) and
``make_vec_env(seed=k)`` (the training env's first reset). ``torch.set_num_threads(1)``,
``set_num_interop_threads(1)``; ``OMP/MKL/OPENBLAS/NUMEXPR_NUM_THREADS`` = 1 before
numpy and torch are imported.

Measurement (as pgbench's learning curves, ``pgbench/algorithms/trainer.py``)
------------------------------------------------------------------------------
* Grid: x = 0, ``--eval-every``, 2 ``--eval-every``, ... and x = ``--steps``. The point
  at x is the state after the first update that brought the env steps to x or beyond
  (SB3's ``on_rollout_start``, i.e. after the previous ``train()``; the last one after
  ``learn`` returns): with 512-step rollouts the point x = 20000 is recorded after
  20480 steps (the ``env_steps`` metric says so), and a 1M run ends at 1000448 steps,
  as pgbench's. x = 0 is the initial policy.
* ``eval_return``: the mean undiscounted return of ``--eval-episodes`` episodes of the
  deterministic policy (``model.predict(deterministic=True)``: the Gaussian's mean,
  clipped to the action bounds [-1, 1] as MuJoCo's ``ctrllimited`` clamps it anyway) on a
  separate env, ``VecNormalize(DummyVecEnv([Monitor(gym.make(id))]), training=False,
  norm_reward=False)`` whose ``obs_rms`` is a copy of the training env's at that point
  (the zoo's ``sync_envs_normalization``): the statistics frozen, observations clipped
  at 10, returns in the env's own units. Episode ``e`` of point ``i`` resets with the seed
  :func:`eval_seed` ``(k, i, e)``, so every run is reproducible and evaluation draws
  nothing from training's generators; episodes end at termination or at the
  registration's 1000-step limit (the Monitor's ``episode`` return).
* ``train_return``: the mean (Monitor, unnormalized) return of the training episodes that
  ended since the previous point, NaN if none.
* ``seconds``: wall seconds since ``learn`` began (``on_training_start``), evaluation
  excluded; ``env_steps``: ``model.num_timesteps`` at the point.

Output
------
Per (task, seed) ``DIR/<task>-seed<k>.csv``, written atomically once the run ends: tidy
rows with pgbench's learning-curve columns ``suite`` (``sb3-mujoco``), ``experiment``
(``learning-curve``), ``env_label`` (the labels of ``suites/mujoco.yaml``),
``policy_label``, ``method`` and ``method_label`` (``sb3-ppo``), ``seed``, ``x_name``
(``env_steps``), ``x``, ``metric`` (``eval_return``, ``train_return``, ``seconds``,
``env_steps``), ``value``; and next to it ``<task>-seed<k>.json`` (versions, settings,
command, wall / training / evaluation seconds).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

TASKS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5"}
"""env label (as in suites/mujoco.yaml) -> Gymnasium id."""

SUITE = "sb3-mujoco"
EXPERIMENT = "learning-curve"
METHOD = "sb3-ppo"
X_NAME = "env_steps"
METRICS = ("train_return", "eval_return", "seconds", "env_steps")
COLUMNS = (
    "suite",
    "experiment",
    "env_label",
    "policy_label",
    "method",
    "method_label",
    "seed",
    "x_name",
    "x",
    "metric",
    "value",
)
POLICIES = ("zoo", "suite")
ZOO_SOURCE = "DLR-RM/rl-baselines3-zoo hyperparams/ppo.yml @208b6fd, <Task>-v4 entries"
EVAL_KEY = 13  # first word of every evaluation seed (issue 13)

# The zoo's entries, key for key (hyperparams/ppo.yml).
ZOO_PPO = {
    "halfcheetah": dict(
        n_steps=512,
        batch_size=64,
        n_epochs=20,
        gamma=0.98,
        gae_lambda=0.92,
        learning_rate=2.0633e-05,
        clip_range=0.1,
        ent_coef=0.000401762,
        vf_coef=0.58096,
        max_grad_norm=0.8,
    ),
    "hopper": dict(
        n_steps=512,
        batch_size=32,
        n_epochs=5,
        gamma=0.999,
        gae_lambda=0.99,
        learning_rate=9.80828e-05,
        clip_range=0.2,
        ent_coef=0.00229519,
        vf_coef=0.835671,
        max_grad_norm=0.7,
    ),
    "walker2d": dict(
        n_steps=512,
        batch_size=32,
        n_epochs=20,
        gamma=0.99,
        gae_lambda=0.95,
        learning_rate=5.05041e-05,
        clip_range=0.1,
        ent_coef=0.000585045,
        vf_coef=0.871923,
        max_grad_norm=1.0,
    ),
}
SB3_PPO_DEFAULTS = dict(
    clip_range_vf=None,
    normalize_advantage=True,
    use_sde=False,
    sde_sample_freq=-1,
    target_kl=None,
    stats_window_size=100,
    rollout_buffer_class="RolloutBuffer",
)
ZOO_256_RELU = dict(
    net_arch_pi=[256, 256],
    net_arch_vf=[256, 256],
    activation_fn="ReLU",
    ortho_init=False,
    log_std_init=-2.0,
)
SB3_DEFAULT_POLICY = dict(
    net_arch_pi=[64, 64],
    net_arch_vf=[64, 64],
    activation_fn="Tanh",
    ortho_init=True,
    log_std_init=0.0,
)
SB3_POLICY_DEFAULTS = dict(
    full_std=True,
    use_expln=False,
    squash_output=False,
    features_extractor="FlattenExtractor",
    share_features_extractor=True,
    optimizer="Adam",
    optimizer_eps=1e-05,
    optimizer_betas=[0.9, 0.999],
)
SB3_VECNORMALIZE_DEFAULTS = dict(clip_obs=10.0, clip_reward=10.0, epsilon=1e-08)


def settings(task: str, policy: str = "zoo", steps: int = 1_000_000) -> dict[str, Any]:
    """Every setting of one run, flat: ``group.key`` -> a plain value (the docstring's table).

    ``policy``: ``"zoo"`` (the zoo's entry: Walker2d has SB3's default MlpPolicy) or
    ``"suite"`` (the 256x256 ReLU policy_kwargs on every task, as suites/mujoco.yaml)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    zoo = ZOO_PPO[task]
    net = SB3_DEFAULT_POLICY if (task == "walker2d" and policy == "zoo") else ZOO_256_RELU
    out: dict[str, Any] = {}
    out.update({f"PPO.{k}": v for k, v in {**zoo, **SB3_PPO_DEFAULTS, "device": "cpu"}.items()})
    out["policy.class"] = "MlpPolicy"
    out.update({f"policy.{k}": v for k, v in {**net, **SB3_POLICY_DEFAULTS}.items()})
    vecnorm = dict(norm_obs=True, norm_reward=True, gamma=zoo["gamma"])
    out.update(
        {f"VecNormalize.{k}": v for k, v in {**vecnorm, **SB3_VECNORMALIZE_DEFAULTS}.items()}
    )
    out.update({"env.n_envs": 1, "env.vec_env_cls": "DummyVecEnv", "env.n_timesteps": steps})
    return out


def policy_label(task: str, policy: str = "zoo") -> str:
    """The ``policy_label`` of a run: which network it trained."""
    relu = settings(task, policy)["policy.activation_fn"] == "ReLU"
    return "sb3-zoo-256-relu" if relu else "sb3-zoo-64-tanh"


def doc_value(value: Any) -> str:
    """A setting as the docstring's table writes it (no spaces)."""
    if isinstance(value, list):
        return "[" + ",".join(doc_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def grid_point(steps: int, budget: int, every: int) -> int:
    """The x of a point recorded after ``steps`` env steps (pgbench's ``TrainRun.grid_point``):
    the budget once spent, else the largest multiple of ``every`` at or below ``steps``."""
    return budget if steps >= budget else steps // every * every


def eval_seed(seed: int, point: int, episode: int) -> int:
    """Reset seed (32-bit) of evaluation episode ``episode`` at curve point ``point`` of
    seed ``seed``: ``numpy.random.SeedSequence([EVAL_KEY, seed, point, episode])``'s
    first word."""
    import numpy as np  # function-level: thread env vars are set before numpy loads

    return int(np.random.SeedSequence([EVAL_KEY, seed, point, episode]).generate_state(1)[0])


def csv_path(out: Path, task: str, seed: int) -> Path:
    return Path(out) / f"{task}-seed{seed}.csv"


def curve_rows(task: str, seed: int, label: str, points: list[tuple[int, dict]]) -> list[dict]:
    """Tidy rows of one run: ``points`` is [(x, {metric: value})] in x order."""
    ident = dict(
        suite=SUITE,
        experiment=EXPERIMENT,
        env_label=task,
        policy_label=label,
        method=METHOD,
        method_label=METHOD,
        seed=seed,
        x_name=X_NAME,
    )
    return [
        {**ident, "x": x, "metric": m, "value": float(values[m])}
        for x, values in points
        for m in METRICS
    ]


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write tidy ``rows`` as CSV atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "value": repr(row["value"])})
    os.replace(tmp, path)


# ---------------------------------------------------------------- SB3 (imported lazily)


def build_model(task: str, seed: int, policy: str):
    """(SB3 PPO model, its VecNormalize training env), exactly as :func:`settings`."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.buffers import RolloutBuffer
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.torch_layers import FlattenExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    s = settings(task, policy)
    group = {
        g: {k.split(".", 1)[1]: v for k, v in s.items() if k.startswith(g + ".")}
        for g in ("PPO", "policy", "VecNormalize")
    }
    env = make_vec_env(TASKS[task], n_envs=s["env.n_envs"], seed=seed, vec_env_cls=DummyVecEnv)
    env = VecNormalize(env, **group["VecNormalize"])
    p = group["policy"]
    policy_kwargs = dict(
        net_arch=dict(pi=list(p["net_arch_pi"]), vf=list(p["net_arch_vf"])),
        activation_fn=getattr(torch.nn, p["activation_fn"]),
        ortho_init=p["ortho_init"],
        log_std_init=p["log_std_init"],
        full_std=p["full_std"],
        use_expln=p["use_expln"],
        squash_output=p["squash_output"],
        features_extractor_class=FlattenExtractor,
        share_features_extractor=p["share_features_extractor"],
        optimizer_class=getattr(torch.optim, p["optimizer"]),
        optimizer_kwargs=dict(eps=p["optimizer_eps"], betas=tuple(p["optimizer_betas"])),
    )
    ppo = dict(group["PPO"], rollout_buffer_class=RolloutBuffer)
    model = PPO(p["class"], env, policy_kwargs=policy_kwargs, seed=seed, verbose=0, **ppo)
    return model, env


def make_eval_env(task: str, gamma: float):
    """The evaluation env: one Monitor-wrapped env under a frozen VecNormalize."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = DummyVecEnv([lambda: Monitor(gym.make(TASKS[task]))])
    return VecNormalize(venv, training=False, norm_obs=True, norm_reward=False, gamma=gamma)


def evaluate(model, train_env, eval_env, episodes: int, seed: int, point: int) -> float:
    """Mean return of ``episodes`` deterministic episodes with ``train_env``'s observation
    statistics frozen (see the module docstring)."""
    eval_env.obs_rms = copy.deepcopy(train_env.obs_rms)
    returns = []
    for e in range(episodes):
        eval_env.seed(eval_seed(seed, point, e))
        obs = eval_env.reset()
        while True:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, dones, infos = eval_env.step(action)
            if dones[0]:
                returns.append(float(infos[0]["episode"]["r"]))
                break
    return sum(returns) / len(returns)


def curve_recorder(evaluate_at, budget: int, every: int):
    """An SB3 callback that records the learning curve; ``evaluate_at(point_index)`` returns
    the evaluation return. Its ``points`` are [(x, {metric: value})]."""
    from stable_baselines3.common.callbacks import BaseCallback

    class CurveRecorder(BaseCallback):
        def __init__(self):
            super().__init__(verbose=0)
            self.points: list[tuple[int, dict]] = []
            self.eval_s = 0.0
            self._returns: list[float] = []
            self._next = 0
            self._last_steps = -1

        def _on_training_start(self) -> None:
            self._t0 = time.perf_counter()

        def _on_rollout_start(self) -> None:
            if self.model.num_timesteps >= self._next:
                self.record()

        def _on_step(self) -> bool:
            self._returns.extend(
                float(info["episode"]["r"]) for info in self.locals["infos"] if "episode" in info
            )
            return True

        def _on_training_end(self) -> None:
            if self._last_steps != self.model.num_timesteps:
                self.record()

        def record(self) -> None:
            steps = int(self.model.num_timesteps)
            seconds = time.perf_counter() - self._t0 - self.eval_s
            train = sum(self._returns) / len(self._returns) if self._returns else math.nan
            self._returns = []
            t0 = time.perf_counter()
            ev = evaluate_at(len(self.points))
            self.eval_s += time.perf_counter() - t0
            values = dict(train_return=train, eval_return=ev, seconds=seconds, env_steps=steps)
            self.points.append((grid_point(steps, budget, every), values))
            self._last_steps = steps
            while self._next <= steps:
                self._next += every

    return CurveRecorder()


def run_one(task: str, seed: int, args, meta: dict) -> dict:
    """Train and record one (task, seed); writes its JSON then its CSV. Returns a summary."""
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    model, train_env = build_model(task, seed, args.policy)
    eval_env = make_eval_env(task, model.gamma)

    def evaluate_at(point: int) -> float:
        return evaluate(model, train_env, eval_env, args.eval_episodes, seed, point)

    recorder = curve_recorder(evaluate_at, args.steps, args.eval_every)
    t0 = time.perf_counter()
    model.learn(total_timesteps=args.steps, callback=recorder)
    learn_s = time.perf_counter() - t0
    eval_env.close()
    train_env.close()
    label = policy_label(task, args.policy)
    x, last = recorder.points[-1]
    summary = {
        "task": task,
        "gym_id": TASKS[task],
        "seed": seed,
        "policy_label": label,
        "env_steps": int(model.num_timesteps),
        "final_x": x,
        "final_eval": last["eval_return"],
        "train_s": last["seconds"],
        "learn_s": learn_s,
        "eval_s": recorder.eval_s,
        "wall_s": time.perf_counter() - t_start,
        "cpu_s": time.process_time() - cpu_start,
        "settings": settings(task, args.policy, args.steps),
        **meta,
    }
    out = csv_path(args.out, task, seed)
    json_path = out.with_suffix(".json")
    tmp = json_path.with_name(f".{json_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, json_path)
    write_rows(out, curve_rows(task, seed, label, recorder.points))
    return summary


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=1_000_000, help="env steps per run (1M)")
    p.add_argument("--eval-every", type=int, default=20_000, help="env steps between points")
    p.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation")
    p.add_argument(
        "--policy",
        choices=POLICIES,
        default="zoo",
        help="zoo: the zoo's networks (Walker2d: SB3's default MlpPolicy); suite: 256x256 "
        "ReLU on every task, as suites/mujoco.yaml",
    )
    p.add_argument("--out", type=Path, required=True, help="folder of the CSV files")
    args = p.parse_args(argv)
    for name in ("steps", "eval_every", "eval_episodes"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def _pin_threads() -> None:
    """One compute thread; must run before numpy / torch are imported."""
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        os.environ[var] = "1"


def _meta() -> dict:
    import gymnasium
    import mujoco
    import numpy
    import stable_baselines3
    import torch

    meta = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "mujoco": mujoco.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "hyperparams_source": ZOO_SOURCE,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            meta["cpu"] = next(
                ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return meta


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _pin_threads()
    try:
        import torch
    except ImportError:
        print("sb3_mujoco needs stable-baselines3, torch and gymnasium[mujoco]", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = _meta()
    print(
        f"SB3 {meta['stable_baselines3']}, torch {meta['torch']} ({meta['torch_threads']} thread), "
        f"gymnasium {meta['gymnasium']}, mujoco {meta['mujoco']}, {meta['cpu']}",
        flush=True,
    )
    for seed in args.seeds:
        for task in args.tasks:
            if csv_path(args.out, task, seed).exists():
                print(f"{task} seed {seed}: done already ({csv_path(args.out, task, seed)})")
                continue
            r = run_one(task, seed, args, meta)
            print(
                f"{task} seed {seed}: final eval {r['final_eval']:.1f} at {r['env_steps']} steps, "
                f"{r['wall_s'] / 60:.1f} min ({r['train_s'] / 60:.1f} training)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
