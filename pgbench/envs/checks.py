"""Validation shared by environment constructors (one-line errors)."""

from __future__ import annotations

import math

from pgbench.errors import InvalidSpecError


def check_gamma(gamma) -> float:
    g = float(gamma)
    if not (0.0 < g <= 1.0) or math.isnan(g):
        raise InvalidSpecError(f"gamma must be in (0, 1], got {gamma!r}")
    return g


def check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InvalidSpecError(f"horizon must be a positive integer, got {horizon!r}")
    return horizon
