"""Run a suite's cells through an executor: resume, a run lock, isolation, retries.

* A cell whose Parquet file exists is finished and is skipped on re-run (its
  hash covers everything that determines its rows, so a changed suite makes
  new cells rather than reusing stale ones); ``force=True`` recomputes it.
* Each cell runs through a :class:`CellTask`, a picklable function of the cell
  that writes the cell's rows atomically, so an executor may run it in another
  process or on another machine.
* Executors: :class:`SerialExecutor` runs cells in order in this process;
  :class:`LocalExecutor` runs them in supervised worker processes on this
  machine; :class:`DaskExecutor` sends them to a dask.distributed cluster,
  where each dask worker again runs them in a supervised child process.
* Failure isolation. A failed cell is recorded in ``failures.jsonl`` and the
  sweep goes on. Failure kinds (the ``status`` of a record):

  ``error``        the cell raised (a PgbenchError, a bug): deterministic, not retried;
  ``nonfinite``    its rows hold NaN or inf where the metric is defined: not retried;
  ``timeout``      it ran past the per-cell timeout; its worker is killed: retried;
  ``worker-died``  its worker process died (segfault, abort, out-of-memory kill): retried.

  A worker runs one cell at a time, so the cell a dead or killed worker held
  is known exactly; the worker is replaced and the other cells never notice.
* A lock file (:data:`LOCK`) stops two runs from writing one run directory at
  the same time; a lock left by a dead process on this host is taken over.
* Plugins: modules named in ``PGBENCH_PLUGINS`` (comma-separated) are imported
  before a suite is read and in every worker, so they can register
  environments, policies, estimators and algorithms. Workers also import the
  module that defines each registered component a suite uses.
* Nothing is written before the suite is expanded into cells, so an invalid
  suite leaves no run directory behind.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import importlib
import json
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from pgbench import results
from pgbench.config import Suite
from pgbench.errors import PgbenchError
from pgbench.experiments import get_experiment
from pgbench.sweep import Cell, expand

Status = Literal["done", "skipped", "failed"]
Failure = Literal["error", "nonfinite", "timeout", "worker-died"]
RETRYABLE: frozenset[str] = frozenset({"timeout", "worker-died"})
EXECUTORS = ("serial", "local", "dask")
LOCK = "run.lock"
PLUGINS_ENV = "PGBENCH_PLUGINS"
# Metrics whose value is documented as possibly NaN or inf (undefined, not broken):
# snr is inf for a zero-variance estimator, cosines are NaN at a zero gradient, and a
# training return is NaN where no episode ended since the previous point.
MAY_BE_UNDEFINED = frozenset({"snr", "cosine", "pairwise_cosine", "train_return"})


@dataclass(frozen=True)
class Outcome:
    """What happened to one cell. ``seconds``: wall time of its last attempt;
    ``failure``: the failure kind of a failed cell; ``attempts``: runs in this sweep."""

    cell: Cell
    status: Status
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    failure: Failure | None = None
    attempts: int = 1

    def failure_record(self) -> dict:
        """The ``failures.jsonl`` object of a failed cell."""
        c = self.cell
        rec = {
            "cell": c.hash,
            "env": c.env.display,
            "policy": c.policy.display,
            "theta": c.theta.display if c.theta is not None else None,
            "method": c.method.display,
            "seed": c.seed,
            "status": self.failure,
            "attempts": self.attempts,
            "error_type": self.error_type,
            "error": self.error,
        }
        if self.traceback:
            rec["traceback"] = self.traceback
        return rec


def _failed(cell: Cell, failure: Failure, error: str, error_type: str, seconds=0.0) -> Outcome:
    return Outcome(cell, "failed", seconds, error=error, error_type=error_type, failure=failure)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ---------------------------------------------------------------- plugins


def plugin_modules(environ=None) -> tuple[str, ...]:
    """Module names listed in ``PGBENCH_PLUGINS`` (comma-separated, blanks ignored)."""
    value = (os.environ if environ is None else environ).get(PLUGINS_ENV, "")
    return tuple(m.strip() for m in value.split(",") if m.strip())


def load_plugins(modules: Sequence[str]) -> None:
    """Import ``modules`` (their import registers components); a failure is one line."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001  (any import failure is the user's to fix)
            raise PgbenchError(
                f"cannot import plugin module {name!r}: {type(exc).__name__}: {_one_line(exc)}"
            ) from None


def _defining_module(obj) -> str | None:
    return getattr(getattr(obj, "fn", obj), "__module__", None)


def component_modules(cells: Sequence[Cell]) -> dict[str, str]:
    """Modules outside pgbench that define a registered component the cells use, which a
    worker process must import to find it (as ``pickle`` imports a function's module),
    each with the first component it defines, e.g. ``{"mypkg.ests": "estimator 'mine'"}``."""
    from pgbench.registry import ALGORITHMS, ENVS, ESTIMATORS, LEARNERS, POLICIES

    found: dict[str, str] = {}
    for cell in cells:
        wanted = [(ENVS, cell.env.name), (POLICIES, cell.policy.name)]
        wanted += [(r, cell.method.name) for r in (ESTIMATORS, ALGORITHMS, LEARNERS)]
        for registry, name in wanted:
            if name not in registry:
                continue
            module = _defining_module(registry.get(name))
            if module and module != "pgbench" and not module.startswith("pgbench."):
                found.setdefault(module, f"{registry.kind} {name!r}")
    return found


