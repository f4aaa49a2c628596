"""Running a suite: its grid of cells, the executors that run them, the run directory.

* :mod:`.sweep`: suite -> :class:`~pgbench.run.sweep.Cell` s, each with a content hash;
* :mod:`.celltask`: one cell in a worker (its experiment, its rows, its failure kinds);
* :mod:`.executors`: serial, threads of this process, local worker processes, dask;
* :mod:`.runner`: :func:`~pgbench.run.runner.run_suite` (resume, retries, the lock, the
  table, metadata and CSV of the run directory);
* :mod:`.runlock`: one run per directory at a time.
"""
