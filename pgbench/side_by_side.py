"""``pgbench side-by-side SUITE``: time a suite with base code and new code, seed by seed.

Speed numbers of two runs made at different times, or on different machines, do not
compare: the machine's speed drifts and other work loads it. This command runs one
suite twice on this machine, with the base code and with the new code, interleaved:
for each seed s of the suite (in order), ``pgbench run`` of the suite with ``seeds:
[s]`` into ``OUT/base`` with the base code, then into ``OUT/new`` with the new code
(the order alternates from seed to seed, so that a drift of the machine's speed
favours neither side), each in a fresh process with ``--executor serial``. Then a
last ``pgbench run`` of the whole suite on each side, which finds every cell finished
(cell hashes do not depend on the suite's list of seeds) and only writes the run's
table, metadata and report; then, with the new code, ``pgbench compare OUT/base
OUT/new --metrics seconds --paired``: each seed's ``seconds`` of the new code paired
with the same seed's of the base code, the Wilcoxon signed-rank test over the pairs
(6 seeds at least for it to reach p < 0.05).

The base code is a directory put first on ``PYTHONPATH`` (``--base-path DIR``): a
worktree of pgbench at the base revision, or of a plugin package whose modules
``PGBENCH_PLUGINS`` names; or ``--base REV`` checks out revision REV of the git
repository of the current directory into a temporary worktree (its root, and its
``src/`` if it has one, go on ``PYTHONPATH``; removed at the end). The new code is
what this environment imports, or ``--new-path DIR`` put first. Before the first seed,
one warm-up run of the first seed per side (into a temporary directory, not timed)
fills each side's Numba cache, so that no measured seed pays for compiling
(``--no-warmup`` skips it).

Exit codes: compare's (0 no regression, 1 regression); 1 also where a run had failed
cells (the command stops there); 2 bad input (one line), e.g. an invalid suite, a
``--base-path`` that is no directory, an unknown revision; 130 interrupted (the
finished cells are kept: the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pgbench.errors import PgbenchError
from pgbench.revisions import checkout, resolve_commit, toplevel
from pgbench.suite.errors import SuiteError
from pgbench.suite.yaml_reading import read_suite

SIDES = ("base", "new")
RUN_FLAGS = ("--executor", "serial", "--quiet")
# Run in each side's process: the files it imports, and the suite as its code reads it.
_PROBE = """\
import importlib, json, os, sys
import pgbench
from pgbench.errors import PgbenchError
mods = [m.strip() for m in os.environ.get("PGBENCH_PLUGINS", "").split(",") if m.strip()]
files = {m: getattr(importlib.import_module(m), "__file__", None) for m in ["pgbench", *mods]}
try:
    from pgbench.experiments import load_suite
except ImportError:  # a revision from before the suite package
    from pgbench.config import load_suite
try:
    suite = load_suite(sys.argv[1])
except PgbenchError as exc:
    print(str(exc).splitlines()[0], file=sys.stderr)
    sys.exit(2)
