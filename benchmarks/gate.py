"""Kernel speed gate: benchmark times as ratios to a reference timed in the same run.

A shared CI machine may be faster or slower than the one that made the baseline,
and its speed drifts (on the 2-core VMs this was written on, it switches between
a fast and a 1.5x slower state every few seconds); so no wall time is compared.
Each gated benchmark is divided by a reference benchmark timed next to it in the
same pytest run (the CartPole kernel by the Gymnasium vector environment, the
network passes by the plain-numpy forward pass), and that ratio is compared
with the committed one in ``benchmarks/baseline.json``: the gate fails (exit 1)
when a ratio grew by more than the threshold (1.25: 25% slower relative to its
reference).

Statistic: per pytest run, time = pytest-benchmark's ``min`` over rounds (the
least disturbed round) and ratio = time / reference time; the pytest run is
repeated ``--repeat`` times in one process (each gated benchmark next to its
reference, the order reversed every other run), and the gate compares the
median of the per-run ratios. A benchmark whose median looks slower is timed
``--repeat`` more times (with its reference), up to ``--retries`` times, and
judged on the median over all its runs: a real slowdown shows in every run, a
slow spell of a shared machine in few.

    python benchmarks/gate.py                      # run, compare, print a table; exit 1 if slower
    python benchmarks/gate.py --json a.json --json b.json   # judge existing --benchmark-json runs
    python benchmarks/gate.py --update --repeat 9  # rewrite benchmarks/baseline.json from a run
    nox -s bench_gate                              # the first line, in nox

Left out of the gate: the parallel CartPole kernels (``prange`` over both cores:
their time depends on whether the other core is free, against a one-core
reference), the two-thread BLAS network update (the same), and the Fisher-vector
product (4 s per run, for little more coverage than the backward pass).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = HERE / "baseline.json"
THRESHOLD = 1.25
REPEAT = 3
RETRIES = 2

CARTPOLE = "benchmarks/test_cartpole_throughput.py"
NETS = "benchmarks/test_nets.py"
GYM_REF = f"{CARTPOLE}::test_gymnasium_vector_reference"
NUMPY_REF = f"{NETS}::test_policy_forward_numpy_reference"

# gated benchmark (pytest node id) -> its reference in the same run
GATED: dict[str, str] = {
    f"{CARTPOLE}::test_streaming_kernel[serial]": GYM_REF,
    f"{NETS}::test_policy_forward": NUMPY_REF,
    f"{NETS}::test_policy_backward": NUMPY_REF,
    f"{NETS}::test_value_forward_backward": NUMPY_REF,
    f"{NETS}::test_ppo_minibatch_update": NUMPY_REF,
}


def node_ids(gated: dict[str, str] = GATED, reverse: bool = False) -> list[str]:
    """The pytest node ids of one run, each reference in the middle of the benchmarks
    divided by it (so that they are timed within seconds of it); reversed if ``reverse``."""
    ids: list[str] = []
    for ref in dict.fromkeys(gated.values()):
        group = [name for name, r in gated.items() if r == ref]
        half = (len(group) + 1) // 2
        ids += [*group[:half], ref, *group[half:]]
    return ids[::-1] if reverse else ids


def run_benchmarks(paths: list[Path], gated: dict[str, str] = GATED) -> None:
    """Run the benchmarks of ``gated`` (and their references) once per JSON file in
    ``paths`` (pytest-benchmark writes each run's results there), all in this process, so
    that imports and compiled kernels are loaded once."""
    import pytest

    cwd = os.getcwd()
    os.chdir(ROOT)  # node ids and pyproject.toml's pytest settings are relative to the root
    try:
        for k, path in enumerate(paths):
            args = [
                "-q",
                "-p",
                "no:cacheprovider",
                "--benchmark-only",
                "--benchmark-columns=min,median,rounds",
                f"--benchmark-json={Path(cwd, path)}",
                *node_ids(gated, reverse=k % 2 == 1),
            ]
            code = pytest.main(args)
            if code != 0:
                raise SystemExit(f"gate: benchmark run failed (pytest exit code {int(code)})")
    finally:
        os.chdir(cwd)


def run_times(path: Path) -> dict[str, float]:
    """Per benchmark (fullname) of one pytest-benchmark JSON file, ``stats.min`` (seconds
    per call)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {b["fullname"]: float(b["stats"]["min"]) for b in data["benchmarks"]}


def ratios(paths: list[Path], gated: dict[str, str] = GATED) -> dict[str, dict]:
    """Per gated benchmark found with its reference in at least one of the runs ``paths``:
    ``ratio`` (median over runs of time / reference time), ``runs`` (the per-run ratios),
    ``seconds`` and ``reference_seconds`` (medians over runs of the per-run minima)."""
    per_run = [run_times(p) for p in paths]
    out = {}
    for name, ref in gated.items():
        pairs = [(t[name], t[ref]) for t in per_run if name in t and ref in t]
        if not pairs:
            continue
        out[name] = {
            "reference": ref,
            "ratio": statistics.median(a / b for a, b in pairs),
            "runs": [a / b for a, b in pairs],
            "seconds": statistics.median(a for a, _ in pairs),
            "reference_seconds": statistics.median(b for _, b in pairs),
        }
    return out


def compare(current: dict[str, dict], baseline: dict, threshold: float) -> list[dict]:
    """One row per gated benchmark of ``baseline``: baseline and current ratio, their quotient
    ``change`` (> 1: slower relative to the reference) and a status: ``slower`` (fails) when
    change > threshold, ``missing`` (fails) when the runs lack it, ``faster`` when change <
    1 / threshold, else ``ok``."""
    rows = []
    for name, base in baseline["ratios"].items():
        cur = current.get(name)
        row = {"benchmark": name, "reference": base["reference"], "base_ratio": base["ratio"]}
        if cur is None:
            rows.append({**row, "ratio": math.nan, "change": math.nan, "status": "missing"})
            continue
        change = cur["ratio"] / base["ratio"]
        if change > threshold:
            status = "slower"
        elif change < 1.0 / threshold:
            status = "faster"
        else:
            status = "ok"
        rows.append({**row, **cur, "change": change, "status": status})
    return rows


def _short(node: str) -> str:
    return node.split("::", 1)[-1]


def table(rows: list[dict], threshold: float) -> str:
    """The rows as a plain-text table with a one-line verdict."""
    head = (
        "benchmark",
        "reference",
        "time",
        "ref time",
        "runs",
        "ratio",
        "range",
        "baseline",
        "change",
        "status",
    )
    lines = []
    for r in rows:
        runs = r.get("runs", [])
        lines.append(
            (
                _short(r["benchmark"]),
                _short(r["reference"]),
                f"{r['seconds'] * 1e3:.3f} ms" if runs else "-",
                f"{r['reference_seconds'] * 1e3:.3f} ms" if runs else "-",
                str(len(runs)),
                f"{r['ratio']:.4f}" if runs else "-",
                f"{min(runs):.4f}-{max(runs):.4f}" if runs else "-",
                f"{r['base_ratio']:.4f}",
                f"{r['change'] - 1.0:+.1%}" if runs else "-",
                r["status"],
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    left = {0, 1, len(head) - 1}

    def fmt(cells) -> str:
        return "  ".join(
            str(c).ljust(w) if i in left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    bad = [r for r in rows if r["status"] in ("slower", "missing")]
    verdict = "FAIL" if bad else "PASS"
    out = [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, lines)]
    out.append(
        f"{verdict}: {len(rows)} benchmarks, {len(bad)} slower than {threshold:g}x their "
        "baseline ratio to the in-run reference (or missing); ratio = median over runs"
    )
    return "\n".join(out)


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "system": platform.system(),
        "cpu_count": os.cpu_count(),
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--json",
        type=Path,
        action="append",
        default=None,
        help="judge these pytest-benchmark JSON files, one per run (repeatable), instead of "
        "running the benchmarks",
    )
    p.add_argument("--baseline", type=Path, default=BASELINE, help="baseline ratios (JSON)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"fail when a ratio grew by more than this factor (default: the baseline's, "
        f"else {THRESHOLD})",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=REPEAT,
        help=f"pytest runs; the gate judges the median ratio over them (default {REPEAT})",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=RETRIES,
        help="times the benchmarks that look slower are timed --repeat more times before "
        f"failing (default {RETRIES})",
    )
    p.add_argument("--update", action="store_true", help="write the baseline from this run")
    p.add_argument("--keep", type=Path, default=None, help="copy the runs' JSON files here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pgbench-gate-") as tmp:
        if args.json:
            paths = list(args.json)
        else:
            paths = [Path(tmp) / f"run{k}.json" for k in range(args.repeat)]
            run_benchmarks(paths)
        current = ratios(paths)
        if args.update:
            _keep(args.keep, paths)
            return _write_baseline(args, current)
        try:
            baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"gate: error: cannot read baseline {args.baseline}: {exc}", file=sys.stderr)
            return 2
        threshold = args.threshold or baseline.get("threshold", THRESHOLD)
        rows = compare(current, baseline, threshold)
        for attempt in range(0 if args.json else args.retries):
            slow = {r["benchmark"]: r["reference"] for r in rows if r["status"] == "slower"}
            if not slow:
                break
            print(
                f"gate: {len(slow)} benchmark(s) look slower; timing them {args.repeat} more "
                f"times (retry {attempt + 1} of {args.retries})"
            )
            more = [Path(tmp) / f"retry{attempt}_{k}.json" for k in range(args.repeat)]
            run_benchmarks(more, slow)
            paths += more
            current = ratios(paths)
            rows = compare(current, baseline, threshold)
        _keep(args.keep, paths)
    print(table(rows, threshold))
    return 1 if any(r["status"] in ("slower", "missing") for r in rows) else 0


def _keep(folder: Path | None, paths: list[Path]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        (folder / Path(path).name).write_bytes(Path(path).read_bytes())


def _write_baseline(args: argparse.Namespace, current: dict[str, dict]) -> int:
    command = "python benchmarks/gate.py --update" + (
        f" --repeat {args.repeat}" if args.repeat != REPEAT else ""
    )
    baseline = {
        "command": command,
        "threshold": args.threshold or THRESHOLD,
        "statistic": "per run: time = min over rounds, ratio = time / reference time; "
        "ratio = median over runs",
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "ratios": current,
    }
    args.baseline.write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.baseline} ({len(current)} ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
