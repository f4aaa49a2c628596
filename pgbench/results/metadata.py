"""``metadata.json`` of a run: the suite, its report settings, the cells, versions, the git
commit (and a digest of uncommitted changes), the machine, Numba threading, compile times."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

from pgbench.kernels import runtime_info
from pgbench.results.files import METADATA, atomic_write_text
from pgbench.version import __version__


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


_REPO = Path(__file__).resolve().parents[2]  # the checkout pgbench runs from, if any


_PACKAGE = "pgbench"


def _git(*args: str, repo: Path = _REPO) -> bytes | None:
    """Output of ``git -C repo ARGS`` (None where git or the repository is missing)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_info(repo: Path = _REPO) -> dict:
    """Commit of the source tree at ``repo`` and whether it differs from it, counting only
    changes that can alter results: modified tracked files and untracked files inside the
    package (not a ``.venv/``, ``results/`` or build output). A dirty tree also gets
    ``diff_sha256``, the sha256 of ``git diff HEAD`` and the untracked package files
    (names and contents), so runs from the same uncommitted code carry the same digest.
    Commit and dirty are None where ``repo`` is not the top of a git checkout (an installed
    package inside some other repository is not its checkout)."""
    top = _git("rev-parse", "--show-toplevel", repo=repo)
    commit = _git("rev-parse", "HEAD", repo=repo)
    if top is None or commit is None or Path(top.decode().strip()).resolve() != repo.resolve():
        return {"commit": None, "dirty": None}
    modified = _git("status", "--porcelain", "--untracked-files=no", repo=repo)
    untracked = _git("ls-files", "-z", "--others", "--exclude-standard", "--", _PACKAGE, repo=repo)
    diff = _git("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", repo=repo)
    if modified is None or untracked is None or diff is None:
        return {"commit": commit.decode().strip(), "dirty": None}
    new_files = sorted(name for name in untracked.decode().split("\0") if name)
    info = {"commit": commit.decode().strip(), "dirty": bool(modified.strip() or new_files)}
    if info["dirty"]:
        digest = hashlib.sha256(diff)
        for name in new_files:
            digest.update(b"\0" + name.encode() + b"\0")
            path = repo / name
            digest.update(path.read_bytes() if path.is_file() else b"")
        info["diff_sha256"] = digest.hexdigest()
    return info


def numba_info() -> dict:
    """Numba version, threading layer, threads, CPU lanes and the kernel source hash."""
    return runtime_info()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, where ``platform.processor()`` is
    empty), else ``platform.processor()`` or ``platform.machine()``: timings of one run are
    only comparable with timings taken on the same model."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_metadata(suite, suite_text: str, suite_file: str | None, cells: list, **extra) -> dict:
    """The ``metadata.json`` object of a run of ``suite`` over ``cells``."""
    return {
        "pgbench": __version__,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "suite": {
            "name": suite.name,
            "experiment": suite.experiment,
            "file": suite_file,
            "text": suite_text,
        },
        "settings": suite.report_settings(),
        "cells": [c.hash for c in cells],
        "versions": {
            "python": platform.python_version(),
            **{
                d: _version(d)
                for d in (
                    "numpy",
                    "numba",
                    "pandas",
                    "pyarrow",
                    "pydantic",
                    "matplotlib",
                    "llvmlite",
                )
            },
        },
        "git": git_info(),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "numba": numba_info(),
        **extra,
    }


def write_metadata(run_dir: Path, meta: dict) -> Path:
    path = Path(run_dir) / METADATA
    atomic_write_text(path, json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return path


def read_metadata(run_dir: Path) -> dict:
    """``metadata.json`` of ``run_dir``, or {} where it is missing or not a JSON object."""
    try:
        meta = json.loads((Path(run_dir) / METADATA).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def compile_block(seconds: dict[str, float]) -> dict:
    """The ``compile`` entry of ``metadata.json``: the Numba compile (or cache load)
    seconds that cells reported, kept out of their ``seconds`` metric, in total and per
    cell hash."""
    cells = {h: round(float(s), 6) for h, s in seconds.items()}
    return {"seconds": round(sum(cells.values()), 6), "cells": cells}
