"""Executors: run cells one after another, in supervised worker processes, or on dask.

* :class:`SerialExecutor` runs cells in order in this process (no isolation);
* :class:`ThreadsExecutor` runs them in threads of this process, cells that differ
  only in their seed side by side, each thread on the serial kernel drivers (no
  isolation);
* :class:`LocalExecutor` runs them in worker processes on this machine, one cell
  per worker at a time, so the cell a dead or killed worker held is known
  exactly; the worker is replaced and the other cells never notice;
* :class:`DaskExecutor` sends them to a dask.distributed cluster, where each dask
  worker again runs them in a supervised child process.

Retries (``timeout`` and ``worker-died`` outcomes only) happen here; every
executor yields one final :class:`~pgbench.run.celltask.Outcome` per cell.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing.connection import wait
from typing import Protocol

from threadpoolctl import threadpool_limits

from pgbench.errors import PgbenchError
from pgbench.experiments import get_experiment
from pgbench.kernels import serial_calls
from pgbench.plugins import one_line
from pgbench.run.celltask import RETRYABLE, CellTask, Outcome, failure_outcome
from pgbench.run.sweep import Cell
from pgbench.run.worker import Worker, preload

EXECUTORS = ("serial", "threads", "local", "dask")


# ---------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs ``task`` on every cell, yielding one final outcome per cell (any order)."""

    def map(self, task: CellTask, cells: Sequence[Cell]) -> Iterator[Outcome]: ...


class _Retries:
    """Attempt counts per cell and the retry rule: worker deaths and timeouts are
    retried up to ``retries`` times; exceptions and non-finite results are not."""

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.counts: collections.Counter[str] = collections.Counter()

    def settle(self, outcome: Outcome) -> Outcome | None:
        """The outcome with its attempt count, or None if the cell should run again."""
        self.counts[outcome.cell.hash] += 1
        n = self.counts[outcome.cell.hash]
        if outcome.failure in RETRYABLE and n <= self.retries:
            return None
        return replace(outcome, attempts=n)


class SerialExecutor:
    """Cells one after another in this process (no isolation: a crash ends the run)."""

    def map(self, task: CellTask, cells: Sequence[Cell]) -> Iterator[Outcome]:
        for cell in cells:
            yield task(cell)


class ThreadsExecutor:
    """Cells in ``workers`` threads of this process (default: one per core), several at
    once: cells that differ only in their seed are queued next to each other, so the
    seeds of one configuration train side by side, as one vectorized call over seeds
    would, sharing compiled kernels and warm caches.

    Every kernel of a cell releases the GIL, so the threads run at once; each runs its
    cells on the serial kernel drivers (:func:`pgbench.kernels.serial_calls`) with
    BLAS on one thread, so that cells share the cores instead of splitting each call.
    A cell's rows depend only on the cell: the results equal the serial executor's.
    No isolation (a crash ends the run) and no timeout, as with ``serial``.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    @staticmethod
    def _run(task: CellTask, cell: Cell) -> Outcome:
        with serial_calls():
            return task(cell)

    def map(self, task: CellTask, cells: Sequence[Cell]) -> Iterator[Outcome]:
        if not cells:
            return
        order = sorted(cells, key=lambda c: (_without_seed(c), c.seed, c.index))
        with threadpool_limits(1, user_api="blas"):
            pool = ThreadPoolExecutor(min(self.workers, len(order)))
            try:
                futures = [pool.submit(self._run, task, c) for c in order]
                for future in as_completed(futures):
                    yield future.result()
            finally:  # interrupted: the running cells finish, the queued ones never start
                pool.shutdown(wait=True, cancel_futures=True)


def _without_seed(cell: Cell) -> str:
    """A cell's configuration without its seed (one key per group of seeds)."""
    canonical = cell.canonical()
    canonical.pop("seed")
    return repr(canonical)