print(json.dumps({"files": files, "name": suite.name, "seeds": [int(s) for s in suite.seeds]}))
"""


class SideBySideError(PgbenchError):
    """Bad input to ``pgbench side-by-side`` or a side that cannot run (one line)."""


@dataclass(frozen=True)
class Side:
    """One version of the code: ``paths`` go first on ``PYTHONPATH`` of its processes."""

    name: str
    paths: tuple[Path, ...]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        rest = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
        env["PYTHONPATH"] = os.pathsep.join([*map(str, self.paths), *rest])
        return env

    def python(self, code: str, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
        """``python -c CODE ARGS`` with this side's code. The current directory is taken off
        ``sys.path`` first (``python -c`` and ``-m`` put it there, the ``pgbench`` script
        does not): run from a checkout, it would shadow the base code with the new."""
        return subprocess.run(
            [sys.executable, "-c", f"import sys; del sys.path[0]\n{code}", *args],
            env=self.env(),
            capture_output=capture,
            text=True,
            check=False,
        )


# ``pgbench ARGS`` as the console script runs it (pyproject's entry point).
_CLI = "from pgbench.cli import main\nsys.exit(main(sys.argv[1:]))"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``side-by-side`` subcommand on ``subparsers`` (argparse)."""
    p = subparsers.add_parser(
        "side-by-side",
        help="time a suite with base and new code, interleaved seed by seed on this machine",
        description="Run SUITE seed by seed with the base code and the new code alternately "
        "(each seed on both sides, the order alternating), then compare their `seconds` "
        "seed by seed (pgbench compare --paired). Exit 1: the new code is slower.",
    )
    p.add_argument("suite", type=Path, help="suite YAML file")
    base = p.add_mutually_exclusive_group(required=True)
    base.add_argument(
        "--base-path",
        type=Path,
        metavar="DIR",
        help="base code: a directory put first on PYTHONPATH (a worktree of pgbench or of "
        "your plugin package at the base revision)",
    )
    base.add_argument(
        "--base",
        metavar="REV",
        help="base code: revision REV of the git repository of the current directory, "
        "checked out into a temporary worktree",
    )
    p.add_argument(
        "--new-path",
        type=Path,
        metavar="DIR",
        default=None,
        help="new code: a directory put first on PYTHONPATH (default: what this "
        "environment imports)",
    )
    p.add_argument("--out", type=Path, required=True, help="OUT/base and OUT/new are the runs")
    p.add_argument(
        "--metrics", default="seconds", metavar="M1,M2", help="metrics to compare (seconds)"
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=None,
        metavar="[METRIC=]FACTOR",
        help="passed to pgbench compare (default 1.25)",
    )
    p.add_argument("--alpha", default=None, help="passed to pgbench compare (0.05)")
    p.add_argument("--no-warmup", action="store_true", help="no untimed warm-up run per side")
    return p


# ---------------------------------------------------------------- the two sides


def _directory(path: Path, flag: str) -> Path:
    if not path.is_dir():
        raise SideBySideError(f"{flag} {path}: not a directory")
    return path.resolve()


def _code_paths(root: Path) -> tuple[Path, ...]:
    """What goes on PYTHONPATH for a checkout at ``root``: the root, and ``src/`` if any."""
    return (root, root / "src") if (root / "src").is_dir() else (root,)


def sides(args: argparse.Namespace, stack: ExitStack) -> dict[str, Side]:
    """The base and new :class:`Side` of ``args``; a ``--base REV`` worktree is removed
    when ``stack`` closes."""
    if args.base is not None:
        repo = toplevel(Path.cwd())
        sha = resolve_commit(repo, args.base)
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="pgbench-sbs-"))
        base = _code_paths(stack.enter_context(checkout(repo, sha, Path(scratch))))
    else:
        base = (_directory(args.base_path, "--base-path"),)
    new = (_directory(args.new_path, "--new-path"),) if args.new_path else ()
    return {"base": Side("base", base), "new": Side("new", new)}


