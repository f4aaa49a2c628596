"""Developer sessions: ``nox -s tests`` (the CI gate), ``nox -s lint``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """pytest, then the CUDA-simulator tests (marked ``cudasim``) in their own process."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-q", *session.posargs)
    session.run(
        "pytest", "-q", "-m", "cudasim", *session.posargs, env={"NUMBA_ENABLE_CUDASIM": "1"}
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")


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
