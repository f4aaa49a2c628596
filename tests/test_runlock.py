"""The run directory's lock: written whole or not at all, and what an unreadable one means."""

from __future__ import annotations

import errno
import json
import os
import time

import pytest

from pgbench.run.runlock import LOCK, UNREADABLE_GRACE_S, RunLock, RunLockedError


def leftovers(run_dir) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir())


def test_the_lock_names_its_holder_and_goes_on_release(tmp_path):
    with RunLock(tmp_path) as lock:
        holder = json.loads((tmp_path / LOCK).read_text())
        assert holder["pid"] == os.getpid() and lock.held
        assert leftovers(tmp_path) == [LOCK]  # the temporary file is gone
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("written", [0, 7])  # nothing, or a few bytes, before the disk is full
def test_a_full_disk_leaves_no_lock_and_says_so(tmp_path, monkeypatch, written):
    real_write = os.write

    def full_disk(fd, data):
        if written and len(data) > written:
            return real_write(fd, bytes(data[:written]))  # a short write, then ENOSPC
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError) as info:
        RunLock(tmp_path).acquire()
    assert info.value.filename == str(tmp_path / LOCK)
    assert info.value.strerror == "cannot write the lock: No space left on device"
    assert leftovers(tmp_path) == []
    monkeypatch.undo()  # space again: the next run is not blocked
    with RunLock(tmp_path):
        pass


def test_without_hard_links_the_lock_is_created_in_place_and_removed_on_failure(
    tmp_path, monkeypatch
):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with RunLock(tmp_path):
        assert leftovers(tmp_path) == [LOCK]
        with pytest.raises(RunLockedError, match="is in use by another run"):
            RunLock(tmp_path).acquire()
    assert leftovers(tmp_path) == []

    def failing_fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="cannot write the lock: Input/output error"):
        RunLock(tmp_path).acquire()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b'{"pid": 12', b"[1, 2]", b"\xff\xfe"])
def test_an_old_unreadable_lock_is_stale_and_taken_over(tmp_path, content):
    path = tmp_path / LOCK
    path.write_bytes(content)
    old = time.time() - UNREADABLE_GRACE_S - 1
    os.utime(path, (old, old))
    with RunLock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert leftovers(tmp_path) == []


def test_a_fresh_unreadable_lock_asks_to_try_again(tmp_path):
    path = tmp_path / LOCK
    path.write_bytes(b"")
    with pytest.raises(RunLockedError) as info:
        RunLock(tmp_path).acquire()
    message = str(info.value)
    assert message.startswith(f"the lock {path} is empty or unreadable and ")
    assert f"try again in {UNREADABLE_GRACE_S:g} s, or remove it" in message
    assert "pid ?" not in message and "\n" not in message
    assert path.read_bytes() == b""  # left for its writer


def test_a_lock_that_cannot_be_read_at_all_is_one_line(tmp_path):
    (tmp_path / LOCK).mkdir()
    with pytest.raises(RunLockedError) as info:
        RunLock(tmp_path).acquire()
    assert str(info.value) == (
        f"cannot read the lock {tmp_path / LOCK} (Is a directory); remove it if no run is "
        f"using {tmp_path}"
    )
