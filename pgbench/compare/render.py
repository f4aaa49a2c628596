"""The comparison on the terminal: a rich table of the rows (:func:`table`), one line per
failure (:func:`failure_lines`), the aggregate verdict across tasks where asked for
(:func:`aggregate_table`, :func:`aggregate_lines`), the summary line
(:func:`summary_line`), and :func:`report`, which prints them and the warnings."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from pgbench.compare.aggregate import LOWER_IS_BETTER, METRIC_NAMES, AggregateCheck
from pgbench.compare.text import is_count, mdc_text, num, pct, x_text
from pgbench.compare.verdict import Comparison

SHOW_ALL_UP_TO = 60  # table rows; beyond, rows with status ok are hidden unless --all
_STYLE = {
    "regression": "bold red",
    "missing": "red",
    "underpowered": "yellow",
    "worse": "yellow",
    "changed": "cyan",
    "improved": "green",
    "new": "cyan",
    "no-data": "dim",
    "ok": "dim",
}


def table(comparison: Comparison, show_all: bool = False) -> tuple[Table, int]:
    """A :class:`rich.table.Table` of the comparison's rows (rows with status ok hidden when
    there are more than :data:`SHOW_ALL_UP_TO` unless ``show_all``); (table, hidden)."""
    rows = comparison.rows
    hidden = 0
    if not show_all and len(rows) > SHOW_ALL_UP_TO:
        keep = rows["status"] != "ok"
        hidden = int((~keep).sum())
        rows = rows[keep]
    paired = comparison.settings.paired
    level = 1.0 - comparison.settings.alpha
    out = Table()
    out.add_column("env / policy / theta", overflow="fold")
    out.add_column("method", overflow="fold")
    out.add_column("x", justify="right", no_wrap=True)
    out.add_column("metric", no_wrap=True)
    tests = ("p Wilcoxon",) if paired else ("p Welch", "p MW")
    for head in ("pairs" if paired else "n", "base", "new", "change", f"{level:.0%} CI", *tests):
        out.add_column(head, justify="right", no_wrap=True)
    out.add_column("MDC", justify="right", no_wrap=True)
    out.add_column("seeds?", justify="right", no_wrap=True)
    out.add_column("status", no_wrap=True)
    for r in rows.to_dict("records"):
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"]) if p)
        arrow = "v" if r["direction"] == "lower" else "^"
        p_values = (r["p_wilcoxon"],) if paired else (r["p_welch"], r["p_mannwhitney"])
        weak = r["underpowered"] is True
        out.add_row(
            where,
            r["method"],
            x_text(r["x_name"], r["x"]),
            f"{r['metric']} {arrow}",
            f"{r['n_base']}" if paired else f"{r['n_base']}/{r['n_new']}",
            num(r["base_mean"]),
            num(r["new_mean"]),
            pct(r["change"]),
            f"[{pct(r['change_lo'])}, {pct(r['change_hi'])}]"
            if math.isfinite(r["change_lo"]) or math.isfinite(r["change_hi"])
            else "-",
            *(num(p) for p in p_values),
            f"[yellow]{mdc_text(r['mdc'])}[/]" if weak else mdc_text(r["mdc"]),
            f"{int(r['seeds_suggested'])}" if weak and is_count(r["seeds_suggested"]) else "",
            f"[{_STYLE[r['status']]}]{r['status']}[/]",
        )
    return out, hidden


def aggregate_table(check: AggregateCheck) -> Table:
    """A :class:`rich.table.Table` of the aggregate verdict, one row per algorithm."""
    name = METRIC_NAMES[check.spec.metric]
    out = Table()
    out.add_column("algorithm", overflow="fold")
    for head in ("tasks", "runs", f"base {name}", f"new {name}", "difference"):
        out.add_column(head, justify="right", no_wrap=True)
    out.add_column(f"{check.confidence:.0%} CI", justify="right", no_wrap=True)
    out.add_column("status", no_wrap=True)
    for r in check.rows:
        out.add_row(
            r.algorithm,
            f"{r.n_tasks}",
            f"{r.n_runs_base}/{r.n_runs_new}",
            f"{r.base:.3f}",
            f"{r.new:.3f}",
            f"{r.difference:+.3f}",
            _interval(r.low, r.high),
            f"[{_STYLE[r.status]}]{r.status}[/]",
        )
    return out


def aggregate_lines(check: AggregateCheck, strict: bool = False) -> tuple[str, list[str]]:
    """(the heading of the aggregate section, the lines after its table: what was left
    out, then one line per failing algorithm)."""
    s = check.spec
    direction = "lower" if s.metric in LOWER_IS_BETTER else "higher"
    heading = (
        f"aggregate across tasks: {METRIC_NAMES[s.metric]} of normalized final scores "
        f"({direction} is better) on {', '.join(check.tasks) or 'no tasks'} (BASE's score "
        f"ranges); fails where worse by more than {s.threshold:g} with the "
        f"{check.confidence:.0%} interval of new - base excluding 0"
    )
    lines = [f"not in the aggregate: {note}" for note in check.notes]
    for r in check.failures(strict):
        lines.append(
            f"{r.status}: aggregate {METRIC_NAMES[r.metric]} of {r.algorithm} over "
            f"{', '.join(check.tasks)}: {r.base:.3f} -> {r.new:.3f} ({r.difference:+.3f}, "
            f"{check.confidence:.0%} CI {_interval(r.low, r.high)})"
        )
    return heading, lines


def _interval(low: float, high: float) -> str:
    return "-" if math.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"


def summary_line(comparison: Comparison) -> str:
    """``PASS`` / ``FAIL`` with the counts and the settings, one line."""
    s = comparison.settings
    counts = ", ".join(f"{n} {status}" for status, n in comparison.counts().items())
    per_metric = "".join(f", {m} {t:g}" for m, t in s.thresholds.items())
    verdict = "FAIL" if comparison.exit_code else "PASS"
    tests = "paired Wilcoxon signed-rank" if s.paired else "both Welch and Mann-Whitney"
    weak = int(comparison.rows["underpowered"].sum())
    extra = f"; {weak} underpowered" + (" (--strict: failed)" if s.strict else "") if weak else ""
    by = ", paired by label" if s.pair_by == "label" else ""
    check = comparison.aggregate
    across = ""
    if check is not None and check.unavailable is None:
        shown = ", ".join(f"{n} {status}" for status, n in check.counts().items()) or "none"
        across = f"; aggregate {METRIC_NAMES[check.spec.metric]}: {shown}"
    return (
        f"{verdict}: {len(comparison.rows)} comparisons ({counts}){extra}{across}; threshold "
        f"{s.threshold:g}{per_metric}, alpha {s.alpha:g}, {tests}{by}"
    )


def failure_lines(failures: pd.DataFrame) -> list[str]:
    """One line per (failure, env / policy / theta / method, x_name) of the failing rows
    (:attr:`Comparison.failures`), naming the metrics and x values, e.g. ``regression:
    garnet / ... / reinforce: mse at batch_size 16, 64``."""
    lines = []
    failures = failures if "failure" in failures else failures.assign(failure=failures["status"])
    keys = ["failure", "env", "policy", "theta", "method", "x_name"]
    for key, part in failures.groupby(keys, sort=False):
        r = dict(zip(keys, key, strict=True))
        where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
        metrics = ", ".join(dict.fromkeys(part["metric"]))
        xs = ", ".join(dict.fromkeys(x_text(r["x_name"], x) for x in part["x"]))
        lines.append(f"{r['failure']}: {where}: {metrics} at {r['x_name']} {xs}")
    return lines


def report(comparison: Comparison, out, err, show_all: bool = False) -> None:
    """Print the table and summary to the rich console ``out``, warnings to ``err``."""
    tab, hidden = table(comparison, show_all)
    out.print(tab)
    if hidden:
        out.print(f"{hidden} comparisons with status ok not shown (--all shows them)")
    for line in failure_lines(comparison.failures):
        out.print(line, soft_wrap=True, markup=False)
    check = comparison.aggregate
    if check is not None and check.unavailable is None:
        heading, lines = aggregate_lines(check, comparison.settings.strict)
        out.print(heading, soft_wrap=True, markup=False)
        if check.rows:
            out.print(aggregate_table(check))
        for line in lines:
            out.print(line, soft_wrap=True, markup=False)
    for line in comparison.warnings:
        err.print(f"pgbench: warning: {line}", soft_wrap=True, markup=False, highlight=False)
    style = "bold red" if comparison.exit_code else "bold green"
    out.print(f"[{style}]{summary_line(comparison)}[/]", soft_wrap=True)