def _task(run_dir: Path, cells: Sequence[Cell], executor: Executor) -> CellTask:
    """The task of a run: the plugins and component modules a worker must import."""
    found = component_modules(cells)
    if "__main__" in found and not isinstance(executor, SerialExecutor):
        raise PgbenchError(
            f"{found['__main__']} is defined in __main__, which worker processes cannot "
            f"import; define it in a module named in {PLUGINS_ENV}, or use --executor serial"
        )
    modules = [m for m in (*plugin_modules(), *found) if m != "__main__"]
    return CellTask(str(run_dir), tuple(dict.fromkeys(modules)))


# ---------------------------------------------------------------- one cell


def _nonfinite(frame: pd.DataFrame) -> str | None:
    """A one-line description of non-finite values where the metric is defined, or None."""
    values = frame["value"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) & ~frame["metric"].isin(MAY_BE_UNDEFINED).to_numpy()
    if not bad.any():
        return None
    first = frame[bad].iloc[0]
    return (
        f"{int(bad.sum())} non-finite value(s) in the results, first "
        f"{first['metric']} = {first['value']} at {first['x_name']} {first['x']}"
    )


def run_cell(cell: Cell, run_dir: str | Path) -> Outcome:
    """Run one cell and write its rows to ``run_dir/cells/<hash>.parquet``; never raises
    an Exception: failures come back as an :class:`Outcome` with status ``failed``."""
    start = time.perf_counter()
    try:
        output = get_experiment(cell.experiment)(cell)
        frame = results.cell_frame(cell, output)
        problem = _nonfinite(frame)
        if problem is None:
            results.write_cell(Path(run_dir), cell, frame)
    except Exception as exc:  # noqa: BLE001  (recorded, the sweep goes on)
        user = isinstance(exc, PgbenchError)
        return Outcome(
            cell,
            "failed",
            time.perf_counter() - start,
            error=_one_line(exc) if user else f"{type(exc).__name__}: {_one_line(exc)}",
            error_type=type(exc).__name__,
            traceback=None if user else traceback.format_exc(),
            failure="error",
        )
    if problem is not None:
        return _failed(cell, "nonfinite", problem, "NonFiniteResult", time.perf_counter() - start)
    return Outcome(cell, "done", time.perf_counter() - start)


@dataclass(frozen=True)
class CellTask:
    """The picklable unit an executor runs: one cell into ``run_dir``. ``modules``: plugin
    and component modules a worker process imports before its first cell."""

    run_dir: str
    modules: tuple[str, ...] = ()

    def __call__(self, cell: Cell) -> Outcome:
        return run_cell(cell, self.run_dir)


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
    multiprocessing.get_context("forkserver").set_forkserver_preload(["pgbench.runner", *modules])


def _spawned() -> tuple[Connection, subprocess.Popen]:
    """A worker as a fresh ``python`` process, fed through a socket pair; used inside dask
    workers, whose daemonic processes may not start multiprocessing children."""
    parent, child = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
    code = "import sys; from pgbench.runner import worker_main; worker_main(int(sys.argv[1]))"
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
        return _failed(cell, "timeout", f"timed out after {timeout:g} s", "Timeout", timeout)

    def _died(self) -> Outcome:
        seconds = time.monotonic() - self.started if self.started else 0.0
        cell, self.cell = self.cell, None
        self.close(kill=False)
        return _failed(
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
        from pgbench.kernels import set_threads

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
        return _failed(cell, "worker-died", f"dask worker died: {_one_line(exc)}", "KilledWorker")
    except Exception as exc:  # noqa: BLE001  (e.g. a cell that cannot be unpickled there)
        return _failed(cell, "error", f"{type(exc).__name__}: {_one_line(exc)}", "DaskError")


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


# ---------------------------------------------------------------- run lock


class RunLockedError(PgbenchError):
    """Another live run holds the run directory's lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """``run_dir/run.lock``: JSON naming the holder (pid, host, start time, command).

    Acquired by creating the file exclusively. An existing lock whose holder is a
    process on this host that no longer exists is stale and taken over; any other
    existing lock (a live process, or one on another host, which cannot be
    checked from here) is an error naming the holder.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.held = False

    def _record(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }

    def acquire(self) -> None:
        for _ in range(3):  # a stale lock removed by another run between our steps: retry
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not self._stale(holder):
                    raise RunLockedError(self._message(holder)) from None
                self._remove_stale(holder)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self._record(), f)
            self.held = True
            return
        raise RunLockedError(f"cannot take the lock {self.path}; is another run starting?")

    def _holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable or half-written: a run is starting, or crashed writing it
        return holder if isinstance(holder, dict) else {}

    @staticmethod
    def _stale(holder: dict) -> bool:
        pid = holder.get("pid")
        same_host = holder.get("host") == socket.gethostname()
        return same_host and isinstance(pid, int) and not _pid_alive(pid)

    def _remove_stale(self, holder: dict | None) -> None:
        """Remove the lock file if it still names the dead ``holder``."""
        if holder is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if self._holder() == holder:
                self.path.unlink()

    def _message(self, holder: dict) -> str:
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')}"
        )
        return (
            f"{self.path.parent} is in use by another run ({who}); wait for it to end, "
            f"or remove {self.path} if that run is dead"
        )

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------- the run


