"""Executors: run cells one after another, in supervised worker processes, or on dask.

* :class:`SerialExecutor` runs cells in order in this process (no isolation);
* :class:`LocalExecutor` runs them in worker processes on this machine, one cell
  per worker at a time, so the cell a dead or killed worker held is known
  exactly; the worker is replaced and the other cells never notice;
* :class:`DaskExecutor` sends them to a dask.distributed cluster, where each dask
  worker again runs them in a supervised child process.

Retries (``timeout`` and ``worker-died`` outcomes only) happen here; every
executor yields one final :class:`~pgbench.celltask.Outcome` per cell.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from pgbench.celltask import RETRYABLE, CellTask, Outcome, failure_outcome
from pgbench.errors import PgbenchError
from pgbench.experiments import get_experiment
from pgbench.kernels import set_threads
from pgbench.plugins import load_plugins, one_line
from pgbench.sweep import Cell

EXECUTORS = ("serial", "local", "dask")


# ---------------------------------------------------------------- supervised worker process


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent)


def _death(returncode: int | None) -> str:
    """How a worker process ended, in words."""
    if returncode is None:
        return "its connection closed"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {returncode}"


class _ForkedProcess:
    """A forkserver child with the interface of :class:`subprocess.Popen` used here."""

    def __init__(self, process) -> None:
        self.process = process

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        self.process.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("worker", timeout)
        return self.process.exitcode


def _forked() -> tuple[Connection, _ForkedProcess]:
    """A worker forked from multiprocessing's fork server, which has imported pgbench and
    the run's modules once (see :func:`_preload`), so starting or replacing a worker
    costs milliseconds. Its parent (the fork server) has no threads, so forking is safe."""
    context = multiprocessing.get_context("forkserver")
    parent, child = context.Pipe(duplex=True)
    process = context.Process(target=_serve, args=(child,), name="pgbench-worker", daemon=True)
    process.start()
    child.close()
    return parent, _ForkedProcess(process)


def _preload(modules: Sequence[str]) -> None:
    """Modules the fork server imports once (only effective before it first starts)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pgbench.executors", *modules])


def _spawned() -> tuple[Connection, subprocess.Popen]:
    """A worker as a fresh ``python`` process, fed through a socket pair; used inside dask
    workers, whose daemonic processes may not start multiprocessing children."""
    parent, child = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
    code = "import sys; from pgbench.executors import worker_main; worker_main(int(sys.argv[1]))"
    with child:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=2,  # the child's prints go to our stderr, not into our tables
            env=env,
        )
    return Connection(parent.detach()), proc