class LocalExecutor:
    """Cells in ``workers`` supervised processes on this machine (default: one per core).

    Each worker is forked from a fork server that has imported pgbench (no threads,
    no launched Numba thread pool), loads compiled kernels from the on-disk cache,
    runs parallel kernels on its share of the cores and holds one cell at a time.
    A worker that dies or runs past ``timeout`` seconds is replaced, its cell is
    retried up to ``retries`` times. A cell's rows depend only on the cell, so
    the results equal the serial executor's.
    """

    def __init__(
        self, workers: int | None = None, timeout: float | None = None, retries: int = 1
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.retries = retries

    def map(self, task: CellTask, cells: Sequence[Cell]) -> Iterator[Outcome]:
        if not cells:
            return
        queue = collections.deque(cells)
        retries = _Retries(self.retries)
        preload([*{get_experiment(c.experiment).__module__: 0 for c in cells}, *task.modules])
        size = min(self.workers, len(cells))
        # parallel kernels share the cores between workers: results do not depend on it
        threads = max(1, (os.cpu_count() or 1) // size)
        pool = _take_idle(size)
        for worker in pool:
            worker.prepare(task.modules, threads)
        try:
            while queue or any(w.cell is not None for w in pool):
                self._feed(task, queue, pool, size, threads)
                for outcome in self._collect(pool):
                    final = retries.settle(outcome)
                    if final is None:
                        queue.appendleft(outcome.cell)
                    else:
                        yield final
        finally:
            for worker in pool:
                if worker.cell is not None:  # interrupted: stop its cell now
                    worker.close(kill=True)
            _give_idle(pool)

    @staticmethod
    def _feed(
        task: CellTask, queue: collections.deque, pool: list[Worker], size: int, threads: int
    ) -> None:
        """Give each idle worker a cell, replacing dead idle workers, growing to ``size``.
        A dead worker that still holds a cell stays until :meth:`_collect` reports it."""
        for worker in pool:
            if not worker.alive and worker.cell is None:
                worker.close()
        pool[:] = [w for w in pool if w.alive or w.cell is not None]
        idle = sum(w.cell is None for w in pool)
        for _ in range(min(size - len(pool), len(queue) - idle)):
            pool.append(Worker())
            pool[-1].prepare(task.modules, threads)
        for worker in pool:
            if worker.cell is None and queue:
                worker.submit(task, queue.popleft())

    def _collect(self, pool: list[Worker]) -> list[Outcome]:
        """Outcomes of the cells that finished, died or timed out; waits for at least one
        event (a message, a death or the next deadline)."""
        busy = [w for w in pool if w.cell is not None]
        deadlines = [r for r in (w.remaining(self.timeout) for w in busy) if r is not None]
        ready = wait([w.conn for w in busy], timeout=min(deadlines) if deadlines else None)
        outcomes = []
        for worker in busy:
            if worker.conn in ready:
                outcome = worker.receive()
                if outcome is not None:
                    outcomes.append(outcome)
            if worker.cell is not None and worker.overdue(self.timeout):
                outcomes.append(worker.timed_out(self.timeout))
        return outcomes


# Idle local workers outlive a run, so that later runs in this process (a notebook,
# a test session) find their imports done and their kernels compiled; daemonic, they
# end with this process.
_IDLE: list[Worker] = []
_IDLE_LOCK = threading.Lock()


def _take_idle(n: int) -> list[Worker]:
    with _IDLE_LOCK:
        live = [w for w in _IDLE if w.alive]
        taken, _IDLE[:] = live[:n], live[n:]
    return taken


def _give_idle(workers: list[Worker]) -> None:
    with _IDLE_LOCK:
        _IDLE.extend(w for w in workers if w.alive and w.cell is None)


@atexit.register
def _close_idle() -> None:
    """Ask idle workers to exit with this process."""
    with _IDLE_LOCK:
        workers, _IDLE[:] = list(_IDLE), []
    for worker in workers:
        worker.close(kill=False)


_DASK_WORKER = threading.local()


def _dask_run(task: CellTask, cell: Cell, timeout: float | None) -> Outcome:
    """Run ``cell`` in this dask worker's supervised child process (started on first use,
    replaced after a death or a timeout), so a crash never takes the dask worker down."""
    worker = getattr(_DASK_WORKER, "worker", None)
    if worker is None or not worker.alive:
        worker = _DASK_WORKER.worker = Worker(fork=False)
    worker.prepare(task.modules)
    worker.submit(task, cell)
    while True:
        remaining = worker.remaining(timeout)
        if not worker.conn.poll(remaining):
            return worker.timed_out(timeout)
        outcome = worker.receive()
        if outcome is not None:
            return outcome


class DaskExecutor:
    """Cells on a dask.distributed cluster: ``address`` of a running scheduler, or a
    LocalCluster of ``workers`` processes with one thread each.

    Each dask worker runs cells in a supervised child process, as the local
    executor does, so timeouts and crashes are attributed to their cell and
    retried the same way. The run directory must be on a file system that every
    worker sees (cells write their own files).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        timeout: float | None = None,
        retries: int = 1,
    ) -> None:
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.retries = retries

    @contextlib.contextmanager
    def _client(self, n_cells: int):
        import dask
        from dask.distributed import Client, LocalCluster

        if self.address:
            with Client(self.address) as client:
                yield client
            return
        # the cell's own retries count worker deaths; the scheduler should not add more
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            with (
                LocalCluster(
                    n_workers=min(self.workers, max(n_cells, 1)),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client

    def map(self, task: CellTask, cells: Sequence[Cell]) -> Iterator[Outcome]:
        from dask.distributed import as_completed

        if not cells:
            return
        retries = _Retries(self.retries)
        with self._client(len(cells)) as client:
            submit = _submitter(client, task, self.timeout)
            futures = {submit(cell): cell for cell in cells}
            pending = as_completed(list(futures))
            for future in pending:
                cell = futures.pop(future)
                final = retries.settle(_dask_outcome(future, cell))
                if final is None:
                    again = submit(cell)
                    futures[again] = cell
                    pending.add(again)
                else:
                    yield final


def _submitter(client, task: CellTask, timeout: float | None):
    """``submit(cell) -> future`` on ``client`` (each call a new, impure task)."""

    def submit(cell: Cell):
        return client.submit(_dask_run, task, cell, timeout, pure=False)

    return submit


def _dask_outcome(future, cell: Cell) -> Outcome:
    """The outcome a dask future holds; a lost dask worker counts as a worker death."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        return failure_outcome(
            cell, "worker-died", f"dask worker died: {one_line(exc)}", "KilledWorker"
        )
    except Exception as exc:  # noqa: BLE001  (e.g. a cell that cannot be unpickled there)
        return failure_outcome(cell, "error", f"{type(exc).__name__}: {one_line(exc)}", "DaskError")


def make_executor(
    name: str,
    workers: int | None = None,
    *,
    timeout: float | None = None,
    retries: int = 1,
    address: str | None = None,
) -> Executor:
    """``serial``, ``threads`` (default one per core), ``local`` (worker processes, default
    one per core) or ``dask``."""
    if workers is not None and workers < 1:
        raise PgbenchError(f"--workers must be at least 1, got {workers}")
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise PgbenchError(f"--timeout must be a positive number of seconds, got {timeout}")
    if retries < 0:
        raise PgbenchError(f"--retries must be at least 0, got {retries}")
    if address and name != "dask":
        raise PgbenchError("--address needs --executor dask")
    if name == "serial":
        if timeout is not None:
            raise PgbenchError("--timeout needs worker processes: --executor local or dask")
        return SerialExecutor()
    if name == "threads":
        if timeout is not None:
            raise PgbenchError("--timeout needs worker processes: --executor local or dask")
        return ThreadsExecutor(workers)
    if name == "local":
        return LocalExecutor(workers, timeout, retries)
    if name == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise PgbenchError(
                "--executor dask needs dask.distributed: pip install 'pgbench[dask]'"
            ) from None
        return DaskExecutor(address, workers, timeout, retries)
    raise PgbenchError(f"unknown executor {name!r}; executors: {', '.join(EXECUTORS)}")