class Observer(Protocol):
    """Progress callbacks (the CLI draws a progress bar with them)."""

    def started(self, cells: Sequence[Cell], pending: Sequence[Cell]) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class _Silent:
    def started(self, cells, pending) -> None:
        pass

    def finished(self, outcome) -> None:
        pass


@dataclass
class RunSummary:
    """The result of :func:`run_suite`."""

    run_dir: Path
    cells: list[Cell]
    outcomes: list[Outcome] = field(default_factory=list)
    table: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def retried(self) -> int:
        """Cells that needed more than one attempt."""
        return sum(o.attempts > 1 for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return not self.failed


def default_run_dir(suite: Suite) -> Path:
    """``results/<suite name>`` under the current directory."""
    return Path("results") / suite.name


def _remove_partial_files(run_dir: Path) -> None:
    """Temporary files of writes that a killed run left behind (the lock is ours)."""
    for folder in (run_dir, run_dir / results.CELLS_DIR):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


_metadata = results.run_metadata


def run_suite(
    suite: Suite,
    run_dir: str | Path | None = None,
    *,
    suite_text: str = "",
    suite_file: str | None = None,
    executor: Executor | None = None,
    observer: Observer | None = None,
    force: bool = False,
) -> RunSummary:
    """Run every unfinished cell of ``suite`` (every cell if ``force``) into ``run_dir``;
    write CSV and metadata. Holds the run directory's lock while it runs.

    Returns a :class:`RunSummary`; failed cells are in ``summary.failed`` and in
    ``failures.jsonl``; the table holds the rows of every finished current cell.
    """
    start = time.perf_counter()
    cells = expand(suite)  # before any file is written
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(suite)
    executor = executor or SerialExecutor()
    task = _task(run_dir.resolve(), cells, executor)
    (run_dir / results.CELLS_DIR).mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        _remove_partial_files(run_dir)
        results.write_metadata(
            run_dir, _metadata(suite, suite_text, suite_file, cells, status="running")
        )
        results.write_failures(run_dir, [])
        summary = RunSummary(run_dir=run_dir, cells=cells)
        try:
            _sweep(cells, task, executor, observer or _Silent(), force, summary)
        except KeyboardInterrupt:
            results.write_metadata(
                run_dir, _metadata(suite, suite_text, suite_file, cells, status="interrupted")
            )
            raise
        _finish(summary, suite, suite_text, suite_file, start)
    return summary


def _sweep(cells, task, executor, observer, force, summary) -> None:
    """Skip finished cells, run the others, record outcomes and failures as they come."""
    run_dir = summary.run_dir
    on_disk = {c.hash for c in cells if results.cell_path(run_dir, c.hash).is_file()}
    finished = set() if force else on_disk
    pending = [c for c in cells if c.hash not in finished]
    observer.started(cells, pending)
    for cell in cells:
        if cell.hash in finished:
            outcome = Outcome(cell, "skipped", attempts=0)
            summary.outcomes.append(outcome)
            observer.finished(outcome)
    failures: list[dict] = []
    outcomes = executor.map(task, pending)
    try:
        for outcome in outcomes:
            summary.outcomes.append(outcome)
            if outcome.status == "failed":
                failures.append(outcome.failure_record())
                results.write_failures(run_dir, failures)
            observer.finished(outcome)
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()  # stops worker processes at once, also on Ctrl-C


def _finish(summary: RunSummary, suite, suite_text, suite_file, start: float) -> None:
    """Load the table, export CSV, write the final metadata."""
    run_dir = summary.run_dir
    summary.table = results.load_results(run_dir)
    summary.files["cells"] = run_dir / results.CELLS_DIR
    summary.files["csv"] = results.export_csv(summary.table, run_dir)
    if summary.failed:
        summary.files["failures"] = run_dir / results.FAILURES
    summary.seconds = time.perf_counter() - start
    counts = {s: summary.count(s) for s in ("done", "skipped", "failed")}
    summary.files["metadata"] = results.write_metadata(
        run_dir,
        _metadata(
            suite,
            suite_text,
            suite_file,
            summary.cells,
            status="finished",
            counts=counts,
            seconds=round(summary.seconds, 3),
        ),
    )
