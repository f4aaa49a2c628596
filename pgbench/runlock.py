"""A lock file that stops two runs writing one run directory at the same time.

The lock records pid, host, start time and command; a lock left by a dead
process on this host is stale and taken over; one from another host cannot be
checked and stops the run until removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from pgbench.errors import PgbenchError

LOCK = "run.lock"


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
