"""A lock file that stops two runs writing one run directory at the same time.

The lock records pid, host, start time and command. It is written whole or not at
all: the record goes to a temporary file first, which is then hard-linked to
``run.lock`` (an atomic create that fails if the lock exists), so a full disk or a
crash while taking the lock leaves no empty or partial lock behind.

Found on disk, a lock is

* held: its process is alive on this host, or it comes from another host (which
  cannot be checked from here): the run stops until that run ends or the lock is
  removed;
* stale, and taken over: its process on this host no longer exists; or it cannot be
  parsed (empty or truncated, as an older pgbench could leave it on a full disk) and
  is older than :data:`UNREADABLE_GRACE_S` seconds;
* an error asking to try again: it cannot be parsed and is younger than that (a
  writer that does not write atomically may be in the middle of it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pgbench.errors import PgbenchError

LOCK = "run.lock"
UNREADABLE_GRACE_S = 10.0  # an unparseable lock younger than this may still be being written


class RunLockedError(PgbenchError):
    """Another live run holds the run directory's lock (or its lock cannot be read)."""


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

    Acquired by linking a complete temporary file to the lock's name (see the module
    docstring for what an existing lock means).
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
        data = json.dumps(self._record()).encode()
        for _ in range(3):  # a stale lock removed by another run between our steps: retry
            if self._create(data):
                self.held = True
                return
            holder = self._holder()
            if holder is None:
                continue  # gone meanwhile
            if holder == {}:
                self._unreadable()
            elif not self._stale(holder):
                raise RunLockedError(self._message(holder))
            self._remove_stale(holder)
        raise RunLockedError(f"cannot take the lock {self.path}; is another run starting?")

    def _create(self, data: bytes) -> bool:
        """Create the lock holding ``data``, whole; False if a lock exists. On a failed
        write (a full disk) nothing is left and the OSError names the lock."""
        tmp = self.path.with_name(f".{LOCK}.{os.getpid()}.tmp")
        try:
            tmp.unlink(missing_ok=True)  # left by a killed process that had our pid
            _write_new(tmp, data)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                return self._create_in_place(data)  # no hard links on this file system
            return True
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot write the lock: {exc.strerror}", str(self.path)
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _create_in_place(self, data: bytes) -> bool:
        """Exclusive create and write, removing the lock again if the write fails."""
        try:
            _write_new(self.path, data)
        except FileExistsError:
            return False
        return True

    def _holder(self) -> dict | None:
        """The lock's record; None if there is no lock; {} if it cannot be parsed."""
        try:
            holder = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RunLockedError(
                f"cannot read the lock {self.path} ({exc.strerror}); remove it if no run is "
                f"using {self.path.parent}"
            ) from None
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def _unreadable(self) -> None:
        """Raise for an unparseable lock young enough to be still being written; return
        if it is old enough to be stale."""
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return
        if age < UNREADABLE_GRACE_S:
            raise RunLockedError(
                f"the lock {self.path} is empty or unreadable and {age:.0f} s old: another run "
                f"may be starting; try again in {UNREADABLE_GRACE_S:g} s, or remove it if no "
                f"run is using {self.path.parent}"
            )

    @staticmethod
    def _stale(holder: dict) -> bool:
        pid = holder.get("pid")
        same_host = holder.get("host") == socket.gethostname()
        return same_host and isinstance(pid, int) and not _pid_alive(pid)

    def _remove_stale(self, holder: dict) -> None:
        """Remove the lock file if it still holds the stale ``holder``."""
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


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (FileExistsError if it exists) holding ``data``; if writing fails,
    remove it and raise."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    os.close(fd)
