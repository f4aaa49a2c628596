"""How the values of a comparison row read, in the table (:mod:`pgbench.compare.render`)
and in the warnings (:mod:`pgbench.compare.verdict`)."""

from __future__ import annotations

import math

from pgbench.compare.pairing import FINAL


def x_text(x_name: str, x: int) -> str:
    """The x of a row: its value, or ``final`` for a final-point comparison."""
    return "final" if x == FINAL else f"{x}"


def num(v: float) -> str:
    """A value to 4 significant digits; ``-`` where undefined or infinite."""
    return "-" if v is None or not math.isfinite(v) else f"{v:.4g}"


def pct(v: float) -> str:
    """A relative change as ``+12.3%`` (``+inf``, ``-inf``; ``-`` where undefined)."""
    if v is None or math.isnan(v):
        return "-"
    return f"{'+' if v > 0 else '-'}inf" if math.isinf(v) else f"{v:+.1%}"


def mdc_text(v: float) -> str:
    """A relative MDC as ``+-12%`` (``+-inf``, ``-`` where undefined)."""
    if v is None or math.isnan(v):
        return "-"
    return "+-inf" if math.isinf(v) else f"+-{v:.0%}" if v >= 0.1 else f"+-{v:.1%}"


def is_count(n) -> bool:
    """Whether ``n`` (a suggested seed count: int, None or NaN) is a count."""
    return n is not None and not (isinstance(n, float) and math.isnan(n))


def describe(r: dict) -> str:
    """Where the row ``r`` is: env / policy / theta / method, metric and x."""
    where = " / ".join(p for p in (r["env"], r["policy"], r["theta"], r["method"]) if p)
    return f"{where} {r['metric']} at {r['x_name']} {x_text(r['x_name'], r['x'])}"


def describe_power(r: dict, paired: bool) -> str:
    """:func:`describe` with the MDC and the suggested seed count."""
    n = r["seeds_suggested"]
    unit = "pairs" if paired else "seeds per side"
    need = f"needs {int(n)} {unit}" if is_count(n) else "no seed count suffices"
    return f"{describe(r)} (MDC {mdc_text(r['mdc'])}, {need})"
