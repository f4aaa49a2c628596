"""Learning algorithms: one module per family, registered in ``ALGORITHMS`` on import.

=====================  ======================================================
``reinforce``          gradient ascent on REINFORCE / reward-to-go estimates
``fd-ascent``          ... on per-coordinate finite differences
``fd-regression-ascent`` ... on the linear-regression finite-difference estimate
``q-ac``, ``td-ac``     Q and TD-error actor-critics
``a2c``, ``a3c``       advantage actor-critic, synchronous and asynchronous
``npg``, ``trpo``      natural gradient with a fixed KL step; trust region
``ppo-clip``, ``ppo-kl`` proximal policy optimization
=====================  ======================================================
"""

from pgbench.algorithms import a3c, actor_critic, ascent, ppo, trust_region  # noqa: F401
from pgbench.algorithms.api import train_run

__all__ = ["train_run"]
