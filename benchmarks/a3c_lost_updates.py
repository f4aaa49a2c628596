"""How many A3C updates the shared write loses: whole-vector writes against Hogwild.

Each of A3C's threads adds a step to the shared parameters. The former update
computed the new vector from the parameters it read and wrote it back whole
(``shared[:] = opt.step(shared, ...)``), discarding any update another thread
wrote in between; the Hogwild kernel adds the step in place element by element
(``pgbench.kernels.optim.ascent_step_inplace``). This script runs A3C with each
(monkeypatched ``pgbench.algorithms.a3c.apply_update``) and counts:

* whole-vector writes: updates written by another thread between an update's
  read and its write (each is overwritten: lost whole), counted with a write
  counter;
* Hogwild: adds missing from the final parameters, from the accounting
  final - initial - sum of all steps (zero up to rounding when every add landed).

    python benchmarks/a3c_lost_updates.py [--env-steps 100000] [--seeds 0 1 2]

CartPole-v1, 64x64 tanh MLP policy and critic, the settings of suites/algorithms.yaml
(2 workers, 1 env each, n_steps 5, shared RMSprop 3e-4 linear, max grad norm 0.5).
"""

from __future__ import annotations

import argparse
import threading

import numpy as np

import pgbench
from pgbench.algorithms import a3c as a3c_module
from pgbench.algorithms import optim as optim_module
from pgbench.algorithms.api import train_run
from pgbench.kernels.optim import ascent_step

PARAMS = dict(
    n_workers=2,
    optimizer=dict(
        kind="rmsprop", lr=3e-4, schedule="linear", alpha=0.99, eps=1e-5, max_grad_norm=0.5
    ),
)
HOGWILD = a3c_module.apply_update


class Wholesale:
    """The former update, with a count of the updates each write overwrote."""

    def __init__(self):
        self.lock = threading.Lock()
        self.writes = self.lost = 0
        self.shared = None

    def __call__(self, opt, shared, grad, t, progress):
        if self.shared is not shared:  # a new run (train_run warms up first)
            self.shared, self.writes, self.lost = shared, 0, 0
        p = opt.p
        with self.lock:
            seen = self.writes
        out = ascent_step(
            optim_module._KINDS[p.kind],
            shared,
            grad,
            opt.m,
            opt.v,
            t,
            opt.lr(progress),
            p.beta1,
            p.beta2,
            p.alpha,
            p.eps,
            p.max_grad_norm,
        )
        shared[:] = out
        with self.lock:
            self.lost += self.writes - seen
            self.writes += 1


class Accounted:
    """Hogwild, with every step recorded for the final accounting."""

    def __init__(self):
        self.lock = threading.Lock()
        self.shared = None

    def __call__(self, opt, shared, grad, t, progress):
        with self.lock:
            if self.shared is not shared:
                self.shared, self.initial, self.total, self.writes = shared, shared.copy(), 0, 0
                self.abs_total = np.zeros_like(shared)
        step = HOGWILD(opt, shared, grad, t, progress)
        with self.lock:
            self.total = self.total + step
            self.abs_total += np.abs(step)
            self.writes += 1
        return step

    def missing(self):
        """(elements whose final value misses an add, missing |add| in units of the
        mean |step| of one update)."""
        residual = self.shared - self.initial - self.total
        tol = 1e-9 * (1.0 + np.abs(self.shared)) * self.writes**0.5
        per_update = self.abs_total.sum() / self.writes
        return int((np.abs(residual) > tol).sum()), float(np.abs(residual).sum() / per_update)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    env = pgbench.make_env("cartpole-v1")
    pol = pgbench.make_policy("mlp-softmax", env, hidden=[64, 64])
    for seed in args.seeds:
        for name, patch in (("whole-vector", Wholesale()), ("hogwild", Accounted())):
            a3c_module.apply_update = patch
            try:
                run = train_run("a3c", env, pol, args.env_steps, seed, eval_episodes=10, **PARAMS)
            finally:
                a3c_module.apply_update = HOGWILD
            final = [v for _, m, v in run.rows if m == "eval_return"][-1]
            if name == "whole-vector":
                share = patch.lost / patch.writes
                lost = f"{patch.lost} of {patch.writes} updates overwritten ({share:.1%})"
            else:
                elements, updates = patch.missing()
                lost = (
                    f"{elements} of {patch.shared.size} elements miss an add; missing "
                    f"{updates:.3g} updates' worth of {patch.writes}"
                )
            print(f"seed {seed} {name:12s} final eval {final:5.0f}  {lost}", flush=True)


if __name__ == "__main__":
    main()
