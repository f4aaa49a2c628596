"""Kernel speed gate: benchmark times as ratios to a reference timed in the same run.

A shared CI machine may be faster or slower than the one that made the baseline,
and its speed drifts from minute to minute; so no wall time is compared. Each
gated benchmark is divided by a reference benchmark of the same pytest run
(CartPole kernels by the Gymnasium vector environment, network passes by the
plain-numpy forward pass), and that ratio is compared with the committed one in
``benchmarks/baseline.json``: the gate fails (exit 1) when a ratio grew by more
than the threshold (1.25: 25% slower relative to its reference).

Times are the minimum over rounds (pytest-benchmark's ``min``: the least
disturbed round), and the whole pytest run is repeated ``--repeat`` times,
keeping each benchmark's minimum over all of them.

    python benchmarks/gate.py                      # run, compare, print a table; exit 1 if slower
    python benchmarks/gate.py --json run.json      # compare an existing --benchmark-json file
    python benchmarks/gate.py --update             # rewrite benchmarks/baseline.json from a run
    nox -s bench_gate                              # the same as the first line, in nox

Left out of the gate (too noisy on a shared 2-core machine for a 25% threshold, or
dependent on the core count): the parallel CartPole kernels, whose time depends on
whether the other core is free, and the two-thread BLAS network update.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = HERE / "baseline.json"
THRESHOLD = 1.25
REPEAT = 3

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


def node_ids(gated: dict[str, str] = GATED) -> list[str]:
    """The pytest node ids to run: every gated benchmark and every reference, once."""
    return list(dict.fromkeys([*gated, *gated.values()]))


def run_benchmarks(paths: list[Path], ids: list[str]) -> None:
    """Run the benchmarks ``ids`` once per JSON file in ``paths`` (pytest-benchmark writes
    each run's results there), all in this process, so that imports and compiled kernels
    are loaded once and the runs follow each other closely."""
    import pytest

    for path in paths:
        args = [
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-only",
            "--benchmark-columns=min,median,rounds",
            f"--benchmark-json={path}",
            *ids,
        ]
        code = pytest.main(args)
        if code != 0:
            raise SystemExit(f"gate: benchmark run failed (pytest exit code {int(code)})")


def min_times(paths: list[Path]) -> dict[str, float]:
    """Per benchmark (fullname), the least ``stats.min`` (seconds per call) over the
    pytest-benchmark JSON files ``paths``."""
    out: dict[str, float] = {}
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for bench in data["benchmarks"]:
            name, t = bench["fullname"], float(bench["stats"]["min"])
            out[name] = min(t, out.get(name, math.inf))
    return out


def ratios(times: dict[str, float], gated: dict[str, str] = GATED) -> dict[str, dict]:
    """Per gated benchmark present in ``times`` with its reference: ratio = time / reference
    time, with both times."""
    out = {}
    for name, ref in gated.items():
        if name in times and ref in times:
            out[name] = {
                "reference": ref,
                "ratio": times[name] / times[ref],
                "seconds": times[name],
                "reference_seconds": times[ref],
            }
    return out


def compare(current: dict[str, dict], baseline: dict, threshold: float) -> list[dict]:
    """One row per gated benchmark of ``baseline``: baseline and current ratio, their quotient
    ``change`` (> 1: slower relative to the reference) and a status: ``slower`` (fails) when
    change > threshold, ``missing`` (fails) when this run lacks it, else ``ok`` (or
    ``faster`` when change < 1 / threshold)."""
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
        rows.append(
            {
                **row,
                "ratio": cur["ratio"],
                "seconds": cur["seconds"],
                "reference_seconds": cur["reference_seconds"],
                "change": change,
                "status": status,
            }
        )
    return rows


def _short(node: str) -> str:
    return node.split("::", 1)[-1]


def table(rows: list[dict], threshold: float) -> str:
    """The rows as a plain-text table with a one-line verdict."""
    head = ("benchmark", "reference", "time", "ref time", "ratio", "baseline", "change", "status")
    lines = []
    for r in rows:
        seconds = r.get("seconds", math.nan)
        ref = r.get("reference_seconds", math.nan)
        lines.append(
            (
                _short(r["benchmark"]),
                _short(r["reference"]),
                "-" if math.isnan(seconds) else f"{seconds * 1e3:.3f} ms",
                "-" if math.isnan(ref) else f"{ref * 1e3:.3f} ms",
                "-" if math.isnan(r["ratio"]) else f"{r['ratio']:.4f}",
                f"{r['base_ratio']:.4f}",
                "-" if math.isnan(r["change"]) else f"{r['change'] - 1.0:+.1%}",
                r["status"],
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]

    def fmt(cells) -> str:
        return "  ".join(
            str(c).ljust(w) if i < 2 or i == 7 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    bad = [r for r in rows if r["status"] in ("slower", "missing")]
    verdict = "FAIL" if bad else "PASS"
    out = [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, lines)]
    out.append(
        f"{verdict}: {len(rows)} benchmarks, {len(bad)} slower than {threshold:g}x their "
        "baseline ratio to the in-run reference (or missing)"
    )
    return "\n".join(out)


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "system": platform.system(),
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--json",
        type=Path,
        action="append",
        default=None,
        help="compare these pytest-benchmark JSON files (repeatable) instead of running",
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
        help=f"pytest runs; each benchmark's minimum over all of them (default {REPEAT})",
    )
    p.add_argument("--update", action="store_true", help="write the baseline from this run")
    p.add_argument("--keep", type=Path, default=None, help="copy the run's JSON files here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.chdir(ROOT)  # node ids and pyproject.toml's pytest settings are relative to the root
    if args.json:
        paths = list(args.json)
        times = min_times(paths)
    else:
        with tempfile.TemporaryDirectory(prefix="pgbench-gate-") as tmp:
            paths = [Path(tmp) / f"run{k}.json" for k in range(args.repeat)]
            run_benchmarks(paths, node_ids())
            times = min_times(paths)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in paths:
                    (args.keep / path.name).write_bytes(path.read_bytes())
    current = ratios(times)
    if args.update:
        command = "python benchmarks/gate.py --update" + (
            f" --repeat {args.repeat}" if args.repeat != REPEAT else ""
        )
        baseline = {
            "command": command,
            "threshold": args.threshold or THRESHOLD,
            "statistic": "min over rounds and over --repeat pytest runs; ratio = time / "
            "reference time",
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "ratios": current,
        }
        args.baseline.write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.baseline} ({len(current)} ratios)")
        return 0
    try:
        baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"gate: error: cannot read baseline {args.baseline}: {exc}", file=sys.stderr)
        return 2
    threshold = args.threshold or baseline.get("threshold", THRESHOLD)
    rows = compare(current, baseline, threshold)
    print(table(rows, threshold))
    return 1 if any(r["status"] in ("slower", "missing") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