def probe(side: Side, suite: Path) -> dict:
    """What ``side``'s code makes of ``suite``: ``files`` (module -> file it imports, for
    pgbench and each ``PGBENCH_PLUGINS`` module), the suite's ``name`` and ``seeds``. A
    suite that side's code rejects raises its SuiteError line (naming the side)."""
    done = side.python(_PROBE, str(suite))
    if done.returncode == 2:
        raise SuiteError(f"{_last_line(done)} (with the {side.name} code)")
    if done.returncode != 0:
        raise SideBySideError(f"{side.name} code cannot load pgbench: {_last_line(done)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


# ---------------------------------------------------------------- the runs


def seed_suites(text: str, seeds: Sequence[int], folder: Path, stem: str) -> dict[int, Path]:
    """One suite file per seed in ``folder``: the suite ``text`` with ``seeds: [s]``."""
    import yaml

    data = yaml.safe_load(text)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for s in seeds:
        data["seeds"] = [int(s)]
        path = folder / f"{stem}-seed{s}.yaml"
        path.write_text(
            f"# seed {s} of {stem}, written by pgbench side-by-side\n"
            + yaml.safe_dump(data, sort_keys=False),
            encoding="utf-8",
        )
        files[s] = path
    return files


_SUMMARY = re.compile(r"(\d+) cells: (\d+) run, (\d+) already finished, (\d+) failed")


class RunFailed(Exception):
    """A ``pgbench run`` exited 1 (failed cells); carries the message."""


def pgbench_run(side: Side, suite: Path, out: Path) -> tuple[float, int]:
    """``pgbench run SUITE --out OUT --executor serial --quiet`` with ``side``'s code;
    (wall seconds, cells it ran). Exit 2 -> SideBySideError, 1 -> RunFailed, 130 or 143
    -> KeyboardInterrupt."""
    start = time.perf_counter()
    done = side.python(_CLI, "run", str(suite), "--out", str(out), *RUN_FLAGS)
    seconds = time.perf_counter() - start
    where = f"{side.name}: pgbench run {suite.name}"
    if done.returncode in (130, 143):  # interrupted, or terminated (SIGTERM)
        raise KeyboardInterrupt
    if done.returncode == 2:
        raise SideBySideError(f"{where}: {_last_line(done)}")
    if done.returncode != 0:
        raise RunFailed(f"{where} exited {done.returncode}: {_last_line(done)}")
    found = _SUMMARY.search(done.stdout)
    return seconds, int(found.group(2)) if found else -1


def _order(i: int) -> tuple[str, str]:
    return SIDES if i % 2 == 0 else SIDES[::-1]


def run_seeds(sides_: dict[str, Side], files: dict[int, Path], out: Path, say) -> None:
    """Each seed on both sides, base first for the 1st, 3rd, ... seed, new first for the
    others."""
    for i, (seed, path) in enumerate(files.items()):
        took = {}
        for name in _order(i):
            took[name], _ = pgbench_run(sides_[name], path, out / name)
        say(
            f"seed {seed}: base {took['base']:.1f} s, new {took['new']:.1f} s "
            f"({' then '.join(_order(i))}; whole processes)"
        )


def compare_runs(new: Side, out: Path, args: argparse.Namespace) -> int:
    """``pgbench compare OUT/base OUT/new --metrics M --paired`` with the new code (its
    plugins registered, so that the suite reads), output passed through; its exit code."""
    argv = ["compare", str(out / "base"), str(out / "new"), "--metrics", args.metrics]
    argv.append("--paired")
    for t in args.threshold or []:
        argv += ["--threshold", t]
    if args.alpha is not None:
        argv += ["--alpha", str(args.alpha)]
    sys.stdout.flush()
    return new.python(_CLI, *argv, capture=False).returncode


def run(args: argparse.Namespace) -> int:
    """Execute ``pgbench side-by-side`` for parsed ``args``; returns the exit code. Bad
    input raises :class:`SideBySideError` (a PgbenchError: one line, exit 2)."""
    text = read_suite(args.suite)  # the suite's keys are checked by each side's code below

    def say(line: str) -> None:
        print(f"side-by-side: {line}", file=sys.stderr, flush=True)

    with ExitStack() as stack:
        both = sides(args, stack)
        found = {name: probe(side, args.suite) for name, side in both.items()}
        for name in SIDES:
            say(f"{name}: " + ", ".join(f"{m} from {f}" for m, f in found[name]["files"].items()))
        if found["base"]["files"] == found["new"]["files"]:
            say("warning: base and new import the same files; this times one code twice")
        seeds, suite_name = found["new"]["seeds"], found["new"]["name"]
        if len(seeds) < 6:
            say(
                f"warning: {len(seeds)} seeds; the signed-rank test needs 6 pairs at least "
                "to reach p < 0.05"
            )
        files = seed_suites(text, seeds, args.out / "suites", suite_name)
        try:
            if not args.no_warmup:
                warm = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sbs-warm-")))
                first = files[seeds[0]]
                for name in SIDES:
                    pgbench_run(both[name], first, warm / name)
            run_seeds(both, files, args.out, say)
            for name in SIDES:
                _, ran = pgbench_run(both[name], args.suite.resolve(), args.out / name)
                if ran > 0:
                    say(
                        f"warning: the whole-suite run of {name} ran {ran} cells the seed runs "
                        "had not (its cell hashes depend on the seed list?); their seconds "
                        "were not timed side by side"
                    )
        except RunFailed as exc:
            print(f"pgbench: error: {exc}", file=sys.stderr)
            return 1
    return compare_runs(both["new"], args.out, args)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pgbench.side_by_side ...``: the subcommand on its own."""
    parser = argparse.ArgumentParser(prog="pgbench")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["side-by-side", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except PgbenchError as exc:  # as pgbench.cli.main reports them
        line = str(exc) if isinstance(exc, SuiteError) else f"pgbench: error: {exc}"
        print(line.splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "pgbench: interrupted (finished cells are kept; run again to resume)", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
