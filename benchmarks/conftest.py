"""Prints steps/s of each benchmark and its ratio to the Gymnasium reference."""

from __future__ import annotations

from benchmarks._throughput import REFERENCE, THROUGHPUT


def pytest_terminal_summary(terminalreporter):
    if not THROUGHPUT:
        return
    tr = terminalreporter
    tr.section("pgbench throughput (env steps per second, best round)")
    ref = THROUGHPUT.get(REFERENCE)
    for name, sps in sorted(THROUGHPUT.items(), key=lambda kv: -kv[1]):
        ratio = f"{sps / ref:7.1f}x {REFERENCE}" if ref else ""
        tr.write_line(f"{name:40s} {sps / 1e6:9.1f} M steps/s  {ratio}")
