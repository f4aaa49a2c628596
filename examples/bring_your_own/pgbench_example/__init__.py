"""An example of components of one's own for pgbench: an environment, an estimator and an
algorithm, registered when this package is imported.

pgbench imports it through the ``pgbench.plugins`` entry point declared in this package's
``pyproject.toml`` (see :mod:`pgbench.plugins`); after ``pip install`` every pgbench command
knows the three names:

* ``corridor`` (environment, :mod:`pgbench_example.corridor`): a noisy 1-D walk to a goal, a
  ``gymnasium.Env`` handed to pgbench with :func:`pgbench.from_gymnasium`;
* ``reinforce-fixed`` (estimator, :mod:`pgbench_example.estimator`): REINFORCE with a
  baseline the user chooses, a fixed number;
* ``normalized-ascent`` (algorithm, :mod:`pgbench_example.algorithm`): gradient ascent
  with steps of fixed length along that estimate.
"""

from pgbench_example import algorithm, corridor, estimator  # noqa: F401  (registration)