class _Worker:
    """One child process that runs cells one at a time, fed through a pipe.

    The child reads ``(task, cell)``, answers ``("started", None)`` once it holds the
    cell (after its start-up imports, so a timeout does not count them) and then
    ``("done", outcome)``. A child that dies closes its end: the parent reads EOF
    and knows which cell it held.
    """

    def __init__(self, fork: bool = True) -> None:
        self.conn, self.proc = (_forked if fork else _spawned)()
        self.cell: Cell | None = None
        self.started: float | None = None

    def prepare(self, modules: Sequence[str], threads: int | None = None) -> None:
        """Give the worker this process's path, directory and environment, the modules
        to import (a worker may serve several runs) and its number of kernel threads
        (None: Numba's default, one per core)."""
        message = (list(sys.path), os.getcwd(), dict(os.environ), modules, threads)
        with contextlib.suppress(OSError):  # a dead worker: the next receive reports it
            self.conn.send(("init", message))

    def submit(self, task: CellTask, cell: Cell) -> None:
        self.cell, self.started = cell, None
        with contextlib.suppress(OSError):  # a dead worker: the next receive reports it
            self.conn.send(("cell", (task, cell)))

    def receive(self) -> Outcome | None:
        """The outcome of the held cell once it is done; None while it runs. A dead
        worker gives a ``worker-died`` outcome."""
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            return self._died()
        if kind == "started":
            self.started = time.monotonic()
            return None
        cell, self.cell = self.cell, None
        return replace(payload, cell=cell)

    def overdue(self, timeout: float | None) -> bool:
        return bool(timeout and self.started and time.monotonic() - self.started > timeout)

    def remaining(self, timeout: float | None) -> float | None:
        if not timeout or self.started is None:
            return None
        return max(0.0, timeout - (time.monotonic() - self.started))

    def timed_out(self, timeout: float) -> Outcome:
        """Kill the worker; the held cell's ``timeout`` outcome."""
        cell, self.cell = self.cell, None
        self.close(kill=True)
        return failure_outcome(
            cell, "timeout", f"timed out after {timeout:g} s", "Timeout", timeout
        )

    def _died(self) -> Outcome:
        seconds = time.monotonic() - self.started if self.started else 0.0
        cell, self.cell = self.cell, None
        self.close(kill=False)
        return failure_outcome(
            cell,
            "worker-died",
            f"worker process {_death(self.proc.returncode)}",
            "WorkerDied",
            seconds,
        )

    @property
    def alive(self) -> bool:
        return not self.conn.closed and self.proc.poll() is None

    def close(self, kill: bool = True) -> None:
        """Stop the child (killed if ``kill``, else asked to exit) and reap it."""
        if not self.conn.closed:
            if not kill:
                with contextlib.suppress(OSError):
                    self.conn.send(None)
            self.conn.close()
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def worker_main(fd: int) -> None:
    """Entry point of a worker started as a fresh ``python`` process on socket ``fd``."""
    _serve(Connection(fd))


def _serve(conn: Connection) -> None:
    """A worker's loop: the parent's path, directory, environment and modules, then cells
    in, outcomes out, until told to stop or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        if kind == "init":
            _adopt(*payload)
            continue
        task, cell = payload
        try:
            conn.send(("started", None))
            outcome = task(cell)
            conn.send(("done", outcome))
        except OSError:  # the parent is gone
            return


def _adopt(
    path: list[str], cwd: str, environ: dict, modules: list[str], threads: int | None
) -> None:
    """Take the parent's path, directory and environment (a long-lived fork server may
    predate them), the kernel thread count, and import the run's modules."""
    sys.path[:] = path
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    if threads is not None:
        set_threads(threads)
    try:
        load_plugins(modules)
    except PgbenchError as exc:
        print(f"pgbench worker: {exc}", file=sys.stderr)
        sys.exit(3)


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
        _preload([*{get_experiment(c.experiment).__module__: 0 for c in cells}, *task.modules])
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
        task: CellTask, queue: collections.deque, pool: list[_Worker], size: int, threads: int
    ) -> None:
        """Give each idle worker a cell, replacing dead idle workers, growing to ``size``.
        A dead worker that still holds a cell stays until :meth:`_collect` reports it."""
        for worker in pool:
            if not worker.alive and worker.cell is None:
                worker.close()
        pool[:] = [w for w in pool if w.alive or w.cell is not None]
        idle = sum(w.cell is None for w in pool)
        for _ in range(min(size - len(pool), len(queue) - idle)):
            pool.append(_Worker())
            pool[-1].prepare(task.modules, threads)
        for worker in pool:
            if worker.cell is None and queue:
                worker.submit(task, queue.popleft())

    def _collect(self, pool: list[_Worker]) -> list[Outcome]:
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
_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()


def _take_idle(n: int) -> list[_Worker]:
    with _IDLE_LOCK:
        live = [w for w in _IDLE if w.alive]
        taken, _IDLE[:] = live[:n], live[n:]
    return taken


def _give_idle(workers: list[_Worker]) -> None:
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
        worker = _DASK_WORKER.worker = _Worker(fork=False)
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
    """``serial``, ``local`` (worker processes, default one per core) or ``dask``."""
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
