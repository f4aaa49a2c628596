"""Learning curves: one algorithm trained on one (env, policy, seed) per cell.

Rows have ``x_name = "env_steps"`` and the metrics of
:data:`pgbench.algorithms.trainer.CURVE_METRICS` (train and evaluation return,
exact value where the env has one, seconds, env steps spent, gradient norm, KL,
entropy), at x = 0, ``log_every``, 2 ``log_every``, ... and the budget: the same
grid for every seed (:class:`~pgbench.algorithms.trainer.TrainRun` says what a
point holds). ``seconds`` is training time; the Numba compile (or cache load)
time of the cell, spent in a warm-up before the clock starts, is the cell's
``compile_seconds``. The replicate seed is the run seed: every algorithm of one
seed starts from the same initial parameters ``policy.init(seed)``.
"""

from __future__ import annotations

from pgbench.algorithms.api import train_run
from pgbench.experiments.output import CellOutput, MetricRow


def run_cell(cell) -> CellOutput:
    settings = cell.settings
    env = cell.env.build()
    policy = cell.policy.build(env)
    # budget: the algorithm's, else the env's, else the suite's; interval: the env's,
    # else the suite's, else a twentieth of the budget
    steps = cell.method.env_steps or cell.env.env_steps or settings["env_steps"]
    every = cell.env.log_every or settings["log_every"] or max(1, steps // 20)
    run = train_run(
        cell.method.name,
        env,
        policy,
        steps,
        cell.seed,
        backend=settings["backend"],
        log_every=every,
        eval_episodes=settings["eval_episodes"],
        **cell.method.params,
    )
    rows = [MetricRow("env_steps", x, metric, value) for x, metric, value in run.rows]
    return CellOutput(rows=rows, compile_seconds=run.compile_seconds_total)
