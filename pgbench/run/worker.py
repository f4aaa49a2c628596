"""One supervised worker process: it runs one cell at a time, so the cell a dead or killed
worker held is known exactly.

A worker is forked from a fork server (:func:`_forked`) or, inside a daemonic dask worker
that may not start multiprocessing children, spawned as a fresh interpreter
(:func:`_spawned`); either way it takes the parent's path, directory, environment, thread
count and plug-in modules (:func:`_adopt`) and then serves cells over a pipe
(:func:`_serve`). :class:`Worker` is the parent's handle: start, send a cell, wait with a
timeout, kill.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from pgbench.errors import PgbenchError
from pgbench.kernels import set_threads
from pgbench.plugins import load_plugins
from pgbench.run.celltask import CellTask, Outcome, failure_outcome
from pgbench.run.sweep import Cell


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


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
    the run's modules once (see :func:`preload`), so starting or replacing a worker
    costs milliseconds. Its parent (the fork server) has no threads, so forking is safe."""
    context = multiprocessing.get_context("forkserver")
    parent, child = context.Pipe(duplex=True)
    process = context.Process(target=_serve, args=(child,), name="pgbench-worker", daemon=True)
    process.start()
    child.close()
    return parent, _ForkedProcess(process)


def preload(modules: Sequence[str]) -> None:
    """Modules the fork server imports once (only effective before it first starts)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pgbench.run.worker", *modules])


def _spawned() -> tuple[Connection, subprocess.Popen]:
    """A worker as a fresh ``python`` process, fed through a socket pair; used inside dask
    workers, whose daemonic processes may not start multiprocessing children."""
    parent, child = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
    code = (
        "import sys; from pgbench.run.worker import worker_main; worker_main(int(sys.argv[1]))"
    )
    with child:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=2,  # the child's prints go to our stderr, not into our tables
            env=env,
        )
    return Connection(parent.detach()), proc


class Worker:
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


