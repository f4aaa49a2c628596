"""Kernel speed gate: a base revision's kernels and the working tree's, timed A/B in one run.

Speed ratios recorded on one machine do not hold on another (the CPU, its
vector width and the BLAS kernel moved them by up to 3.7x, issue 11), so nothing
timed elsewhere is compared. Instead, after asv's ``continuous``, both versions are
timed here, now, interleaved: the base revision is checked out from git into a
temporary worktree, and two persistent worker processes
(``benchmarks/gate_worker.py``) import ``pgbench`` from the worktree (side A,
base) and from the working tree (side B, new). Each compiles and warms up the
cases of ``benchmarks/gate_cases.py`` (one definition, run by both sides; the
two sides compile at the same time, before any timing), then the rounds run:
in round r every case is timed once on each side, A then B or B then A
(alternated by round and case), so the two samples of a pair are taken within a
fraction of a second of each other, and the machine's drifts and other
processes' load fall on both sides alike.

Statistic, per case: a sample is the time of the fastest of ``number`` calls,
each timed alone, after one untimed call (on a busy machine most calls of a
millisecond fall between two interruptions; a mean would carry them);
factor = median(B samples) / median(A samples) over the rounds; p = one-sided
Mann-Whitney U (B slower) over the same samples. Workers run BLAS on one thread
and let idle OpenMP threads sleep: a BLAS thread of one side that spins after
its call takes the core the other side is being timed on (measured: samples of
0.1 ms or 50 ms, nothing between, and an unchanged tree "19x slower"). A
case is ``slower`` iff factor >= 1.25 AND p < 0.05 in two passes: a case that
looks slower is timed again (as many rounds) by two fresh worker processes,
started in the other order, and fails only if that pass says slower too. (An
unchanged tree once read 1.38x, p = 3e-8, on the parallel streaming kernel in one
CI run, and 0.94-1.04x in the six runs that followed: something that favoured one
process for a whole pass, not reproduced; a real slowdown shows in both passes.)
``faster`` iff factor <= 1 / 1.25 and the opposite test has p < 0.05, else
``ok``. Both conditions matter: the factor alone fires on one unlucky stretch,
the test alone on a real but harmless 3 % change once the sample is large.

Exit codes: 0 no case slower; 1 some case slower; 2 bad input (unknown
revision, not a git repository, a shallow clone without the revision, a case
the base revision cannot run, a worker that failed), as one line on stderr;
130 interrupted. The worktree is removed in every case.

    python benchmarks/gate.py                  # base: the commit in benchmarks/gate_base.txt
    python benchmarks/gate.py --base HEAD      # what the uncommitted changes do
    python benchmarks/gate.py --base main --only stream-serial --rounds 10 --json gate.json
    nox -s bench_gate -- --base REV            # the same, in nox
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pgbench.errors import PgbenchError
from pgbench.revisions import checkout, resolve_commit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "gate_worker.py"
BASE_FILE = HERE / "gate_base.txt"
THRESHOLD = 1.25
ALPHA = 0.05
ROUNDS = 20
SETUP_TIMEOUT_S = 900.0  # compiling every case from a cold Numba cache takes ~20 s
SAMPLE_TIMEOUT_S = 120.0
# One BLAS thread (see gate_worker.py); idle OpenMP threads sleep at once instead of
# spinning on the cores the other side is being timed on.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def _load_cases() -> dict:
    """``gate_cases.CASES``, loaded from its file (as the workers import it) without putting
    ``benchmarks/`` on this process's ``sys.path``; it imports neither side's pgbench."""
    spec = importlib.util.spec_from_file_location("gate_cases", HERE / "gate_cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.CASES


CASES = _load_cases()


class GateError(PgbenchError):
    """Bad input or a failed worker: one line on stderr, exit code 2."""


# ---------------------------------------------------------------- statistics


def min_p(n: int) -> float:
    """The smallest one-sided Mann-Whitney p with ``n`` samples a side: 1 / C(2n, n)."""
    return 1.0 / math.comb(2 * n, n)


def judge(base: Sequence[float], new: Sequence[float], threshold=THRESHOLD, alpha=ALPHA) -> dict:
    """``factor`` = median(new) / median(base), ``p`` = one-sided Mann-Whitney U p that new
    is slower (``p_faster``: that it is faster), and ``status``: ``slower`` iff factor >=
    threshold and p < alpha, ``faster`` iff factor <= 1 / threshold and p_faster < alpha,
    else ``ok``. ``base`` and ``new``: seconds per call, one sample per round."""
    from scipy.stats import mannwhitneyu

    factor = statistics.median(new) / statistics.median(base)
    p = float(mannwhitneyu(new, base, alternative="greater").pvalue)
    p_faster = float(mannwhitneyu(new, base, alternative="less").pvalue)
    if factor >= threshold and p < alpha:
        status = "slower"
    elif factor <= 1.0 / threshold and p_faster < alpha:
        status = "faster"
    else:
        status = "ok"
    return {"factor": factor, "p": p, "p_faster": p_faster, "status": status}


# ---------------------------------------------------------------- the base revision


def pinned_base(path: Path = BASE_FILE) -> str:
    """The revision in ``path``: its first line that is neither blank nor a ``#`` comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GateError(f"cannot read {path}: {exc.strerror}; give --base REV") from None
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            return text
    raise GateError(f"{path}: no revision in it; give --base REV")


