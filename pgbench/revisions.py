"""A git revision checked out into a temporary worktree, to time base and new code side by side.

Used by ``benchmarks/gate.py`` (the kernel speed gate) and ``pgbench side-by-side``: both
run the code of a revision next to the working tree's on one machine, and both build that
revision from git, never from a copy of numbers. A worktree shares the repository's object
store, so checking one out is quick and needs no network; it is removed on the way out,
also after an error or an interrupt.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pgbench.errors import PgbenchError


class RevisionError(PgbenchError):
    """No git, not a git repository, or a revision the clone does not have (one line)."""


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``git -C repo ARGS`` (output captured, never raises on a non-zero exit)."""
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RevisionError("git is not installed; revisions are checked out with git") from None


def toplevel(path: Path) -> Path:
    """The root of the git working tree that holds ``path``."""
    found = git(path, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise RevisionError(f"{path} is not in a git repository; cannot check out a revision")
    return Path(found.stdout.strip())


def resolve_commit(repo: Path, rev: str) -> str:
    """The full commit id of ``rev`` in ``repo``; RevisionError if ``repo`` is no git
    repository or lacks the revision (saying how to fix a shallow clone)."""
    if git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise RevisionError(f"{repo} is not a git repository; cannot check out {rev!r}")
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.strip()
    if git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        raise RevisionError(
            f"revision {rev!r} is not in this shallow clone of {repo}; "
            "run `git fetch --unshallow` and try again"
        )
    raise RevisionError(f"unknown revision {rev!r} (not a commit of {repo})")


@contextmanager
def checkout(repo: Path, sha: str, parent: Path) -> Iterator[Path]:
    """A detached worktree of commit ``sha`` of ``repo``, at ``parent/base-<sha[:12]>``;
    removed (and pruned from ``repo``'s list of worktrees) on exit."""
    path = Path(parent) / f"base-{sha[:12]}"
    made = git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
    if made.returncode != 0:
        line = (made.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
        raise RevisionError(f"cannot check out {sha[:12]}: {line}")
    try:
        yield path
    finally:
        git(repo, "worktree", "remove", "--force", str(path))
        shutil.rmtree(path, ignore_errors=True)
        git(repo, "worktree", "prune")
