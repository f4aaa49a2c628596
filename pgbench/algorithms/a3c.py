"""Asynchronous advantage actor-critic (Mnih et al. 2016, "Asynchronous methods
for deep reinforcement learning", Algorithm S3).

``n_workers`` actor-learner threads each own ``n_envs`` environments (their own
random streams) and loop: copy the global parameters, run ``n_steps`` steps
(a Numba kernel that releases the GIL, so the rollouts of different threads
run at the same time), compute the n-step advantage actor-critic gradient, and
apply it to the *shared* global parameters with a shared RMSprop (the paper's
"shared RMSProp") without waiting for the other threads. Gradients are
therefore computed from parameters that other threads may have moved since
(the paper's asynchrony).

Shared update, Hogwild style (Recht, Re, Wright & Niu 2011, "Hogwild!: a
lock-free approach to parallelizing stochastic gradient descent", NIPS): the
step is added to the shared parameters in place, element by element
(``theta[i] += step[i]``, and the RMSprop / Adam statistics ``v[i]``, ``m[i]``
updated in place the same way; :func:`pgbench.kernels.optim.ascent_step_inplace`,
a nogil kernel). A thread's update is never overwritten by another's, as it
was when each thread wrote back a whole vector computed from the parameters it
had read (``shared[:] = opt.step(shared, ...)``: two overlapping updates, one of
them lost entirely). What can still be lost: when two threads update the same
element i at the same instant, both read theta[i] (or v[i], m[i]) before either
writes, and one of the two adds to that one element is lost. That needs two
loops over the parameters at the same index within a few nanoseconds; each
thread's copy of the parameters may also mix elements from before and after
another thread's update (Hogwild's inconsistent reads; nothing is lost by it, the
gradient is just computed at a mixed point). ``tests/test_a3c.py`` forces every
pair of updates to overlap and checks that every step lands;
``benchmarks/a3c_lost_updates.py`` counts the losses of real runs (CartPole,
64x64 MLP, 2 workers, 100k env steps: the whole-vector write overwrote 23-25 % of
the updates, the in-place one lost under 3e-6 of the updates' worth of adds).

Determinism: the order in which threads apply their updates depends on the
operating system's scheduling, so two runs with one seed are *not*
identical (``Algorithm.deterministic = False``). Every thread's episodes are
still keyed by (seed, worker, episode), so the experience each thread would
see under given parameters is reproducible; tests compare A3C statistically
(across seeds) instead of bit for bit. With ``n_workers = 1`` it is
deterministic and equals A2C with one worker's environments, bit for bit.
"""

from __future__ import annotations

import threading

import numpy as np
from pydantic import Field

from pgbench.algorithms.base import AlgoParams, Algorithm
from pgbench.algorithms.optim import Optimizer, OptimizerParams
from pgbench.algorithms.segments import (
    CriticParams,
    discount,
    gae_transitions,
    log_update,
    make_critic,
)
from pgbench.registry import ALGORITHMS


class A3CParams(AlgoParams):
    n_workers: int = Field(2, ge=1, le=64, description="actor-learner threads")
    n_envs: int = Field(1, ge=1, description="environments per thread")
    n_steps: int = Field(5, ge=1, description="t_max: steps per environment per update")
    gamma: float | None = Field(None, gt=0, le=1, description="discount (None: the env's)")
    ent_coef: float = Field(0.01, ge=0, description="entropy bonus weight (beta)")
    vf_coef: float = Field(0.5, ge=0, description="critic loss weight")
    critic: CriticParams = Field(CriticParams(), description="critic function class")
    optimizer: OptimizerParams = Field(
        OptimizerParams(kind="rmsprop", lr=7e-4, alpha=0.99, eps=1e-5, max_grad_norm=0.5),
        description="shared optimizer of policy and critic",
    )

    def steps_per_update(self, env, n_params: int | None = None) -> tuple[int, int]:
        """(fewest, most) env steps of one actor-learner update: n_envs x n_steps (each
        of the n_workers threads makes its own updates)."""
        return self.n_envs * self.n_steps, self.n_envs * self.n_steps


def a3c(run, hp: A3CParams) -> np.ndarray:
    """A3C with shared RMSprop (Mnih et al. 2016, Algorithm S3)."""
    policy = run.policy
    gamma = discount(run, hp.gamma)
    critic, phi0 = make_critic(run, hp.critic)
    P = run.theta0.shape[0]
    shared = np.concatenate([run.theta0, phi0])  # global parameters, updated in place
    opt = Optimizer(hp.optimizer, shared.shape[0])  # shared statistics
    book = threading.Lock()  # guards the step counter and the log, not the parameters
    errors: list[BaseException] = []
    run.log(shared[:P].copy())

    def worker(w: int) -> None:
        with book:
            lanes = run.lanes(hp.n_envs, stream=w)
        while True:
            with book:
                if run.done() or errors:
                    return
            local = shared.copy()  # theta' = theta, w' = w
            theta, phi = local[:P], local[P:]
            seg = run.kernels.segment(run.env.params, theta, lanes, hp.n_steps, run.env.horizon)
            tr = gae_transitions(run, seg, critic, phi, gamma, 1.0)
            n = tr.n
            dist = policy.distributions(theta, tr.obs)
            g_theta = dist.grad(tr.actions, tr.advantages / n, w_ent=hp.ent_coef / n)
            grad = np.concatenate([g_theta, tr.value_regression_grad(hp.vf_coef)])
            with book:
                run.record_segment(seg, lanes)
                progress = run.progress
                opt.t += 1
                t = opt.t
            apply_update(opt, shared, grad, t, progress)  # asynchronous: no lock
            with book:
                log_update(run, policy, theta, shared[:P].copy(), tr.obs, g_theta)

    def guarded(w: int) -> None:
        try:
            worker(w)
        except BaseException as exc:  # re-raised in the calling thread
            with book:
                errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in range(hp.n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    theta = shared[:P].copy()
    run.finish(theta)
    return theta


def apply_update(opt: Optimizer, shared: np.ndarray, grad: np.ndarray, t: int, progress: float):
    """Add one ascent step along ``grad`` (n,) to ``shared`` (n,) in place, element by
    element (:meth:`Optimizer.step_inplace`); returns the (n,) step taken."""
    return opt.step_inplace(shared, grad, t, progress)


ALGORITHMS.add(
    Algorithm(
        name="a3c",
        fn=a3c,
        params=A3CParams,
        citation="Mnih et al. 2016, Asynchronous methods for deep RL, Algorithm S3",
        summary="asynchronous advantage actor-critic: threads apply updates to shared params",
        deterministic=False,
    )
)
