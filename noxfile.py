"""Developer sessions: ``nox -s tests`` (the CI gate), ``nox -s lint``, ``nox -s bench``,
``nox -s regression`` (the CI suites against their baseline), ``nox -s bench_gate`` (kernel
speed against a base revision's, timed side by side)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
CI_SUITES = ROOT / "suites" / "ci"  # small suites, one experiment kind per file
BASELINE = ROOT / "results" / "baseline"  # one committed run directory per CI suite


@nox.session
def tests(session: nox.Session) -> None:
    """The import contracts (``lint-imports``), pytest, then the CUDA-simulator tests (marked
    ``cudasim``) in their own process, then
    the regression gate: the CI suites against their committed baseline, and the kernel
    speed gate: ``benchmarks/gate.py`` times the working tree's kernels against those of the
    commit pinned in ``benchmarks/gate_base.txt`` (checked out into a git worktree), A/B
    interleaved on this machine, and fails where one is >= 1.25x slower with Mann-Whitney
    p < 0.05 (needs the pinned commit in the clone: ``git fetch --unshallow`` in a shallow
    one). The dask and mujoco extras are installed so that the dask executor and the MuJoCo
    path are tested too."""
    session.install("-e", ".[dev,dask,mujoco]")
    session.run("lint-imports")  # the import contracts of pyproject.toml
    session.run("pytest", "-q", *session.posargs)
    session.run(
        "pytest", "-q", "-m", "cudasim", *session.posargs, env={"NUMBA_ENABLE_CUDASIM": "1"}
    )
    _regression_gate(session)
    session.run("python", "benchmarks/gate.py")


def _suite_name(path: Path) -> str:
    """The ``name:`` of a suite file (its run directory name)."""
    match = re.search(r"^name:\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*$", path.read_text(), re.M)
    if match is None:
        raise ValueError(f"{path}: no top-level 'name:' key")
    return match.group(1)


def _regression_gate(session: nox.Session) -> None:
    """Run every suite of ``suites/ci/`` into a fresh directory, then ``pgbench compare`` it
    with its baseline run under ``results/baseline/`` (exit 1 on a significant regression,
    or where the new run lacks results the baseline has)."""
    out = Path(session.create_tmp()) / "ci-runs"
    shutil.rmtree(out, ignore_errors=True)
    for suite in sorted(CI_SUITES.glob("*.yaml")):
        name = _suite_name(suite)
        run_dir = out / name
        session.run("pgbench", "run", str(suite), "--out", str(run_dir), "--quiet")
        session.run("pgbench", "compare", str(BASELINE / name), str(run_dir))


@nox.session
def regression(session: nox.Session) -> None:
    """The CI suites against their committed baseline (part of ``tests``)."""
    session.install("-e", ".[dev]")
    _regression_gate(session)


@nox.session
def bench_gate(session: nox.Session) -> None:
    """The kernel speed gate alone (part of ``tests``): against the pinned base revision, or
    ``nox -s bench_gate -- --base REV [--only CASE ...] [--rounds N]``."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/gate.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree, and the import contracts (import-linter, pyproject.toml)."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("lint-imports")


@nox.session
def bench(session: nox.Session) -> None:
    """Kernel speed (pytest-benchmark), compared as ratios within one run."""
    session.install("-e", ".[dev]")
    session.run(
        "pytest",
        "benchmarks",
        "--benchmark-only",
        "--benchmark-columns=min,median,rounds",
        *session.posargs,
    )
