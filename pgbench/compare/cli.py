"""The ``pgbench compare`` subcommand: its flags (:func:`add_parser`) and :func:`run`,
which reads both sides (:func:`load_side`) and NEW's recorded settings, compares (with
the aggregate verdict across tasks where asked for), writes the JSON verdict
(:func:`write_verdict`) and then prints the report."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
from rich.console import Console

from pgbench.compare.aggregate import aggregate_check, run_settings
from pgbench.compare.errors import CompareError
from pgbench.compare.pairing import PAIR_BY
from pgbench.compare.render import report
from pgbench.compare.settings import recorded_spec, resolve_settings
from pgbench.compare.verdict import compare
from pgbench.results import ResultsError, atomic_write_text, load_results

JSON_NAME = "compare.json"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``compare`` subcommand on ``subparsers`` (argparse); returns its parser."""
    p = subparsers.add_parser(
        "compare",
        help="compare a run against a baseline run (CI regression check)",
        description="Pair the results of BASE and NEW by configuration (or label) and seed; "
        "fail (exit 1) where a metric got worse than the threshold factor and both Welch's "
        "t-test and the Mann-Whitney U test (--paired: the Wilcoxon signed-rank test) call it "
        "significant, where NEW lacks results BASE has, or (--strict) where the seeds could "
        "not detect a change of the threshold size; with --aggregate, also where an "
        "algorithm's IQM of normalized scores across tasks got significantly worse. Exit 2: "
        "bad input.",
    )
    p.add_argument("base", type=Path, help="baseline run directory (or Parquet file)")
    p.add_argument("new", type=Path, help="new run directory (or Parquet file)")
    p.add_argument(
        "--threshold",
        action="append",
        metavar="[METRIC=]FACTOR",
        default=None,
        help="fail when a metric is worse by this factor (default 1.25, i.e. 25%%; "
        "METRIC=FACTOR for one metric; repeatable)",
    )
    p.add_argument("--alpha", default=None, help="significance level of the tests (0.05)")
    p.add_argument(
        "--metrics",
        default=None,
        metavar="M1,M2",
        help="metrics to compare (default: every metric with a direction but seconds)",
    )
    p.add_argument(
        "--pair-by",
        choices=PAIR_BY,
        default=None,
        help="pair rows by configuration (parameters; the default) or by label (env, "
        "policy, theta and method labels: compares a method whose parameters changed)",
    )
    p.add_argument(
        "--paired",
        action="store_true",
        help="pair the values by seed and use the Wilcoxon signed-rank test (runs made side "
        "by side, e.g. --metrics seconds)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail rows whose seeds could not detect a change of the threshold size",
    )
    p.add_argument(
        "--aggregate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also compare each algorithm's IQM of normalized final scores across the tasks "
        "of a learning-curve run (BASE's score ranges); fails where it is worse by more than "
        "--aggregate-threshold and its bootstrap interval excludes 0 (default: the suite's "
        "compare block; off)",
    )
    p.add_argument(
        "--aggregate-threshold",
        default=None,
        metavar="DELTA",
        help="fail the aggregate when worse by more than this, in normalized-score units "
        "(default 0.05; turns --aggregate on)",
    )
    p.add_argument(
        "--aggregate-metric",
        default=None,
        metavar="NAME",
        help="the aggregate: iqm (default), mean, median or optimality_gap (turns --aggregate on)",
    )
    p.add_argument("--json", type=Path, default=None, help="verdict file (NEW/compare.json)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="warn instead of failing when NEW lacks results BASE has",
    )
    p.add_argument("--all", action="store_true", help="show every row of the table")
    return p


def load_side(path: Path, side: str) -> pd.DataFrame:
    """The tidy table at ``path`` (run directory or Parquet file); :class:`CompareError`
    (one line) where there is none. ``side`` (BASE / NEW) opens the message."""
    try:
        table = load_results(path)
    except ResultsError as exc:
        raise CompareError(f"{side}: {exc}") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise CompareError(
            f"{side}: cannot read results at {path}: {first[0] if first else type(exc).__name__}"
        ) from None
    if table.empty:
        raise CompareError(f"{side}: no results at {path}")
    return table


def default_json_path(new: Path) -> Path:
    """``NEW/compare.json``, or next to NEW where NEW is a Parquet file."""
    new = Path(new)
    return new / JSON_NAME if new.is_dir() else new.parent / JSON_NAME


def write_verdict(path: Path, verdict: dict) -> None:
    """Write the JSON ``verdict`` to ``path`` atomically; :class:`CompareError` (one line,
    exit 2) where it cannot be written."""
    try:
        atomic_write_text(path, json.dumps(verdict, indent=2) + "\n")
    except OSError as exc:
        raise CompareError(
            f"--json: cannot write the verdict to {path}: {exc.strerror or exc}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Execute ``pgbench compare`` for parsed ``args``; returns the exit code (0 pass,
    1 regression, missing or --strict underpowered, per row or in the aggregate). Bad
    input, including a verdict file that cannot be written, raises :class:`CompareError`
    (exit 2). The settings are NEW's recorded ``compare:`` block
    (:func:`~pgbench.compare.settings.recorded_spec`; none where NEW is a Parquet file)
    overridden by the flags; the aggregate's score ranges are BASE's recorded ones
    (:func:`~pgbench.compare.aggregate.run_settings`)."""
    base = load_side(args.base, "BASE")
    new = load_side(args.new, "NEW")
    spec, note = recorded_spec(args.new) if Path(args.new).is_dir() else (None, None)
    settings = resolve_settings(
        spec,
        args.threshold,
        args.alpha,
        args.metrics,
        args.allow_missing,
        pair_by=getattr(args, "pair_by", None),
        paired=getattr(args, "paired", False),
        strict=getattr(args, "strict", False),
        aggregate=getattr(args, "aggregate", None),
        aggregate_threshold=getattr(args, "aggregate_threshold", None),
        aggregate_metric=getattr(args, "aggregate_metric", None),
    )
    comparison = compare(base, new, settings)
    if note:
        comparison = replace(comparison, warnings=[note, *comparison.warnings])
    if settings.aggregate is not None:
        check = aggregate_check(
            base,
            new,
            settings.aggregate,
            run_settings(args.base),
            run_settings(args.new),
            confidence=1.0 - settings.alpha,
        )
        comparison = comparison.with_aggregate(check)
    path = args.json or default_json_path(args.new)
    write_verdict(path, comparison.verdict(str(args.base), str(args.new)))

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)
    report(comparison, out, Console(stderr=True, highlight=False), args.all)
    out.print(f"verdict: {path}", soft_wrap=True)
    return comparison.exit_code