# ---------------------------------------------------------------- workers


class Worker:
    """A ``gate_worker.py`` process importing ``pgbench`` from ``tree``; requests are JSON
    lines on its stdin, answers JSON lines on its stdout, its stderr goes to a file."""

    def __init__(self, label: str, tree: Path, scratch: Path):
        self.label, self.tree = label, tree
        self.log = scratch / f"worker-{label}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
        env.update(WORKER_ENV)
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=scratch,
                env=env,
            )
        self._buffer = b""

    def send(self, request: dict) -> None:
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GateError(self._died()) from None

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GateError(f"{self.label} worker gave no answer in {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise GateError(self._died())
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _died(self) -> str:
        self.proc.wait(timeout=10)
        tail = self.log.read_text(errors="replace").strip().splitlines()
        last = tail[-1] if tail else "no output"
        return f"{self.label} worker exited (code {self.proc.returncode}): {last}"

    def sample(self, case: str, number: int) -> float:
        self.send({"op": "time", "case": case, "number": number})
        return float(self.receive(SAMPLE_TIMEOUT_S)["seconds"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"op": "quit"})
                self.proc.wait(timeout=10)
            except (GateError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def set_up(workers: list[Worker], names: list[str]) -> dict[str, dict]:
    """Compile the cases on every worker at once; per worker label, its answer. GateError
    if a worker imported ``pgbench`` from another tree than its own, or a case failed to
    set up on a side."""
    for w in workers:
        w.send({"op": "setup", "cases": names})
    answers = {w.label: w.receive(SETUP_TIMEOUT_S) for w in workers}
    for w in workers:
        found = Path(answers[w.label]["pgbench"]).resolve()
        if not found.is_relative_to(w.tree.resolve()):
            raise GateError(f"{w.label} worker imported pgbench from {found}, not from {w.tree}")
    broken = [
        (w.label, name, answers[w.label]["cases"][name]["error"])
        for w in workers
        for name in names
        if "error" in answers[w.label]["cases"][name]
    ]
    if broken:
        side, name, error = broken[0]
        names_ = ", ".join(sorted({f"{n} ({s})" for s, n, _ in broken}))
        raise GateError(
            f"missing on one side: {names_}; first: {name} on {side}: {error} "
            "(leave it out with --only, or move --base)"
        )
    return answers


def timed_pair(
    base_tree: Path, scratch: Path, names: list[str], rounds: int, new_first: bool = False
) -> tuple[dict, dict]:
    """Start a base and a new worker (the new one first if ``new_first``), set up
    ``names`` on both and time ``rounds`` rounds: (the times of :func:`time_rounds`, the
    set-up answers per side plus ``ready_at``, the perf_counter when both were ready).
    The workers are closed (killed on an error) before it returns."""
    workers: list[Worker] = []
    try:
        sides = [("base", base_tree), ("new", ROOT)]
        for label, tree in sides[::-1] if new_first else sides:
            workers.append(Worker(label, tree, scratch))
        workers.sort(key=lambda w: w.label != "base")
        answers = set_up(workers, names)
        answers["ready_at"] = time.perf_counter()
        _say(f"both sides ready; timing {rounds} rounds of {len(names)} cases")
        return time_rounds(*workers, names, rounds), answers
    except BaseException:
        for w in workers:
            w.kill()
        raise
    finally:
        for w in workers:
            w.close()


def confirm(first: dict, again: dict | None) -> dict:
    """A case of the first pass with its confirmation pass (None: it was not retimed): it
    stays ``slower`` only if the confirmation, with two fresh worker processes, says so
    too; the row then reports the confirmation's figures and keeps the first pass's."""
    if again is None:
        return first
    status = "slower" if again["status"] == "slower" else "ok"
    return {**again, "status": status, "first_pass": first}


def time_rounds(base: Worker, new: Worker, names: list[str], rounds: int) -> dict:
    """Per case, ``{"base": [s, ...], "new": [s, ...]}`` (seconds per call, one per round).
    One unrecorded warm-up round first; then in round r case i is timed base-then-new when
    r + i is even, new-then-base otherwise."""
    times = {name: {"base": [], "new": []} for name in names}
    for r in range(-1, rounds):
        for i, name in enumerate(names):
            order = (base, new) if (r + i) % 2 == 0 else (new, base)
            for w in order:
                seconds = w.sample(name, CASES[name].number)
                if r >= 0:
                    times[name][w.label].append(seconds)
    return times


# ---------------------------------------------------------------- output


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def table(rows: list[dict], base_label: str, threshold: float, alpha: float) -> str:
    """The rows as a plain-text table with a one-line verdict."""
    head = ("benchmark", "base", "new", "factor", "p", "rounds", "status")
    lines = [
        (
            r["benchmark"],
            _ms(r["base_median_s"]),
            _ms(r["new_median_s"]),
            f"{r['factor']:.3f}",
            f"{r['p']:.2g}",
            str(r["rounds"]),
            r["status"],
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    left = {0, len(head) - 1}

    def fmt(cells) -> str:
        return "  ".join(
            str(c).ljust(w) if i in left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    slower = [r["benchmark"] for r in rows if r["status"] == "slower"]
    verdict = (
        f"FAIL: {len(slower)} of {len(rows)} benchmarks slower than base {base_label}"
        if slower
        else f"PASS: none of {len(rows)} benchmarks slower than base {base_label}"
    )
    rule = f"slower = factor >= {threshold:g} and one-sided Mann-Whitney p < {alpha:g}"
    out = [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, lines)]
    out.append(f"{verdict} ({rule}; factor = median new / median base, per call)")
    return "\n".join(out)


def rows_of(times: dict, threshold: float, alpha: float) -> list[dict]:
    rows = []
    for name, t in times.items():
        verdict = judge(t["base"], t["new"], threshold, alpha)
        rows.append(
            {
                "benchmark": name,
                "base_median_s": statistics.median(t["base"]),
                "new_median_s": statistics.median(t["new"]),
                "rounds": len(t["new"]),
                **verdict,
                "base_s": t["base"],
                "new_s": t["new"],
            }
        )
    return rows


# ---------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python benchmarks/gate.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--base",
        default=None,
        metavar="REV",
        help=f"git revision to compare the working tree with (default: the commit in "
        f"{BASE_FILE.relative_to(ROOT)})",
    )
    p.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"samples per case and side (default {ROUNDS})"
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"time only these cases (of: {', '.join(CASES)})",
    )
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="slowdown factor that fails")
    p.add_argument("--alpha", type=float, default=ALPHA, help="significance level of the test")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write every sample")
    p.add_argument(
        "--no-confirm",
        dest="confirm",
        action="store_false",
        help="fail on the first pass (default: a case that looks slower is timed again with "
        "two fresh worker processes and fails only if that says so too)",
    )
    return p


def check_args(args: argparse.Namespace) -> list[str]:
    """The case names to time; GateError on an unknown name or too few rounds."""
    names = list(dict.fromkeys(args.only or CASES))
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise GateError(f"unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    if args.threshold <= 1.0 or not 0.0 < args.alpha < 1.0:
        raise GateError("--threshold must be > 1 and --alpha in (0, 1)")
    if min_p(max(args.rounds, 1)) >= args.alpha:
        need = next(n for n in range(1, 100) if min_p(n) < args.alpha)
        raise GateError(
            f"--rounds {args.rounds} is too few for the test to reach p < {args.alpha:g} "
            f"(needs at least {need})"
        )
    return names


def _say(line: str) -> None:
    print(f"gate: {line}", file=sys.stderr, flush=True)


def gate(args: argparse.Namespace) -> int:
    names = check_args(args)
    rev = args.base or pinned_base()
    sha = resolve_commit(ROOT, rev)
    label = sha[:12] if rev == sha else f"{rev} ({sha[:12]})"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pgbench-gate-") as tmp, checkout(ROOT, sha, tmp) as wt:
        _say(f"base {label} checked out; compiling {len(names)} cases on both sides")
        times, answers = timed_pair(wt, Path(tmp), names, args.rounds)
        compiled = answers.pop("ready_at") - start
        rows = rows_of(times, args.threshold, args.alpha)
        suspects = [r["benchmark"] for r in rows if r["status"] == "slower"]
        if suspects and args.confirm:
            _say(
                f"{', '.join(suspects)} slower; confirming with two fresh workers "
                f"({args.rounds} more rounds)"
            )
            again, _ = timed_pair(wt, Path(tmp), suspects, args.rounds, new_first=True)
            confirmed = {r["benchmark"]: r for r in rows_of(again, args.threshold, args.alpha)}
            rows = [confirm(r, confirmed.get(r["benchmark"])) for r in rows]
            for r in rows:
                if "first_pass" in r:
                    f = r["first_pass"]
                    _say(
                        f"{r['benchmark']}: first pass factor {f['factor']:.3f} (p {f['p']:.2g}), "
                        f"fresh workers factor {r['factor']:.3f} (p {r['p']:.2g}): {r['status']}"
                    )
    print(table(rows, label, args.threshold, args.alpha))
    total = time.perf_counter() - start
    print(f"gate: {compiled:.0f} s to check out and compile both sides, {total:.0f} s in all")
    if args.json is not None:
        _write_json(args.json, rev, sha, args, rows, answers, compiled, total)
    return 1 if any(r["status"] == "slower" for r in rows) else 0


def _write_json(path: Path, rev, sha, args, rows, answers, compiled, total) -> None:
    data = {
        "base": {"rev": rev, "commit": sha},
        "new": str(ROOT),
        "threshold": args.threshold,
        "alpha": args.alpha,
        "statistic": "sample = seconds of the fastest of `number` calls; factor = median "
        "new / median base; p = one-sided Mann-Whitney U (new slower)",
        "setup_seconds": compiled,
        "seconds": total,
        "compile_seconds": {side: a["cases"] for side, a in answers.items()},
        "cases": rows,
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise GateError(f"--json: cannot write {path}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups
    try:
        return gate(args)
    except PgbenchError as exc:  # GateError, RevisionError
        print(f"gate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gate: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
