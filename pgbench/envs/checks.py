"""Validation shared by environment constructors (one-line errors)."""

from __future__ import annotations

import math

from pgbench.errors import InvalidSpecError

# The transition table P (S, A, S) float64 of a named tabular MDP (building it takes a few
# times that: the random draws, their argsort and the sampling table have its shape too).
MAX_TABLE_BYTES = 2 * 1024**3


class SizeError(InvalidSpecError):
    """A parameter that makes an array too large to build; ``param`` names it (for the
    suite loader, which points at that key)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units, e.g. ``240 GB``."""
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    k = 0
    while n >= 1000 and k < len(units) - 1:
        n, k = n / 1000, k + 1
    return f"{n:.3g} {units[k]}"


def check_table_size(env: str, param: str, n_states: int, n_actions: int) -> None:
    """Refuse a tabular MDP whose P (S, A, S) float64 is over :data:`MAX_TABLE_BYTES`
    before building it; ``param`` names the parameter that sets S."""
    nbytes = 8 * n_states * n_actions * n_states
    if nbytes > MAX_TABLE_BYTES:
        raise SizeError(
            f"{env} {param} {n_states} with {n_actions} actions needs P (S, A, S) of "
            f"{nbytes:.2g} bytes ({human_bytes(nbytes)}); the bound is "
            f"{MAX_TABLE_BYTES / 1024**3:g} GiB",
            param=param,
        )


def check_gamma(gamma) -> float:
    g = float(gamma)
    if not (0.0 < g <= 1.0) or math.isnan(g):
        raise InvalidSpecError(f"gamma must be in (0, 1], got {gamma!r}")
    return g


def check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InvalidSpecError(f"horizon must be a positive integer, got {horizon!r}")
    return horizon
